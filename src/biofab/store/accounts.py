"""Users, API tokens, projects and roles of the shared service, kept in the store.

Secrets never reach the database in clear:

- an API token is ``bfk_`` + 32 random bytes (URL-safe base64); the store keeps
  its SHA-256 and its first :data:`PREFIX_LENGTH` characters (the lookup prefix,
  also how a person recognises a token in a list);
- a password is kept as an scrypt record (RFC 7914; stdlib ``hashlib.scrypt``,
  n=2**14, r=8, p=1, 16-byte salt), compared in constant time.

Every write is one transaction with its audit-log row, like the rest of the store.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from biofab.core.errors import BiofabError, InputError
from biofab.store.schema import ApiTokenRow, MembershipRow, ProjectRow, UserRow, utcnow
from biofab.store.store import Store

Role = Literal["viewer", "editor", "admin"]
#: Roles in a project, weakest first: each can do what the ones before it can.
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")

TOKEN_TAG = "bfk_"
TOKEN_BYTES = 32
PREFIX_LENGTH = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class AccountExistsError(BiofabError):
    """A user or project name that is already taken."""


class UnknownAccountError(BiofabError):
    """A user, project or token that does not exist (or that the caller may not see)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    site_admin: bool
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class Identity:
    """Who a valid token belongs to: the user, their role per project id, and when
    the token expires (None: never)."""

    user: User
    roles: dict[int, Role]
    expires_at: datetime | None


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: int
    prefix: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    description: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class Member:
    username: str
    role: Role


def role_rank(role: str) -> int:
    """0 for viewer, 1 for editor, 2 for admin; -1 for anything else."""
    return ROLES.index(role) if role in ROLES else -1


