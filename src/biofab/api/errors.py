"""biofab's errors as HTTP answers, mapped once: the body is ``{"detail": "<one line>"}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from biofab.core.errors import (
    BiofabError,
    CampaignExistsError,
    InputError,
    NotEnoughDataError,
    StaleVersionError,
    UnknownCampaignError,
)
from biofab.store.accounts import AccountExistsError, UnknownAccountError
from biofab.store.jobs import UnknownJobError

# Most specific first: the first class an error is an instance of decides.
STATUS: tuple[tuple[type[BiofabError], int], ...] = (
    (UnknownCampaignError, 404),
    (UnknownAccountError, 404),
    (UnknownJobError, 404),
    (CampaignExistsError, 409),
    (AccountExistsError, 409),
    (NotEnoughDataError, 409),
    (StaleVersionError, 412),
    (InputError, 422),
    (BiofabError, 400),
)


def status_of(err: BiofabError) -> int:
    return next(code for cls, code in STATUS if isinstance(err, cls))


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def install(app: FastAPI) -> None:
    @app.exception_handler(BiofabError)
    async def _biofab(_request: Request, err: BiofabError) -> JSONResponse:
        return JSONResponse({"detail": one_line(str(err))}, status_code=status_of(err))
