"""Routes of users, tokens, projects and roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from biofab.api.auth import Caller, CallerDep
from biofab.api.models import (
    LoginIn,
    MemberOut,
    MeOut,
    NewTokenOut,
    NewUserOut,
    ProjectIn,
    ProjectOut,
    RoleIn,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
)
from biofab.api.ratelimit import retry_after
from biofab.api.service import Service, client_address, service
from biofab.store.accounts import Accounts, Project, TokenInfo, User
from biofab.store.schema import utcnow

router = APIRouter()
ServiceDep = Annotated[Service, Depends(service)]


def _limit(svc: Service, address: str, username: str) -> None:
    """429 with Retry-After when the client address or the user used up its attempts."""
    wait = svc.address_limiter.hit([address]) or svc.user_limiter.hit([username])
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many login or token requests; retry later",
            headers={"Retry-After": retry_after(wait)},
        )


def _user_out(user: User) -> UserOut:
    return UserOut(
        username=user.username,
        site_admin=user.site_admin,
        active=user.active,
        created_at=user.created_at,
    )


def _token_out(info: TokenInfo) -> TokenOut:
    return TokenOut(
        id=info.id,
        prefix=info.prefix,
        label=info.label,
        created_at=info.created_at,
        expires_at=info.expires_at,
        revoked_at=info.revoked_at,
    )


def _project_out(project: Project, caller: Caller) -> ProjectOut:
    return ProjectOut(
        name=project.name,
        description=project.description,
        created_at=project.created_at,
        created_by=project.created_by,
        role=caller.role_in(project.id),
    )


@router.post("/login", response_model=NewTokenOut, tags=["auth"])
def login(body: LoginIn, request: Request, svc: ServiceDep) -> NewTokenOut:
    """Trade a user name and password for a token (expires after the login lifetime)."""
    origin = client_address(request)
    _limit(svc, origin, body.username)
    user = svc.accounts.check_login(body.username, body.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password", headers={})
    expires = utcnow() + timedelta(seconds=svc.settings.login_token_ttl_s)
    accounts = Accounts(svc.store.acting_as(user.username, origin))
    secret, info = accounts.issue_token(user.id, label="login", expires_at=expires)
    return NewTokenOut(token=secret, info=_token_out(info))


@router.get("/me", response_model=MeOut, tags=["auth"])
def me(caller: CallerDep) -> MeOut:
    names = {p.id: p.name for p in caller.accounts.projects()}
    return MeOut(
        user=_user_out(caller.user),
        roles={names[p]: r for p, r in caller.roles.items() if p in names},
    )


@router.post("/tokens", response_model=NewTokenOut, status_code=201, tags=["auth"])
def create_token(body: TokenIn, caller: CallerDep, svc: ServiceDep) -> NewTokenOut:
    """A new token for yourself; its secret is in this answer only."""
    _limit(svc, caller.origin, caller.user.username)
    expires = None if body.expires_in_s is None else utcnow() + timedelta(seconds=body.expires_in_s)
    secret, info = caller.accounts.issue_token(caller.user.id, label=body.label, expires_at=expires)
    return NewTokenOut(token=secret, info=_token_out(info))


@router.get("/tokens", response_model=list[TokenOut], tags=["auth"])
def list_tokens(caller: CallerDep) -> list[TokenOut]:
    """Your tokens (prefixes only: secrets are never stored)."""
    return [_token_out(t) for t in caller.accounts.tokens(caller.user.id)]


@router.delete("/tokens/{token_id}", response_model=TokenOut, tags=["auth"])
def revoke_token(token_id: int, caller: CallerDep) -> TokenOut:
    """Revoke one of your tokens; it stops working at once."""
    return _token_out(caller.accounts.revoke_token(caller.user.id, token_id))


@router.post("/users", response_model=NewUserOut, status_code=201, tags=["auth"])
def create_user(body: UserIn, caller: CallerDep) -> NewUserOut:
    """A new user (site admins only), optionally with a first token."""
    caller.require_site_admin("creating users")
    user = caller.accounts.create_user(
        body.username, password=body.password, site_admin=body.site_admin
    )
    token = None
    if body.with_token:
        token, _ = caller.accounts.issue_token(user.id, label="first token")
    return NewUserOut(user=_user_out(user), token=token)


@router.get("/projects", response_model=list[ProjectOut], tags=["projects"])
def list_projects(caller: CallerDep) -> list[ProjectOut]:
    """Projects you are a member of (every project for a site admin)."""
    return [
        _project_out(p, caller)
        for p in caller.accounts.projects()
        if caller.role_in(p.id) is not None
    ]


@router.post("/projects", response_model=ProjectOut, status_code=201, tags=["projects"])
def create_project(body: ProjectIn, caller: CallerDep) -> ProjectOut:
    """A new project (site admins only)."""
    caller.require_site_admin("creating projects")
    project = caller.accounts.create_project(body.name, description=body.description)
    return _project_out(project, caller)


@router.get("/projects/{project}/members", response_model=list[MemberOut], tags=["projects"])
def list_members(project: str, caller: CallerDep) -> list[MemberOut]:
    project_id = caller.project(project)
    return [
        MemberOut(username=m.username, role=m.role) for m in caller.accounts.members(project_id)
    ]


@router.put("/projects/{project}/members/{username}", response_model=MemberOut, tags=["projects"])
def set_member(project: str, username: str, body: RoleIn, caller: CallerDep) -> MemberOut:
    """Add a user to the project or change their role (project admins)."""
    project_id = caller.project(project, "admin")
    member = caller.accounts.set_role(project_id, username, body.role)
    return MemberOut(username=member.username, role=member.role)
