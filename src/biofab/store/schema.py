"""ORM tables of the campaign store.

The schema is versioned by Alembic (``biofab/store/migrations``); this module is
the in-code description that the ORM queries against. A test checks that the
two agree, so a change here needs a new migration in the same commit.

Every timestamp is a timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Fixed constraint names, so that the migration, both backends and any later
# ALTER refer to the same names (SQLite and PostgreSQL would otherwise differ).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Format label of model snapshots written before the label existed (pickles).
LEGACY_SNAPSHOT_FORMAT = "pickle"


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A ``DateTime(timezone=True)`` that always reads back as an aware UTC datetime.

    SQLite has no time zones: it stores the UTC wall time and this type puts
    the UTC zone back on reading. PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive time is ambiguous; refuse rather than guess the local zone.
            raise ValueError("store timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        bytes: LargeBinary(),
        float: Float(),
    }


class CampaignRow(Base):
    """One DBTL loop: its design space (YAML text) and objectives."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    space_yaml: Mapped[str] = mapped_column(Text)
    objectives: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    # The project a campaign created over the API belongs to; None for CLI campaigns
    # (visible over the API to site admins only).
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    # Bumped by every write to the campaign, in the write's transaction (the API's ETag).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class RoundRow(Base):
    """One batch of recommended designs; ``number`` counts 1, 2, ... per campaign."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("campaign_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    number: Mapped[int] = mapped_column(Integer)
    recommender: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    notes: Mapped[dict[str, Any]]


class DesignRow(Base):
    """A point of the space, identified within its campaign by its canonical ``key``.

    ``round_id`` is NULL for a design that arrived with imported measurements
    rather than from one of our recommendations.
    """

    __tablename__ = "designs"
    __table_args__ = (
        UniqueConstraint("campaign_id", "key"),
        Index("ix_designs_round_id", "round_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    key: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]]
    # none_as_null: "no prediction" is SQL NULL, not the JSON value null.
    predicted: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    acquisition: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportRow(Base):
    """One imported results file; ``sha256`` (hex digest of its bytes) makes re-imports no-ops."""

    __tablename__ = "imports"
    __table_args__ = (UniqueConstraint("campaign_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    filename: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    n_rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class MeasurementRow(Base):
    """A measured value of one objective for one design.

    ``std`` is the standard deviation of ``value`` (same unit), ``n_replicates``
    how many replicates ``value`` summarises. ``(design_id, objective, source)``
    is unique so that importing the same measurement again is a no-op.
    """

    __tablename__ = "measurements"
    __table_args__ = (
        UniqueConstraint("design_id", "objective", "source"),
        Index("ix_measurements_import_id", "import_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    design_id: Mapped[int] = mapped_column(ForeignKey("designs.id"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"))
    objective: Mapped[str] = mapped_column(String(200))
    value: Mapped[float]
    std: Mapped[float | None]
    n_replicates: Mapped[int] = mapped_column(Integer, default=1)
    unit: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelSnapshotRow(Base):
    """A serialised surrogate (``blob``, opaque bytes) and its metrics.

    ``format`` says how ``blob`` was written: ``"state-v1"`` (the pickle-free
    state of :mod:`biofab.learn.state`) or ``"pickle"`` (rows from biofab
    before migration 0002, never unpickled: the campaign refits the model).
    A row written without a format counts as a pickle, the untrusted case.
    """

    __tablename__ = "model_snapshots"
    __table_args__ = (Index("ix_model_snapshots_campaign_id_kind", "campaign_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    kind: Mapped[str] = mapped_column(String(200))
    blob: Mapped[bytes]
    metrics: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    format: Mapped[str] = mapped_column(String(40), server_default=LEGACY_SNAPSHOT_FORMAT)


class AuditRow(Base):
    """Who did what when. Append-only: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_campaign_id", "campaign_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    who: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    detail: Mapped[dict[str, Any]]
    # Where the write came from: the client address of an API request, None locally.
    origin: Mapped[str | None] = mapped_column(String(200))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))


class UserRow(Base):
    """A person or a robot using the service. ``password_hash`` is an scrypt
    record (see :mod:`biofab.store.accounts`), None for token-only accounts."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    site_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiTokenRow(Base):
    """An API token, stored only as the SHA-256 of its secret; ``prefix`` (the
    token's first characters, not secret) finds the row and names it in lists."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_prefix", "prefix"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    prefix: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ProjectRow(Base):
    """A team's space: its campaigns are visible to its members only."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class MembershipRow(Base):
    """A user's ``role`` in a project: ``viewer`` < ``editor`` < ``admin``."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunRow(Base):
    """One live process run (a batch in a bioreactor) whose readings are streamed in.

    ``name`` identifies the run (the batch id); ``model`` the twin kind that reads it.
    """

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    model: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class ReadingRow(Base):
    """One reading of a live run, as received, with what the twin did with it.

    ``time_h``: hours from inoculation; ``value`` and ``unit`` as the source sent them
    (NULL ``value`` when it was not a finite number); ``source``: where it came from;
    ``received_at``: when biofab received it (UTC); ``status``: ``accepted`` (fed to the
    estimator), ``late`` (stored, too late to feed) or ``rejected`` (``reason`` says why).
    """

    __tablename__ = "readings"
    __table_args__ = (Index("ix_readings_run_id_variable", "run_id", "variable", "time_h"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    time_h: Mapped[float | None]
    variable: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None]
    unit: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)


#: A job's states: queued -> running -> succeeded | failed | cancelled (running may go
#: back to queued when its runner died and attempts remain).
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


class JobRow(Base):
    """A background job (see ``biofab.compute.jobs``): a ``kind`` offered by a pillar,
    its JSON ``request``, its state and, when done, its JSON ``result`` or ``error`` line.

    ``progress`` is a fraction in [0, 1] with ``message`` saying what runs now;
    ``attempts`` counts starts (at most ``max_attempts``); ``worker`` names the runner
    holding it and ``heartbeat_at`` when that runner last said it was alive.
    ``project_id`` has no foreign key: projects belong to the service layer.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status"), Index("ix_jobs_project_id", "project_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    request: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    project_id: Mapped[int | None] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(200))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