def hash_password(password: str) -> str:
    """An scrypt record ``scrypt$n$r$p$salt$hash`` (hex) of ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, record: str | None) -> bool:
    """Whether ``password`` matches the scrypt ``record`` (False for no record)."""
    if not record:
        return False
    try:
        tag, n, r, p, salt, digest = record.split("$")
        if tag != "scrypt":
            return False
        found = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(found.hex(), digest)


def _token_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_name(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise InputError(
            f"bad {what}",
            expected="1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
            found=value,
        )
    return value


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise InputError("unknown role", expected=", ".join(ROLES), found=role)
    return role


class Accounts:
    """The service's accounts in ``store`` (its writes audited as ``store.who``
    from ``store.origin``; use :meth:`Store.acting_as` per request)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction of the store; counted once it has committed, so a cache
        of identities never keeps what a concurrent write just changed."""
        with self.store._write() as s:
            yield s
        self.store.account_writes.bump()

    # -- users

    def count_users(self) -> int:
        with self.store._read() as s:
            return int(s.scalar(select(func.count()).select_from(UserRow)) or 0)

    def create_user(
        self, username: str, *, password: str | None = None, site_admin: bool = False
    ) -> User:
        """A new active user; ``AccountExistsError`` if the name is taken."""
        _check_name(username, _USERNAME, "user name")
        if password is not None and len(password) < 8:
            raise InputError("password too short", expected="at least 8 characters")
        record = None if password is None else hash_password(password)
        try:
            with self._write() as s:
                if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                    raise AccountExistsError(f"user '{username}' already exists")
                row = UserRow(
                    username=username,
                    password_hash=record,
                    site_admin=site_admin,
                    active=True,
                    created_at=utcnow(),
                )
                s.add(row)
                s.flush()
                self.store._audit(
                    s,
                    self.store.who,
                    "create_user",
                    None,
                    {"username": username, "site_admin": site_admin},
                )
                return _user(row)
        except IntegrityError as err:
            raise AccountExistsError(f"user '{username}' already exists") from err

    def first_admin(self, username: str = "admin") -> str | None:
        """On a store without users, create site admin ``username`` and return its
        first token's secret (to show once); on any other store, None."""
        with self._write() as s:
            # One transaction under the write lock: two servers starting at once
            # cannot both find no users.
            if s.scalar(select(func.count()).select_from(UserRow)):
                return None
            row = UserRow(
                username=username,
                password_hash=None,
                site_admin=True,
                active=True,
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            secret = TOKEN_TAG + secrets.token_urlsafe(TOKEN_BYTES)
            token = ApiTokenRow(
                user_id=row.id,
                prefix=secret[:PREFIX_LENGTH],
                sha256=_token_sha256(secret),
                label="first admin token",
                created_at=utcnow(),
                expires_at=None,
            )
            s.add(token)
            s.flush()
            self.store._audit(
                s,
                self.store.who,
                "create_first_admin",
                None,
                {"username": username, "token_id": token.id, "prefix": token.prefix},
            )
            return secret

    def user(self, username: str) -> User:
        with self.store._read() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                raise UnknownAccountError(f"unknown user '{username}'")
            return _user(row)

    def users(self) -> list[User]:
        with self.store._read() as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.id))]

    def check_login(self, username: str, password: str) -> User | None:
        """The active user with this name and password, else None (same cost either way)."""
        with self.store._read() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            record = row.password_hash if row is not None else None
            # Hash even for an unknown user, so timing does not tell names apart.
            ok = check_password(password, record or _dummy_record()) and record is not None
            if row is None or not ok or not row.active:
                return None
            return _user(row)

    # -- tokens

    def issue_token(
        self, user_id: int, *, label: str = "", expires_at: datetime | None = None
    ) -> tuple[str, TokenInfo]:
        """A new token for the user: ``(secret, info)``. The secret is shown once: only
        its hash is stored."""
        if len(label) > 200:
            raise InputError("token label too long", expected="at most 200 characters")
        if expires_at is not None and expires_at.tzinfo is None:
            raise InputError("token expiry needs a time zone", found=expires_at.isoformat())
        secret = TOKEN_TAG + secrets.token_urlsafe(TOKEN_BYTES)
        with self._write() as s:
            user = s.get(UserRow, user_id)
            if user is None:
                raise UnknownAccountError(f"unknown user id {user_id}")
            row = ApiTokenRow(
                user_id=user_id,
                prefix=secret[:PREFIX_LENGTH],
                sha256=_token_sha256(secret),
                label=label,
                created_at=utcnow(),
                expires_at=expires_at,
            )
            s.add(row)
            s.flush()
            self.store._audit(
                s,
                self.store.who,
                "issue_token",
                None,
                {"user": user.username, "token_id": row.id, "prefix": row.prefix},
            )
            return secret, _token(row)

    def authenticate(self, secret: str) -> User | None:
        """The active user owning ``secret``, if the token exists, is not revoked and
        has not expired; else None."""
        found = self.identify(secret)
        return None if found is None else found.user

    def identify(self, secret: str) -> Identity | None:
        """:meth:`authenticate` and the user's roles, in one read (every API request
        asks both: two plain queries in one session, no ORM objects)."""
        if not secret.startswith(TOKEN_TAG) or len(secret) > 200:
            return None
        digest = _token_sha256(secret)
        now = utcnow()
        with self.store._read() as s:
            rows = s.execute(
                select(
                    ApiTokenRow.sha256,
                    ApiTokenRow.revoked_at,
                    ApiTokenRow.expires_at,
                    UserRow.id,
                    UserRow.username,
                    UserRow.site_admin,
                    UserRow.active,
                    UserRow.created_at,
                )
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .where(ApiTokenRow.prefix == secret[:PREFIX_LENGTH])
            ).all()
            for sha, revoked, expires, uid, name, admin, active, created in rows:
                if not hmac.compare_digest(sha, digest):
                    continue
                if revoked is not None or (expires is not None and expires <= now):
                    return None
                if not active:
                    return None
                roles = s.execute(
                    select(MembershipRow.project_id, MembershipRow.role).where(
                        MembershipRow.user_id == uid
                    )
                ).all()
                user = User(uid, name, bool(admin), bool(active), created)
                return Identity(user, {p: _check_role(r) for p, r in roles}, expires)
        return None

    def tokens(self, user_id: int) -> list[TokenInfo]:
        with self.store._read() as s:
            rows = s.scalars(
                select(ApiTokenRow).where(ApiTokenRow.user_id == user_id).order_by(ApiTokenRow.id)
            )
            return [_token(r) for r in rows]

    def revoke_token(self, user_id: int, token_id: int) -> TokenInfo:
        """Revoke one of the user's tokens (``UnknownAccountError`` for anyone else's)."""
        with self._write() as s:
            row = s.get(ApiTokenRow, token_id)
            if row is None or row.user_id != user_id:
                raise UnknownAccountError(f"unknown token {token_id}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                self.store._audit(
                    s,
                    self.store.who,
                    "revoke_token",
                    None,
                    {"token_id": token_id, "prefix": row.prefix},
                )
            return _token(row)

    # -- projects and roles

    def create_project(self, name: str, *, description: str = "") -> Project:
        _check_name(name, _PROJECT, "project name")
        try:
            with self._write() as s:
                if s.scalar(select(ProjectRow.id).where(ProjectRow.name == name)) is not None:
                    raise AccountExistsError(f"project '{name}' already exists")
                row = ProjectRow(
                    name=name,
                    description=description,
                    created_at=utcnow(),
                    created_by=self.store.who,
                )
                s.add(row)
                s.flush()
                self.store._audit(
                    s, self.store.who, "create_project", None, {"name": name}, project_id=row.id
                )
                return _project(row)
        except IntegrityError as err:
            raise AccountExistsError(f"project '{name}' already exists") from err

    def project(self, name: str) -> Project:
        with self.store._read() as s:
            row = s.scalar(select(ProjectRow).where(ProjectRow.name == name))
            if row is None:
                raise UnknownAccountError(f"unknown project '{name}'")
            return _project(row)

    def project_names(self, ids: Iterable[int]) -> dict[int, str]:
        """id -> name of these projects. Projects are never renamed or deleted, so
        names once read are kept for the store's life (one query per new id)."""
        known = self.store.project_names
        wanted = set(ids) - known.keys()
        if wanted:
            with self.store._read() as s:
                rows = s.execute(
                    select(ProjectRow.id, ProjectRow.name).where(ProjectRow.id.in_(wanted))
                ).all()
            known.update({pid: name for pid, name in rows})
        return {pid: known[pid] for pid in ids if pid in known}

    def projects(self) -> list[Project]:
        with self.store._read() as s:
            return [_project(r) for r in s.scalars(select(ProjectRow).order_by(ProjectRow.id))]

    def roles(self, user_id: int) -> dict[int, Role]:
        """project id -> the user's role there."""
        with self.store._read() as s:
            rows = s.execute(
                select(MembershipRow.project_id, MembershipRow.role).where(
                    MembershipRow.user_id == user_id
                )
            ).all()
        return {p: _check_role(r) for p, r in rows}

    def set_role(self, project_id: int, username: str, role: str) -> Member:
        """Add ``username`` to the project with ``role``, or change their role."""
        role = _check_role(role)
        with self._write() as s:
            user = s.scalar(select(UserRow).where(UserRow.username == username))
            if user is None:
                raise UnknownAccountError(f"unknown user '{username}'")
            row = s.scalar(
                select(MembershipRow).where(
                    MembershipRow.project_id == project_id, MembershipRow.user_id == user.id
                )
            )
            before = None if row is None else row.role
            if row is None:
                s.add(
                    MembershipRow(
                        project_id=project_id, user_id=user.id, role=role, created_at=utcnow()
                    )
                )
            else:
                row.role = role
            self.store._audit(
                s,
                self.store.who,
                "set_role",
                None,
                {"user": username, "role": role, "before": before},
                project_id=project_id,
            )
        return Member(username, role)

    def members(self, project_id: int) -> list[Member]:
        with self.store._read() as s:
            rows = s.execute(
                select(UserRow.username, MembershipRow.role)
                .join(UserRow, MembershipRow.user_id == UserRow.id)
                .where(MembershipRow.project_id == project_id)
                .order_by(UserRow.username)
            ).all()
        return [Member(u, _check_role(r)) for u, r in rows]


@cache
def _dummy_record() -> str:
    """A record no password matches, hashed once (for unknown user names)."""
    return hash_password(secrets.token_hex(16))


def _user(row: UserRow) -> User:
    return User(row.id, row.username, bool(row.site_admin), bool(row.active), row.created_at)


def _token(row: ApiTokenRow) -> TokenInfo:
    return TokenInfo(row.id, row.prefix, row.label, row.created_at, row.expires_at, row.revoked_at)


def _project(row: ProjectRow) -> Project:
    return Project(row.id, row.name, row.description, row.created_at, row.created_by)
