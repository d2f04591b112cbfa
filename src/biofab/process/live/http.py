"""HTTP source: readings POSTed as JSON (or sent over a WebSocket) to a small ASGI app.

Routes (under the router's prefix, ``/live`` by default):

* ``POST /readings`` — body ``{"readings": [{"time_h": 1.25, "variable": "OUR",
  "value": 12.3, "unit": "mmol/L/h", "source": "pump-7"}, ...]}``. The whole batch is
  checked at the edge (JSON, types, the reading validator: known variable, unit, range;
  times of one variable strictly increasing within the batch) and then queued for the
  twin (``202``, ``{"queued": n}``) or refused whole with ``400`` (not JSON) or ``422``
  and ``{"detail": "<one line>"}``: nothing of a refused batch is queued or stored.
  Ordering across batches follows :mod:`biofab.process.live.ordering` (late readings are
  stored as late).
* ``WS /readings/ws`` — each text message is one such body (or one reading); each is
  answered ``{"queued": n}`` or ``{"error": "<one line>"}``; a bad message does not close
  the socket.
* ``POST /end`` — the run is over: the source ends after what is queued.
* ``GET /health`` — ``{"status": "ok", "queued": n}``.

:func:`live_router` returns the router alone (the shared service mounts it);
:func:`live_app` wraps it in a FastAPI app; :class:`HttpSource` serves that app with
uvicorn on localhost and yields the queued readings to the live loop. (Importing this
module imports FastAPI; :mod:`biofab.process.live` imports it only for an HTTP source.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request, WebSocket  # resolved from module globals by FastAPI
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from biofab.core.errors import InputError
from biofab.process.live.readings import Reading, ReadingError, ReadingValidator

__all__ = ["HttpSource", "ReadingIn", "ReadingsIn", "check_batch", "live_app", "live_router"]

MAX_BATCH = 10_000


class ReadingIn(BaseModel):
    """One reading: time (h from inoculation), variable, value, unit, source."""

    model_config = ConfigDict(extra="forbid")
    time_h: float = Field(allow_inf_nan=False, ge=0, description="hours from inoculation")
    variable: str = Field(min_length=1, max_length=200)
    value: float = Field(allow_inf_nan=False)
    unit: str = Field(min_length=1, max_length=100)
    source: str | None = Field(default=None, max_length=500)


class ReadingsIn(BaseModel):
    """A batch of readings, all or none accepted."""

    model_config = ConfigDict(extra="forbid")
    readings: list[ReadingIn] = Field(min_length=1, max_length=MAX_BATCH)


def _pydantic_line(err: Any) -> str:
    """The first error of a Pydantic ValidationError as one line."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    found = first.get("input")
    shown = json.dumps(found)[:80] if not isinstance(found, dict | list) else type(found).__name__
    return f"field '{where}': {first.get('msg', 'invalid')}; found {shown}"


def check_batch(
    body: Any, validator: ReadingValidator, default_source: str = "http"
) -> list[Reading]:
    """A parsed JSON body as readings, or :class:`InputError` (one line).

    Accepts ``{"readings": [...]}`` or a single reading object.
    """
    if isinstance(body, dict) and "readings" not in body:
        body = {"readings": [body]}
    try:
        batch = ReadingsIn.model_validate(body)
    except ValidationError as err:
        raise InputError(f"bad readings: {_pydantic_line(err)}") from None
    readings = [
        Reading(r.time_h, r.variable, r.value, r.unit, r.source or default_source)
        for r in batch.readings
    ]
    last: dict[str, float] = {}
    for i, reading in enumerate(readings):
        try:
            checked = validator.check(reading)
        except ReadingError as err:
            raise InputError(f"readings[{i}]: {err}") from None
        previous = last.get(checked.variable)
        if previous is not None and checked.time_h <= previous:
            raise InputError(
                f"readings[{i}]: {reading.label()}: time does not increase within the batch",
                column="time_h",
                expected=f"> {previous:g} h (the batch's previous {checked.variable})",
                found=reading.time_h,
            )
        last[checked.variable] = checked.time_h
    return readings


