"""Who is calling: every request but the login is authorised by :func:`caller`.

A caller sees a project's campaigns when they hold a role there (site admins see
every project, and the local campaigns made with the CLI, which belong to none).
What a caller may not see answers 404, like something that does not exist, so
names never leak; what they see but may not change answers 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from biofab.api.service import Service, client_address, service
from biofab.core.errors import UnknownCampaignError
from biofab.store import CampaignRecord, Store
from biofab.store.accounts import Accounts, Role, UnknownAccountError, User, role_rank

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer bfk_…`")


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the user, their roles, and the store acting as them."""

    user: User
    roles: dict[int, Role]
    store: Store
    origin: str

    @property
    def accounts(self) -> Accounts:
        return Accounts(self.store)

    def role_in(self, project_id: int | None) -> Role | None:
        """The caller's role in a project (site admins: admin everywhere, local campaigns too)."""
        if self.user.site_admin:
            return "admin"
        return None if project_id is None else self.roles.get(project_id)

    def may(self, project_id: int | None, role: Role) -> bool:
        have = self.role_in(project_id)
        return have is not None and role_rank(have) >= role_rank(role)

    def visible_projects(self) -> list[int] | None:
        """Project ids whose campaigns the caller sees; None means every campaign."""
        return None if self.user.site_admin else sorted(self.roles)

    def campaign(self, name: str, role: Role = "viewer") -> CampaignRecord:
        """The campaign ``name`` if the caller sees it (else 404) and holds ``role`` (else 403)."""
        record = self.store.get_campaign(name)
        if self.role_in(record.project_id) is None:
            raise UnknownCampaignError(name)
        self.require(record.project_id, role, f"campaign '{name}'")
        return record

    def require(self, project_id: int | None, role: Role, what: str) -> None:
        if not self.may(project_id, role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{self.user.username} is {self.role_in(project_id) or 'not a member'} "
                f"of the project of {what}; this needs the {role} role",
            )

    def require_site_admin(self, action: str) -> None:
        if not self.user.site_admin:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{action} needs a site admin")

    def project(self, name: str, role: Role = "viewer") -> int:
        """The id of project ``name`` if the caller sees it (else 404) with ``role`` (else 403)."""
        project = self.accounts.project(name)
        if self.role_in(project.id) is None:
            raise UnknownAccountError(f"unknown project '{name}'")
        self.require(project.id, role, f"project '{name}'")
        return project.id


_UNAUTHORISED = {"WWW-Authenticate": "Bearer"}


def caller(
    request: Request,
    svc: Annotated[Service, Depends(service)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The one authorisation dependency: a valid, unexpired, unrevoked Bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers=_UNAUTHORISED
        )
    found = svc.identities.identify(credentials.credentials, svc.accounts.identify)
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid, expired or revoked token",
            headers=_UNAUTHORISED,
        )
    store = svc.store.acting_as(found.user.username, client_address(request))
    return Caller(found.user, found.roles, store, client_address(request))


CallerDep = Annotated[Caller, Depends(caller)]
