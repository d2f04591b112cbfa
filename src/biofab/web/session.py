"""Who is looking at the dashboard: a session cookie holding an API token, and CSRF.

The cookie is HttpOnly (scripts never read the token) and SameSite=Strict (no other
site's page sends it). Every form post also carries a CSRF value derived from the
token with a keyed hash, so a page that cannot read the cookie cannot forge a post.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from biofab.api.auth import Caller, caller
from biofab.api.service import app_service

COOKIE = "biofab_session"
FLASH = "biofab_flash"
PATH = "/ui"


class LoginRequired(Exception):
    """No valid session: the dashboard answers with the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def csrf_value(token: str) -> str:
    """The CSRF value of a session (a keyed hash of its token; no server state)."""
    return hmac.new(b"biofab-dashboard-csrf", token.encode(), hashlib.sha256).hexdigest()


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def current(request: Request) -> Caller:
    """The signed-in caller, as the API would see them with the same token."""
    token = session_token(request)
    if token is None:
        raise LoginRequired(str(request.url.path))
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    try:
        return caller(request, app_service(request), credentials)
    except HTTPException as err:
        if err.status_code == status.HTTP_401_UNAUTHORIZED:
            raise LoginRequired(str(request.url.path)) from None
        raise


def check_csrf(request: Request, sent: str | None) -> None:
    """403 unless the form's CSRF value matches the session's."""
    token = session_token(request)
    if token is None or not sent or not hmac.compare_digest(sent, csrf_value(token)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "form refused: missing or wrong CSRF value; reload the page"
        )
