"""The state one app holds: settings, the store, the accounts and the login limiter."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from biofab.api.identities import IdentityCache
from biofab.api.ratelimit import RateLimiter
from biofab.api.settings import ServiceSettings
from biofab.store import Store
from biofab.store.accounts import Accounts


@dataclass
class Service:
    settings: ServiceSettings
    store: Store
    accounts: Accounts
    user_limiter: RateLimiter
    address_limiter: RateLimiter
    identities: IdentityCache

    @classmethod
    def open(cls, settings: ServiceSettings) -> Service:
        store = Store(settings.store_url, who="service", pool_size=settings.db_pool_size)
        return cls(
            settings,
            store,
            Accounts(store),
            RateLimiter(settings.auth_attempts, settings.auth_window_s),
            RateLimiter(settings.auth_attempts_per_address, settings.auth_window_s),
            IdentityCache(settings.auth_cache_s, store.account_writes),
        )


def app_service(request: Request) -> Service:
    """The app's :class:`Service`."""
    found: Service = request.app.state.service
    return found


async def service(request: Request) -> Service:
    """:func:`app_service` as a FastAPI dependency (``async`` because it only reads app
    state: FastAPI runs it inline instead of handing it to a worker thread)."""
    return app_service(request)


def client_address(request: Request) -> str:
    """Where a request came from, as recorded in the audit log."""
    return request.client.host if request.client is not None else "unknown"
