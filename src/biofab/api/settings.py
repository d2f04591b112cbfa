"""Settings of the service, typed and validated once at start-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServiceSettings(BaseModel):
    """What ``create_app`` and ``biofab serve`` take.

    Sizes in bytes, durations in seconds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_url: str = Field(description="SQLAlchemy URL of the store (SQLite or PostgreSQL).")
    max_upload_bytes: int = Field(
        20 * 1024 * 1024, ge=1, description="Largest results file accepted (413 above)."
    )
    auth_attempts: int = Field(
        10, ge=1, description="Login / token requests per window and user name."
    )
    auth_attempts_per_address: int = Field(
        30, ge=1, description="Login / token requests per window and client address."
    )
    auth_window_s: float = Field(60.0, gt=0, description="Window of the login rate limit.")
    login_token_ttl_s: int = Field(
        12 * 3600, ge=60, description="Lifetime of a token returned by a password login."
    )
    threads: int = Field(
        4,
        ge=1,
        le=256,
        description="Threads per server process that run request handlers (FastAPI's "
        "default is 40). Python runs one of them at a time, so more threads add only "
        "contention: at 20 clients, 40 threads gave status p95 58-87 ms on one process "
        "where 4 gave 31-40 ms. Each slow request (a recommendation) holds one thread "
        "while it runs.",
    )
    db_pool_size: int = Field(
        8,
        ge=1,
        le=1000,
        description="Store connections kept per server process (as many again open under "
        "a burst): at least one per request thread. With PostgreSQL, processes x twice "
        "this must stay below the server's max_connections.",
    )
    auth_cache_s: float = Field(
        2.0,
        ge=0,
        le=60,
        description="How long a server process trusts a token it verified before reading "
        "the store again. Revoking a token or changing a role through the same process "
        "takes effect at once; through another (a second worker, the CLI), within this "
        "many seconds. 0 reads the store on every request.",
    )
    max_page: int = Field(200, ge=1, description="Largest page of a list route.")
    job_data_dir: str | None = Field(
        None,
        description="The only folder whose files a job submitted over HTTP may name "
        "(models, scenarios, proteomes); None: no server file at all.",
    )
