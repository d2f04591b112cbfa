"""The service's cache of verified tokens: fast, and never wrong for longer than stated."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from api_server import make_team, serving
from biofab.api import create_app
from biofab.api.identities import IdentityCache
from biofab.store import Store
from biofab.store.accounts import Accounts, Identity
from biofab.store.schema import utcnow


class CountingLookup:
    """The store's own ``identify``, counting how often the cache asks it."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.calls = 0

    def __call__(self, secret: str) -> Identity | None:
        self.calls += 1
        return self.accounts.identify(secret)


@pytest.fixture
def accounts(tmp_path: object) -> Accounts:
    store = Store(f"sqlite:///{tmp_path}/biofab.db")
    return Accounts(store.acting_as("setup"))


def test_a_verified_token_is_read_once_until_the_accounts_change(accounts: Accounts) -> None:
    user = accounts.create_user("eve")
    secret, info = accounts.issue_token(user.id)
    lookup = CountingLookup(accounts)
    cache = IdentityCache(60.0, accounts.store.account_writes)

    first = cache.identify(secret, lookup)
    assert first is not None and first.user.username == "eve" and first.roles == {}
    assert cache.identify(secret, lookup) == first and lookup.calls == 1

    # A role given through this process is seen at once.
    project = accounts.create_project("alpha")
    accounts.set_role(project.id, "eve", "editor")
    again = cache.identify(secret, lookup)
    assert again is not None and again.roles == {project.id: "editor"} and lookup.calls == 2

    # So is a revocation; refused tokens are never kept.
    accounts.revoke_token(user.id, info.id)
    assert cache.identify(secret, lookup) is None
    assert cache.identify(secret, lookup) is None and lookup.calls == 4
    assert cache.identify("bfk_" + "x" * 43, lookup) is None and lookup.calls == 5


def test_kept_identities_expire_with_the_cache_and_the_token(accounts: Accounts) -> None:
    user = accounts.create_user("eve")
    forever, _ = accounts.issue_token(user.id)
    brief, _ = accounts.issue_token(user.id, expires_at=utcnow() + timedelta(seconds=2))
    lookup = CountingLookup(accounts)

    cache = IdentityCache(0.2, accounts.store.account_writes)
    assert cache.identify(forever, lookup) is not None
    time.sleep(0.25)
    assert cache.identify(forever, lookup) is not None and lookup.calls == 2

    # Kept for 60 s, but never past the token's own expiry.
    long = IdentityCache(60.0, accounts.store.account_writes)
    assert long.identify(brief, lookup) is not None
    time.sleep(2.1)
    assert long.identify(brief, lookup) is None

    # 0 s: the store is read on every request; `kept` bounds the memory.
    off = IdentityCache(0.0, accounts.store.account_writes)
    before = lookup.calls
    off.identify(forever, lookup)
    off.identify(forever, lookup)
    assert lookup.calls == before + 2
    other, _ = accounts.issue_token(user.id)
    small = IdentityCache(60.0, accounts.store.account_writes, kept=1)
    small.identify(forever, lookup)
    small.identify(other, lookup)  # pushes `forever` out
    calls = lookup.calls
    small.identify(forever, lookup)
    assert lookup.calls == calls + 1


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_another_process_changing_a_role_takes_effect_within_the_cache_time(db_url: str) -> None:
    app = create_app(db_url, auth_cache_s=0.5)
    with Store(db_url) as store:
        admin = Accounts(store.acting_as("setup")).first_admin()
    assert admin is not None
    with serving(app) as base:
        tokens = make_team(base, admin)
        boss, vic = (
            httpx.Client(
                base_url=base + "/api/v1", headers={"Authorization": f"Bearer {t}"}, timeout=120
            )
            for t in (admin, tokens["vic"])
        )
        space = {"parameters": {"x": {"type": "continuous", "lo": 0, "hi": 1}}}
        body = {"name": "shared", "project": "alpha", "space": space, "objectives": ["y:max"]}
        assert boss.post("/campaigns", json=body).status_code == 201
        assert vic.post("/campaigns/shared/recommend", json={"n": 1}).status_code == 403

        # Promoted through the same server: allowed on the very next request.
        put = boss.put("/projects/alpha/members/vic", json={"role": "editor"})
        assert put.status_code == 200
        assert vic.post("/campaigns/shared/recommend", json={"n": 1}).status_code == 200

        # Demoted by another process (the CLI, a second worker): refused once the
        # cache time has passed.
        with Store(db_url, create=False) as other:
            accounts = Accounts(other.acting_as("cli"))
            accounts.set_role(accounts.project("alpha").id, "vic", "viewer")
        time.sleep(0.6)
        assert vic.post("/campaigns/shared/recommend", json={"n": 1}).status_code == 403