def live_router(
    submit: Callable[[list[Reading]], None],
    validator: ReadingValidator,
    end: Callable[[], None] | None = None,
    queued: Callable[[], int] | None = None,
    prefix: str = "/live",
) -> Any:
    """The routes (module docstring); ``submit`` receives each accepted batch."""
    from fastapi import APIRouter, WebSocketDisconnect
    from fastapi.responses import JSONResponse

    router = APIRouter(prefix=prefix, tags=["live readings"])
    schema = ReadingsIn.model_json_schema()

    def _refuse(status: int, line: str) -> JSONResponse:
        return JSONResponse({"detail": line}, status_code=status)

    @router.post(
        "/readings",
        status_code=202,
        openapi_extra={
            "requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}
        },
    )
    async def post_readings(request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            return _refuse(400, f"body is not JSON: {err}".splitlines()[0])
        try:
            readings = check_batch(body, validator)
        except InputError as err:
            return _refuse(422, str(err))
        submit(readings)
        return JSONResponse({"queued": len(readings)}, status_code=202)

    @router.websocket("/readings/ws")
    async def readings_socket(socket: WebSocket) -> None:
        await socket.accept()
        try:
            while True:
                text = await socket.receive_text()
                try:
                    readings = check_batch(json.loads(text), validator, "websocket")
                except json.JSONDecodeError as err:
                    await socket.send_json({"error": f"message is not JSON: {err}"})
                    continue
                except InputError as err:
                    await socket.send_json({"error": str(err)})
                    continue
                submit(readings)
                await socket.send_json({"queued": len(readings)})
        except WebSocketDisconnect:
            return

    @router.post("/end")
    async def end_run() -> Any:
        if end is not None:
            end()
        return {"ended": True}

    @router.get("/health")
    async def health() -> Any:
        return {"status": "ok", "queued": queued() if queued is not None else 0}

    return router


def live_app(
    submit: Callable[[list[Reading]], None],
    validator: ReadingValidator,
    end: Callable[[], None] | None = None,
    queued: Callable[[], int] | None = None,
) -> Any:
    """A FastAPI app serving :func:`live_router` under ``/live``."""
    from fastapi import FastAPI

    app = FastAPI(
        title="biofab live readings", docs_url="/live/docs", openapi_url="/live/openapi.json"
    )
    app.include_router(live_router(submit, validator, end, queued))
    return app


class HttpSource:
    """Serve :func:`live_app` with uvicorn on ``host:port`` and yield what it receives.

    ``validator``: the twin's reading validator (the edge check); ``port=0`` picks a free
    port (read :attr:`port` once :attr:`started` is set). The stream ends after ``POST
    /live/end`` or :meth:`stop`, once the queue is empty.
    """

    def __init__(
        self,
        validator: ReadingValidator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        model: str = "ecoli",
    ) -> None:
        if not 0 <= int(port) < 65536:
            raise InputError("bad port", expected="0..65535", found=port)
        self.validator = validator or ReadingValidator(model)
        self.host = host
        self.port = int(port)
        self.name = f"http://{host}:{port}/live"
        self.started: asyncio.Event | None = None
        self._queue: asyncio.Queue[Reading] | None = None
        self._ended = False

    def stop(self) -> None:
        self._ended = True

    def _submit(self, readings: list[Reading]) -> None:
        assert self._queue is not None
        for reading in readings:
            self._queue.put_nowait(reading)

    def _queued(self) -> int:
        return 0 if self._queue is None else self._queue.qsize()

    async def __aiter__(self) -> AsyncIterator[Reading]:
        import uvicorn

        self._queue = asyncio.Queue()
        self.started = self.started or asyncio.Event()
        app = live_app(self._submit, self.validator, self.stop, self._queued)
        config = uvicorn.Config(
            app, host=self.host, port=self.port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)

        async def serve() -> None:
            # uvicorn calls sys.exit(1) when it cannot bind; a SystemExit in a task escapes
            # the event loop (an 80-line traceback), so end the task instead and let the
            # check below say it in one line
            with contextlib.suppress(SystemExit):
                await server.serve()

        serving = asyncio.create_task(serve())
        try:
            while not server.started:
                if serving.done():
                    # uvicorn exits (SystemExit) when it cannot bind: one line instead
                    problem = serving.exception() if not serving.cancelled() else None
                    raise InputError(
                        f"cannot listen on {self.host}:{self.port} (in use, or not an "
                        "address of this machine)",
                        expected="a free port on a local address",
                        found=type(problem).__name__ if problem else None,
                    )
                await asyncio.sleep(0.01)
            sockets = [s for srv in server.servers for s in srv.sockets]
            if sockets:
                self.port = int(sockets[0].getsockname()[1])
                self.name = f"http://{self.host}:{self.port}/live"
            self.started.set()
            while not (self._ended and self._queue.empty()):
                try:
                    yield await asyncio.wait_for(self._queue.get(), timeout=0.1)
                except TimeoutError:
                    continue
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(serving, timeout=5)
