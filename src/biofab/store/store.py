"""``Store``: the persistent record of DBTL campaigns.

One SQLite file by default, PostgreSQL by URL. Every write method is one
transaction that also appends its row to the audit log, so a write either
happens completely, with its audit entry, or not at all.
"""

from __future__ import annotations

import copy
import getpass
import json
import math
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from sqlalchemy import Engine, Table, create_engine, event, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

# pandas is imported by the methods that build frames: `biofab campaign list` needs none.
if TYPE_CHECKING:
    import pandas as pd

from biofab.core.errors import (
    CampaignExistsError,
    InputError,
    StaleVersionError,
    UnknownCampaignError,
)
from biofab.store.schema import (
    AuditRow,
    CampaignRow,
    DesignRow,
    ImportRow,
    MeasurementRow,
    ModelSnapshotRow,
    ReadingRow,
    RoundRow,
    RunRow,
    utcnow,
)

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only to migrate (about 0.4 s of start-up): opening a store
# that is already at the head revision reads that revision with plain SQL.

DEFAULT_URL = "sqlite:///biofab.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Failpoint for crash-consistency tests. When this environment variable holds a
#: number of seconds, ``Store.ingest`` writes the first half of a file's
#: measurements, prints ``failpoint: sleeping`` to stderr, sleeps that long, and
#: only then writes the rest and commits. Killing the process during the sleep
#: must leave nothing of the file in the store. Never set it in production.
FAILPOINT_INGEST_SLEEP = "BIOFAB_FAILPOINT_INGEST_SLEEP"

#: How long a SQLite connection waits for another writer's lock before failing (ms).
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Keys per IN (...) list: far below SQLite's bound-parameter limit (32766).
_CHUNK = 500
# The tables themselves, for bulk core inserts (no ORM bookkeeping per row).
_DESIGNS: Table = DesignRow.__table__  # type: ignore[assignment]
_MEASUREMENTS: Table = MeasurementRow.__table__  # type: ignore[assignment]
_READINGS: Table = ReadingRow.__table__  # type: ignore[assignment]
# Rows per bulk INSERT call of an ingest: bounds the parameter lists in flight.
_INSERT_BATCH = 10_000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FORMAT_LABEL = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
# Alembic's migration context is a process-wide global: two threads upgrading
# at once would trample each other. (Other processes are held off by the
# database: BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL.)
_UPGRADE_LOCK = threading.Lock()


# --------------------------------------------------------------------- records


@dataclass(frozen=True)
class MeasurementRecord:
    """One stored measurement with its design: ``round`` is None for an imported
    design, ``std`` (same unit as ``value``) None when not reported, and
    ``n_replicates`` how many replicates ``value`` summarises."""

    design_id: int
    round: int | None
    params: Mapping[str, Any]
    objective: str
    value: float
    std: float | None
    n_replicates: int


@dataclass(frozen=True)
class EventRecord:
    """One audit-log entry: ``at`` (UTC) and ``who`` as recorded, ``campaign`` the
    campaign's name or None, ``detail`` the JSON object stored with it."""

    id: int
    at: datetime
    who: str
    action: str
    campaign: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class CampaignRecord:
    """A campaign as stored: ``objectives`` is the list given at creation."""

    id: int
    name: str
    space_yaml: str
    objectives: list[dict[str, Any]]
    created_at: datetime
    created_by: str
    project_id: int | None = None
    version: int = 1


@dataclass(frozen=True)
class SnapshotInfo:
    """A stored model's metadata (no blob): ``round`` None when not tied to a round."""

    id: int
    round: int | None
    kind: str
    format: str
    bytes: int
    metrics: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class IngestResult:
    """What one ``Store.ingest`` call wrote.

    ``skipped`` counts rows whose measurement the store already held (or that
    repeat an earlier row of the same file). ``duplicate_file`` is True when an
    import with the same digest (the content of its rows, whatever the file was
    called) had already been made: then nothing is written, ``import_id`` is
    that earlier import and ``duplicate_of`` the file name it was imported as.
    """

    added_designs: int
    added_measurements: int
    skipped: int
    duplicate_file: bool
    import_id: int | None = None
    duplicate_of: str | None = None


@dataclass
class _IngestTotals:
    """Running counts of one ingest across its chunks."""

    rows: int = 0
    designs: int = 0
    measurements: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class ModelSnapshot:
    """A stored model: ``blob`` written in ``format`` (``"state-v1"``, or
    ``"pickle"`` for rows from older biofab versions), with its ``metrics``."""

    id: int
    kind: str
    format: str
    blob: bytes
    metrics: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class RunRecord:
    """A live process run as stored (``model``: the twin kind reading it)."""

    id: int
    name: str
    model: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class ReadingRecord:
    """One stored reading of a live run (see :class:`~biofab.store.schema.ReadingRow`).

    ``time_h`` in hours from inoculation; ``value``/``unit`` as the source sent them
    (``value`` None when it was not a finite number); ``status`` ``accepted``, ``late``
    or ``rejected`` with a one-line ``reason``; ``received_at`` UTC.
    """

    time_h: float | None
    variable: str
    value: float | None
    unit: str | None
    source: str | None
    received_at: datetime
    status: str
    reason: str | None = None


class DesignRecord(TypedDict):
    """Shape of one design given to ``Store.add_round``.

    ``key`` is the design's canonical identity within its campaign; ``predicted``
    maps objective name to ``[mean, std]``; ``acquisition`` is the recommender's score.
    """

    key: str
    params: Mapping[str, Any]
    predicted: NotRequired[Mapping[str, Any] | None]
    acquisition: NotRequired[float | None]


class IngestRow(TypedDict):
    """Shape of one row given to ``Store.ingest``; the caller has validated the values.

    ``std`` is the standard deviation of ``value`` in ``unit``; ``n_replicates``
    (default 1) how many replicates ``value`` summarises; ``source`` where it came
    from (e.g. ``"results.csv:row 3"``), part of the measurement's identity.
    """

    key: str
    params: Mapping[str, Any]
    objective: str
    value: float
    std: NotRequired[float | None]
    n_replicates: NotRequired[int]
    unit: NotRequired[str | None]
    source: NotRequired[str | None]


# ------------------------------------------------------------ URL and migrations


def normalize_url(url: str) -> str:
    """Map ``postgresql://`` (and ``postgres://``) to the psycopg 3 driver; keep others as given."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:") and not Path(db).is_absolute():
            # Pin a relative file to today's working directory, so the store
            # does not silently switch files if the process later changes it.
            parsed = parsed.set(database=str(Path(db).resolve()))
    return parsed.render_as_string(hide_password=False)


def _require_sqlite_file(url: str, raw: str) -> None:
    """Refuse a SQLite URL whose file does not exist (connecting would create it)."""
    parsed = make_url(url)
    db = parsed.database
    if parsed.get_backend_name() != "sqlite" or not db or db == ":memory:":
        return
    if db.startswith("file:"):  # a SQLite URI: its options decide, not us
        return
    if not Path(db).is_file():
        raise InputError(_no_store(raw))


def _no_store(raw: str) -> str:
    """The one line for a store that is not there: the usual cause is a mistyped --db or
    BIOFAB_DB, or a read command (status, alarms, ...) run before anything wrote."""
    return (
        f"no biofab store at {_shown(raw)}; check --db / BIOFAB_DB (a store is made by the "
        "first command that writes: campaign create, process twin, process monitor, ...)"
    )


def _shown(raw: str) -> str:
    """A URL as the user wrote it, for messages: a SQLite file by its path, passwords hidden."""
    parsed = make_url(raw)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return parsed.database
    return parsed.render_as_string(hide_password=True)


def alembic_config() -> Config:
    """Alembic configuration of the store's migrations, independent of the working directory."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


_REVISION = re.compile(r"^revision\b[^=\n]*=\s*['\"](\w+)['\"]", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=\n]*=(.*)$", re.M)


def head_revision() -> str:
    """The newest schema revision this version of biofab knows.

    Read from the migration files' ``revision`` / ``down_revision`` lines (no
    Alembic import); anything unusual (a file without them, several heads) is
    left to Alembic's own reading.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if rev is None or down is None:
            return _alembic_head()
        revisions.add(rev.group(1))
        parents.update(re.findall(r"['\"](\w+)['\"]", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "biofab ships at least one migration"
    return head


def _default_who() -> str:
    env = os.environ.get("BIOFAB_USER")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return "unknown"


def _failpoint_ingest() -> None:
    """Pause mid-ingest when ``BIOFAB_FAILPOINT_INGEST_SLEEP`` is set (crash tests only)."""
    raw = os.environ.get(FAILPOINT_INGEST_SLEEP)
    if not raw:
        return
    seconds = float(raw)
    print(f"failpoint: sleeping {seconds:g} s mid-ingest", file=sys.stderr, flush=True)
    time.sleep(seconds)


class WriteCounter:
    """Counts one kind of write made through a store and its views in this process.

    The service's identity cache keeps verified tokens; a write to the accounts
    moves this count, and whatever was kept under an older count is read again.
    """

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return self._count

    def bump(self) -> None:
        with self._lock:
            self._count += 1


def _pool_options(url: str, size: int) -> dict[str, int]:
    """Keep ``size`` connections and allow as many again for bursts.

    SQLAlchemy's defaults (5 kept, 10 more) make a server with more concurrent
    requests than that open and close a connection per request: on PostgreSQL
    each is a new backend process, and the benchmark saw requests stall for
    seconds behind them. In-memory SQLite uses a pool that takes no size.
    """
    if size < 1:
        raise ValueError(f"pool_size must be at least 1, found {size}")
    database = make_url(url).database
    if make_url(url).get_backend_name() == "sqlite" and (not database or database == ":memory:"):
        return {}
    return {"pool_size": size, "max_overflow": size}


def _install_sqlite_hooks(engine: Engine) -> None:
    """Per-connection SQLite settings and real transactions.

    pysqlite's own transaction handling starts transactions late and never for
    DDL; we switch it off and emit BEGIN ourselves (the documented SQLAlchemy
    recipe). Writers use BEGIN IMMEDIATE so that two processes queue on the
    busy timeout instead of failing on a read-to-write lock upgrade.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL: readers never block the writer; commits stay atomic across
        # crashes. synchronous stays at the default FULL for durability.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("biofab_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# ----------------------------------------------------------------------- store


class Store:
    """The campaign store.

    ``url``: a SQLAlchemy URL; default ``$BIOFAB_DB``, else ``sqlite:///biofab.db``
    in the current working directory. ``postgresql://`` URLs use psycopg 3.
    ``who``: the user recorded in the audit log; default ``$BIOFAB_USER``, else
    the OS login name. ``pool_size``: database connections kept open for reuse
    (a server sets one per request thread, so that concurrent requests neither
    wait for a connection nor open and close one each). Opening a store
    upgrades its schema to the newest migration (a no-op when it is already
    there). ``create=False`` (read commands) refuses a database that holds no
    biofab store instead of creating one, and never creates a SQLite file.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        who: str | None = None,
        create: bool = True,
        pool_size: int = 5,
    ) -> None:
        raw = url or os.environ.get("BIOFAB_DB") or DEFAULT_URL
        try:
            self._url = normalize_url(raw)
        except ArgumentError as err:
            raise InputError(
                "not a database URL", expected="sqlite:///PATH or postgresql://…", found=raw
            ) from err
        backend = make_url(self._url).get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise InputError(
                "unsupported database URL",
                expected="sqlite:///PATH or postgresql://USER@HOST/DB",
                found=make_url(self._url).render_as_string(hide_password=True),
            )
        if not create:
            _require_sqlite_file(self._url, raw)
        self.who = who or _default_who()
        #: Writes to users, tokens, projects and roles (shared by every view).
        self.account_writes = WriteCounter()
        #: Project id -> name, filled as read (projects are never renamed or deleted).
        self.project_names: dict[int, str] = {}
        #: Where writes come from, recorded in the audit log (an API client's address).
        self.origin: str | None = None
        self._engine = create_engine(
            self._url, pool_pre_ping=backend == "postgresql", **_pool_options(self._url, pool_size)
        )
        if backend == "sqlite":
            _install_sqlite_hooks(self._engine)
        self._writer = self._engine.execution_options(biofab_write=True)
        #: Reads on PostgreSQL run in autocommit: at READ COMMITTED every statement takes
        #: its own snapshot anyway, and a read transaction would cost two more round
        #: trips (BEGIN, ROLLBACK) per session — a third of a status request's.
        self._reader = (
            self._engine.execution_options(isolation_level="AUTOCOMMIT")
            if backend == "postgresql"
            else self._engine
        )
        try:
            if not create and self.schema_revision() is None:
                raise InputError(_no_store(raw))
            self._upgrade()
        except OperationalError as err:
            self._engine.dispose()
            reason = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            raise InputError(f"cannot open the store at {self.url}: {reason}") from err
        except BaseException:
            self._engine.dispose()
            raise

    # -- lifecycle

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return make_url(self._url).render_as_string(hide_password=True)

    @property
    def full_url(self) -> str:
        """The database URL with its password, for worker processes that open the same
        store (never print it)."""
        return self._url

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for diagnostics and tests; prefer the methods)."""
        return self._engine

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def acting_as(self, who: str, origin: str | None = None) -> Store:
        """This store, its writes audited as ``who`` from ``origin``.

        A view sharing the engine (a service makes one per request, so
        concurrent requests never share an identity); closing the store itself
        closes every view.
        """
        view = copy.copy(self)
        view.who, view.origin = who, origin
        return view

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def schema_revision(self) -> str | None:
        """The schema revision the database is at (``alembic current``); None when unversioned."""
        with self._engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if len(found) > 1:  # branches: Alembic says what that means
            from alembic.runtime.migration import MigrationContext

            with self._engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        return str(found[0]) if found else None

    def _upgrade(self) -> None:
        current = self.schema_revision()
        head = head_revision()
        if current == head:
            # The common case: no write lock, so opening never waits on a long ingest.
            return
        from alembic import command
        from alembic.util.exc import CommandError

        cfg = alembic_config()
        with _UPGRADE_LOCK, self._writer.begin() as conn:
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as err:
                raise InputError(
                    f"database schema at revision {current!r} is unknown to this biofab "
                    "(written by a newer version?)",
                    expected=f"revision {head} or older",
                    found=current,
                ) from err

    # -- sessions

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._reader) as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction: commits on success, rolls back on any exception."""
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    @staticmethod
    def _campaign(session: Session, name: str, *, lock: bool = False) -> CampaignRow:
        query = select(CampaignRow).where(CampaignRow.name == name)
        if lock:
            # PostgreSQL: serialise writers of one campaign (round numbers, import
            # checks). SQLite ignores FOR UPDATE; BEGIN IMMEDIATE already serialises.
            query = query.with_for_update()
        row = session.scalar(query)
        if row is None:
            raise UnknownCampaignError(name)
        return row

    def _audit(
        self,
        session: Session,
        who: str,
        action: str,
        campaign_id: int | None,
        detail: dict[str, Any],
        *,
        project_id: int | None = None,
    ) -> None:
        if project_id is None and campaign_id is not None:
            campaign = session.get(CampaignRow, campaign_id)  # in the session already
            project_id = campaign.project_id if campaign is not None else None
        session.add(
            AuditRow(
                at=utcnow(),
                who=who,
                action=action,
                campaign_id=campaign_id,
                detail=detail,
                origin=self.origin,
                project_id=project_id,
            )
        )

    @staticmethod
    def _bump(campaign: CampaignRow, expect_version: int | None) -> None:
        """Check ``expect_version`` (when given) and count one more write, in the caller's
        transaction: the campaign row is locked, so two writers cannot both pass."""
        if expect_version is not None and campaign.version != expect_version:
            raise StaleVersionError(campaign.name, expect_version, campaign.version)
        campaign.version += 1

    # -- campaigns

    def create_campaign(
        self,
        name: str,
        space_yaml: str,
        objectives: list[dict[str, Any]],
        who: str | None = None,
        *,
        project_id: int | None = None,
    ) -> CampaignRecord:
        """Create a campaign; raises ``CampaignExistsError`` if the name is taken.

        ``project_id``: the project it belongs to (service campaigns); None for a
        local one. Names are unique in the whole store, whatever the project.
        """
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InputError(
                "bad campaign name", expected="1 to 200 characters, not all blank", found=name
            )
        who = who or self.who
        try:
            with self._write() as s:
                if s.scalar(select(CampaignRow.id).where(CampaignRow.name == name)) is not None:
                    raise CampaignExistsError(name)
                row = CampaignRow(
                    name=name,
                    space_yaml=space_yaml,
                    objectives=[dict(o) for o in objectives],
                    created_at=utcnow(),
                    created_by=who,
                    project_id=project_id,
                    version=1,
                )
                s.add(row)
                s.flush()
                self._audit(
                    s, who, "create_campaign", row.id, {"name": name, "objectives": row.objectives}
                )
        except IntegrityError as err:
            # Another process created the same name between our check and commit.
            raise CampaignExistsError(name) from err
        return _campaign_record(row)

    def get_campaign(self, name: str) -> CampaignRecord:
        """The campaign called ``name``; raises ``UnknownCampaignError``."""
        with self._read() as s:
            row = s.execute(_CAMPAIGN_COLUMNS.where(CampaignRow.name == name)).first()
        if row is None:
            raise UnknownCampaignError(name)
        return _campaign_record(row)

    def list_campaigns(self) -> list[CampaignRecord]:
        """Every campaign, oldest first."""
        with self._read() as s:
            rows = s.execute(_CAMPAIGN_COLUMNS.order_by(CampaignRow.id)).all()
        return [_campaign_record(r) for r in rows]

    def campaign_page(
        self, project_ids: Iterable[int] | None, *, limit: int, offset: int = 0
    ) -> tuple[list[CampaignRecord], int]:
        """One page of campaigns, oldest first, and how many there are in all.

        ``project_ids``: only campaigns of these projects; None for every campaign
        (local ones included).
        """
        # The total rides on every row of the page (a window count): one query, not
        # two; only a page past the end needs its own count.
        query = select(*CampaignRow.__table__.c, func.count().over().label("total"))
        count = select(func.count()).select_from(CampaignRow)
        if project_ids is not None:
            inside = CampaignRow.project_id.in_(list(project_ids))
            query, count = query.where(inside), count.where(inside)
        with self._read() as s:
            rows = s.execute(query.order_by(CampaignRow.id).limit(limit).offset(offset)).all()
            total = rows[0].total if rows else s.scalar(count)
        return [_campaign_record(r) for r in rows], int(total or 0)

    # -- rounds and designs

    def add_round(
        self,
        name: str,
        recommender: str,
        designs: Sequence[Mapping[str, Any]],
        notes: dict[str, Any] | None = None,
        who: str | None = None,
        *,
        expect_version: int | None = None,
    ) -> int:
        """Record a round of designs (see ``DesignRecord``); returns its number (1, 2, ...).

        A design whose ``key`` the campaign already holds, or that repeats within
        ``designs``, raises ``InputError`` and nothing is written. With
        ``expect_version``, a campaign written since raises ``StaleVersionError``.
        """
        who = who or self.who
        if not designs:
            raise InputError("a round needs at least one design", found=0)
        keys: list[str] = []
        for i, d in enumerate(designs, start=1):
            key = d.get("key")
            if not isinstance(key, str) or not key:
                raise InputError(f"design {i} has no key", expected="a non-empty string", found=key)
            if not isinstance(d.get("params"), Mapping):
                raise InputError(
                    f"design {i} has no params", expected="a mapping", found=d.get("params")
                )
            keys.append(key)
        counts = Counter(keys)
        repeats = sorted(k for k, n in counts.items() if n > 1)
        if repeats:
            raise InputError("a round repeats designs", expected="distinct keys", found=repeats[:5])

        with self._write() as s:
            campaign = self._campaign(s, name, lock=True)
            self._bump(campaign, expect_version)
            known = sorted(_existing_keys(s, campaign.id, keys))
            if known:
                raise InputError(
                    f"{len(known)} design(s) of this round are already in campaign '{name}'",
                    expected="designs the campaign has not seen",
                    found=known[:5],
                )
            last = s.scalar(
                select(func.max(RoundRow.number)).where(RoundRow.campaign_id == campaign.id)
            )
            number = (last or 0) + 1
            now = utcnow()
            round_row = RoundRow(
                campaign_id=campaign.id,
                number=number,
                recommender=recommender,
                created_at=now,
                created_by=who,
                notes=dict(notes or {}),
            )
            s.add(round_row)
            s.flush()
            s.execute(
                insert(DesignRow),
                [
                    {
                        "campaign_id": campaign.id,
                        "round_id": round_row.id,
                        "key": d["key"],
                        "params": dict(d["params"]),
                        "predicted": _json_or_none(d.get("predicted")),
                        "acquisition": _opt_float(d.get("acquisition")),
                        "created_at": now,
                    }
                    for d in designs
                ],
            )
            self._audit(
                s,
                who,
                "add_round",
                campaign.id,
                {"round": number, "recommender": recommender, "n_designs": len(designs)},
            )
        return number

    def design_table(self, name: str) -> pd.DataFrame:
        """Every design of the campaign, oldest first.

        Columns: ``design_id``, ``key``, ``round`` (nullable Int64; <NA> for a
        design that arrived by import), one column per parameter, ``predicted``
        (dict or None), ``acquisition`` (float, NaN if none).
        """
        import pandas as pd

        with self._read() as s:
            campaign = self._campaign(s, name)
            result = s.execute(
                select(
                    DesignRow.id,
                    DesignRow.key,
                    RoundRow.number,
                    DesignRow.params,
                    DesignRow.predicted,
                    DesignRow.acquisition,
                )
                .outerjoin(RoundRow, DesignRow.round_id == RoundRow.id)
                .where(DesignRow.campaign_id == campaign.id)
                .order_by(DesignRow.id)
            ).all()
        base = pd.DataFrame(
            {
                "design_id": pd.Series([r[0] for r in result], dtype="int64"),
                "key": pd.Series([r[1] for r in result], dtype="object"),
                "round": pd.Series([r[2] for r in result], dtype="Int64"),
            }
        )
        tail = pd.DataFrame(
            {
                "predicted": pd.Series([r[4] for r in result], dtype="object"),
                "acquisition": pd.Series([r[5] for r in result], dtype="float64"),
            }
        )
        return _with_params(base, [r[3] for r in result], tail)

    def rounds(self, name: str) -> pd.DataFrame:
        """Rounds of the campaign: ``number``, ``recommender``, ``created_at`` (UTC),
        ``created_by``, ``notes`` (dict), ``n_designs``."""
        with self._read() as s:
            campaign = self._campaign(s, name)
            n_designs = (
                select(DesignRow.round_id, func.count().label("n"))
                .group_by(DesignRow.round_id)
                .subquery()
            )
            result = s.execute(
                select(
                    RoundRow.number,
                    RoundRow.recommender,
                    RoundRow.created_at,
                    RoundRow.created_by,
                    RoundRow.notes,
                    func.coalesce(n_designs.c.n, 0),
                )
                .outerjoin(n_designs, n_designs.c.round_id == RoundRow.id)
                .where(RoundRow.campaign_id == campaign.id)
                .order_by(RoundRow.number)
            ).all()
        columns = ["number", "recommender", "created_at", "created_by", "notes", "n_designs"]
        return _frame([tuple(r) for r in result], columns)

    # -- measurements

    def ingest(
        self,
        name: str,
        filename: str,
        sha256: str,
        rows: Sequence[Mapping[str, Any]],
        who: str | None = None,
        *,
        expect_version: int | None = None,
    ) -> IngestResult:
        """Store the measurements of one results file (see ``IngestRow``), all or nothing.

        ``sha256`` is the file's identity (the campaign layer passes the
        content digest of its rows, never anything derived from the file
        name): an import with a known digest adds nothing (``duplicate_file``
        and ``duplicate_of``). A row whose ``(design, objective, source)``
        measurement is already stored is skipped. Designs the campaign does
        not know are created without a round (``round`` is <NA>).

        The caller validates values first; if the database still refuses a row
        (e.g. a NULL ``value``) the whole file is rolled back and ``InputError``
        is raised. For a table too large for memory see :meth:`ingest_chunks`.
        """
        return self.ingest_chunks(
            name, filename, sha256, [rows], who=who, expect_version=expect_version
        )

    def ingest_chunks(
        self,
        name: str,
        filename: str,
        sha256: str,
        chunks: Iterable[Sequence[Mapping[str, Any]]],
        who: str | None = None,
        *,
        expect_version: int | None = None,
    ) -> IngestResult:
        """:meth:`ingest` for a table streamed as chunks of rows, in one transaction.

        ``chunks`` is consumed only when ``sha256`` is new to the campaign;
        each chunk is written with bulk inserts as it arrives. An exception
        raised by the iterator itself (say, the caller finds a bad row in the
        last chunk) or a refused row rolls back everything, so the store never
        holds part of a file.
        """
        who = who or self.who
        digest = sha256.lower()
        if not _SHA256.match(digest):
            raise InputError(
                "bad file digest", file=filename, expected="64 hex digits (SHA-256)", found=sha256
            )
        try:
            with self._write() as s:
                return self._ingest(s, name, filename, digest, chunks, who, expect_version)
        except IntegrityError as err:
            first = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            raise InputError(
                "the database refused a row; nothing of the file was written",
                file=filename,
                found=first,
            ) from err

    def _ingest(
        self,
        s: Session,
        name: str,
        filename: str,
        digest: str,
        chunks: Iterable[Sequence[Mapping[str, Any]]],
        who: str,
        expect_version: int | None,
    ) -> IngestResult:
        campaign = self._campaign(s, name, lock=True)
        if expect_version is not None and campaign.version != expect_version:
            raise StaleVersionError(name, expect_version, campaign.version)
        seen = s.execute(
            select(ImportRow.id, ImportRow.filename).where(
                ImportRow.campaign_id == campaign.id, ImportRow.sha256 == digest
            )
        ).first()
        if seen is not None:
            return IngestResult(
                0, 0, 0, duplicate_file=True, import_id=seen[0], duplicate_of=seen[1]
            )

        now = utcnow()
        imp = ImportRow(
            campaign_id=campaign.id,
            filename=filename,
            sha256=digest,
            n_rows=0,
            created_at=now,
            created_by=who,
        )
        s.add(imp)
        s.flush()
        self._bump(campaign, None)  # a duplicate file (returned above) writes nothing
        totals = _IngestTotals()
        for chunk in chunks:
            _check_rows(chunk, filename, totals.rows)
            self._ingest_chunk(s, campaign.id, imp.id, chunk, now, filename, totals)
        imp.n_rows = totals.rows
        s.flush()
        result = IngestResult(
            added_designs=totals.designs,
            added_measurements=totals.measurements,
            skipped=totals.skipped,
            duplicate_file=False,
            import_id=imp.id,
        )
        self._audit(
            s,
            who,
            "ingest",
            campaign.id,
            {
                "filename": filename,
                "sha256": digest,
                "import_id": imp.id,
                "n_rows": totals.rows,
                "added_designs": result.added_designs,
                "added_measurements": result.added_measurements,
                "skipped": totals.skipped,
            },
        )
        return result

    @staticmethod
    def _ingest_chunk(
        s: Session,
        campaign_id: int,
        import_id: int,
        rows: Sequence[Mapping[str, Any]],
        now: datetime,
        filename: str,
        totals: _IngestTotals,
    ) -> None:
        """Write one chunk with bulk core inserts; ``totals`` accumulates the counts."""
        # Designs: known ones by key (including those an earlier chunk of this
        # import created), the rest created without a round. The first row
        # naming a key supplies its params.
        keys = list(dict.fromkeys(str(r["key"]) for r in rows))
        ids = _existing_keys(s, campaign_id, keys)
        first_params: dict[str, dict[str, Any]] = {}
        for r in rows:
            first_params.setdefault(str(r["key"]), dict(r["params"]))
        new_keys = [k for k in keys if k not in ids]
        for batch in _batches(new_keys, _INSERT_BATCH):
            created = s.execute(
                insert(_DESIGNS).returning(DesignRow.key, DesignRow.id),
                [
                    {
                        "campaign_id": campaign_id,
                        "round_id": None,
                        "key": k,
                        "params": first_params[k],
                        "predicted": None,
                        "acquisition": None,
                        "created_at": now,
                    }
                    for k in batch
                ],
            ).all()
            ids.update({k: i for k, i in created})
        new = set(new_keys)

        # Measurements: skip any whose (design, objective, source) is stored
        # (by an earlier import or an earlier chunk) or appeared earlier in this chunk.
        existing = _existing_measurements(s, [ids[k] for k in keys if k not in new])
        todo: list[dict[str, Any]] = []
        for i, r in enumerate(rows, start=totals.rows + 1):
            design_id = ids[str(r["key"])]
            source = r.get("source")
            identity = (design_id, str(r["objective"]), source)
            if identity in existing:
                totals.skipped += 1
                continue
            existing.add(identity)
            todo.append(
                {
                    "design_id": design_id,
                    "import_id": import_id,
                    "objective": str(r["objective"]),
                    # None passes through: the caller validates values, and the
                    # NOT NULL constraint is the last line of defence.
                    "value": _row_float(r.get("value"), filename, i, "value"),
                    "std": _row_float(r.get("std"), filename, i, "std"),
                    "n_replicates": 1 if r.get("n_replicates") is None else int(r["n_replicates"]),
                    "unit": r.get("unit"),
                    "source": source,
                    "created_at": now,
                }
            )
        first_chunk = totals.rows == 0
        half = len(todo) // 2 if first_chunk else len(todo)
        for batch in _batches(todo[:half], _INSERT_BATCH):
            s.execute(insert(_MEASUREMENTS), batch)
        if first_chunk:
            _failpoint_ingest()
            for batch in _batches(todo[half:], _INSERT_BATCH):
                s.execute(insert(_MEASUREMENTS), batch)
        totals.rows += len(rows)
        totals.designs += len(new_keys)
        totals.measurements += len(todo)

    def measurement_records(self, name: str) -> list[MeasurementRecord]:
        """Every measurement of the campaign with its design's round and
        parameters, oldest first, as plain records (no pandas: read commands
        summarise a campaign from these and start fast)."""
        result = self._measurements(
            name,
            MeasurementRow.design_id,
            RoundRow.number,
            DesignRow.params,
            MeasurementRow.objective,
            MeasurementRow.value,
            MeasurementRow.std,
            MeasurementRow.n_replicates,
        )
        return [MeasurementRecord(*r) for r in result]

    def _measurements(self, name: str, *columns: Any) -> list[Any]:
        """``columns`` of every measurement of the campaign joined to its design and
        round (NULL for an imported design), oldest first."""
        with self._read() as s:
            campaign = self._campaign(s, name)
            return list(
                s.execute(
                    select(*columns)
                    .join(DesignRow, MeasurementRow.design_id == DesignRow.id)
                    .outerjoin(RoundRow, DesignRow.round_id == RoundRow.id)
                    .where(DesignRow.campaign_id == campaign.id)
                    .order_by(MeasurementRow.id)
                ).all()
            )

    def counts(self, name: str) -> dict[str, int]:
        """How many ``rounds`` and ``designs`` the campaign holds (two COUNT queries)."""
        with self._read() as s:
            campaign = self._campaign(s, name)
            rounds = s.scalar(
                select(func.count())
                .select_from(RoundRow)
                .where(RoundRow.campaign_id == campaign.id)
            )
            designs = s.scalar(
                select(func.count())
                .select_from(DesignRow)
                .where(DesignRow.campaign_id == campaign.id)
            )
        return {"rounds": int(rounds or 0), "designs": int(designs or 0)}

    def measurement_table(self, name: str) -> pd.DataFrame:
        """Every measurement of the campaign, oldest first.

        Columns: ``design_id``, ``key``, ``round`` (Int64, <NA> for imported
        designs), ``objective``, ``value``, ``std`` (NaN if unknown),
        ``n_replicates``, ``unit``, ``source``, ``import_id`` (Int64), ``created_at``
        (UTC), then one column per parameter.
        """
        import pandas as pd

        result = self._measurements(
            name,
            MeasurementRow.design_id,
            DesignRow.key,
            RoundRow.number,
            MeasurementRow.objective,
            MeasurementRow.value,
            MeasurementRow.std,
            MeasurementRow.n_replicates,
            MeasurementRow.unit,
            MeasurementRow.source,
            MeasurementRow.import_id,
            MeasurementRow.created_at,
            DesignRow.params,
        )
        base = pd.DataFrame(
            {
                "design_id": pd.Series([r[0] for r in result], dtype="int64"),
                "key": pd.Series([r[1] for r in result], dtype="object"),
                "round": pd.Series([r[2] for r in result], dtype="Int64"),
                "objective": pd.Series([r[3] for r in result], dtype="object"),
                "value": pd.Series([r[4] for r in result], dtype="float64"),
                "std": pd.Series([r[5] for r in result], dtype="float64"),
                "n_replicates": pd.Series([r[6] for r in result], dtype="int64"),
                "unit": pd.Series([r[7] for r in result], dtype="object"),
                "source": pd.Series([r[8] for r in result], dtype="object"),
                "import_id": pd.Series([r[9] for r in result], dtype="Int64"),
                "created_at": pd.to_datetime(pd.Series([r[10] for r in result]), utc=True),
            }
        )
        return _with_params(base, [r[11] for r in result], None)

    # -- models

    def save_model(
        self,
        name: str,
        round_number: int | None,
        kind: str,
        blob: bytes,
        metrics: dict[str, Any],
        who: str | None = None,
        *,
        format: str,
    ) -> int:
        """Store a serialised surrogate (``blob``) with its ``metrics``; returns the snapshot id.

        ``round_number`` ties it to the round it was trained for, or None.
        ``format`` names how ``blob`` was written (e.g. ``"state-v1"``, see
        :mod:`biofab.learn.state`); readers decide from it whether and how to
        load the blob. The store itself never interprets ``blob``.
        """
        if not _FORMAT_LABEL.match(format):
            raise InputError(
                "model snapshot format must be a short label",
                expected="letters, digits, '.', '_' or '-' (1-40)",
                found=format,
            )
        who = who or self.who
        with self._write() as s:
            campaign = self._campaign(s, name, lock=True)
            self._bump(campaign, None)
            round_id = None
            if round_number is not None:
                round_id = s.scalar(
                    select(RoundRow.id).where(
                        RoundRow.campaign_id == campaign.id, RoundRow.number == round_number
                    )
                )
                if round_id is None:
                    raise InputError(
                        f"campaign '{name}' has no such round",
                        expected="an existing round number",
                        found=round_number,
                    )
            snap = ModelSnapshotRow(
                campaign_id=campaign.id,
                round_id=round_id,
                kind=kind,
                format=format,
                blob=bytes(blob),
                metrics=dict(metrics),
                created_at=utcnow(),
            )
            s.add(snap)
            s.flush()
            self._audit(
                s,
                who,
                "save_model",
                campaign.id,
                {
                    "snapshot_id": snap.id,
                    "kind": kind,
                    "format": format,
                    "round": round_number,
                    "bytes": len(blob),
                },
            )
            return snap.id

    def latest_model(self, name: str, kind: str | None = None) -> ModelSnapshot | None:
        """The newest snapshot (of ``kind``, or of any kind) for the campaign, or None.

        The blob comes back as stored: deciding whether it is safe to load
        (see ``ModelSnapshot.format``) is the reader's job.
        """
        with self._read() as s:
            campaign = self._campaign(s, name)
            query = select(ModelSnapshotRow).where(ModelSnapshotRow.campaign_id == campaign.id)
            if kind is not None:
                query = query.where(ModelSnapshotRow.kind == kind)
            row = s.scalars(query.order_by(ModelSnapshotRow.id.desc()).limit(1)).first()
            if row is None:
                return None
            return ModelSnapshot(
                id=row.id,
                kind=row.kind,
                format=row.format,
                blob=bytes(row.blob),
                metrics=dict(row.metrics),
                created_at=row.created_at,
            )

    def model_snapshots(self, name: str) -> list[SnapshotInfo]:
        """Every stored model of the campaign, oldest first, without its blob."""
        with self._read() as s:
            campaign = self._campaign(s, name)
            result = s.execute(
                select(
                    ModelSnapshotRow.id,
                    RoundRow.number,
                    ModelSnapshotRow.kind,
                    ModelSnapshotRow.format,
                    func.length(ModelSnapshotRow.blob),
                    ModelSnapshotRow.metrics,
                    ModelSnapshotRow.created_at,
                )
                .outerjoin(RoundRow, ModelSnapshotRow.round_id == RoundRow.id)
                .where(ModelSnapshotRow.campaign_id == campaign.id)
                .order_by(ModelSnapshotRow.id)
            ).all()
        return [
            SnapshotInfo(i, n, k, f, int(b or 0), dict(m), at) for i, n, k, f, b, m, at in result
        ]

    # -- live runs

    def open_run(self, name: str, model: str, who: str | None = None) -> RunRecord:
        """The run called ``name``, created (with an audit entry) if new. Reopening a run
        (a restarted twin) appends to it; its twin kind must be the same."""
        if not name or len(name) > 200:
            raise InputError("bad run name", expected="1 to 200 characters", found=name)
        with self._write() as s:
            row = s.scalar(select(RunRow).where(RunRow.name == name))
            if row is None:
                row = RunRow(
                    name=name, model=model, created_at=utcnow(), created_by=who or self.who
                )
                s.add(row)
                s.flush()
                self._audit(s, who or self.who, "create_run", None, {"run": name, "model": model})
            elif row.model != model:
                raise InputError(
                    f"run '{name}' is read by another twin", expected=row.model, found=model
                )
            return RunRecord(row.id, row.name, row.model, row.created_at, row.created_by)

    def _run_id(self, s: Session, name: str) -> int:
        found = s.scalar(select(RunRow.id).where(RunRow.name == name))
        if found is None:
            raise InputError("no such run", expected="a run opened with open_run", found=name)
        return int(found)

    def add_readings(self, run: str, readings: Sequence[ReadingRecord]) -> int:
        """Append ``readings`` to ``run`` in one transaction (all or none); returns how
        many were written."""
        if not readings:
            return 0
        statuses = ("accepted", "late", "rejected")
        with self._write() as s:
            run_id = self._run_id(s, run)
            rows = []
            for r in readings:
                if r.status not in statuses:
                    raise InputError(
                        "bad reading status", expected=" | ".join(statuses), found=r.status
                    )
                rows.append(
                    {
                        "run_id": run_id,
                        "time_h": _finite_or_none(r.time_h),
                        "variable": str(r.variable)[:200],
                        "value": _finite_or_none(r.value),
                        "unit": None if r.unit is None else str(r.unit)[:100],
                        "source": r.source,
                        "received_at": r.received_at,
                        "status": r.status,
                        "reason": r.reason,
                    }
                )
            for batch in _batches(rows, _INSERT_BATCH):
                s.execute(insert(_READINGS), list(batch))
        return len(rows)

    def readings(self, run: str, status: str | None = None) -> list[ReadingRecord]:
        """A run's readings in the order received (optionally of one ``status``)."""
        with self._read() as s:
            query = select(ReadingRow).where(ReadingRow.run_id == self._run_id(s, run))
            if status is not None:
                query = query.where(ReadingRow.status == status)
            rows = s.scalars(query.order_by(ReadingRow.id)).all()
            return [
                ReadingRecord(
                    r.time_h,
                    r.variable,
                    r.value,
                    r.unit,
                    r.source,
                    r.received_at,
                    r.status,
                    r.reason,
                )
                for r in rows
            ]

    def reading_counts(self, run: str) -> dict[str, int]:
        """Readings of ``run`` per status (``accepted``, ``late``, ``rejected``)."""
        with self._read() as s:
            run_id = self._run_id(s, run)
            rows = s.execute(
                select(ReadingRow.status, func.count())
                .where(ReadingRow.run_id == run_id)
                .group_by(ReadingRow.status)
            ).all()
        counts = {"accepted": 0, "late": 0, "rejected": 0}
        counts.update({str(k): int(v) for k, v in rows})
        return counts

    # -- audit

    def record_event(
        self,
        action: str,
        detail: Mapping[str, Any],
        who: str | None = None,
        campaign: str | None = None,
    ) -> EventRecord:
        """Append one event to the audit log (e.g. ``alarm.raised``) and return it.

        ``action``: lower-case dotted name, at most 100 characters; ``detail``: a JSON
        object. The audit log is append-only, so an event is a fact that is never changed;
        state such as "which alarms are active" is derived by folding the events.
        """
        if not isinstance(action, str) or len(action) > 100 or not _ACTION.match(action):
            raise InputError(
                "bad event action",
                expected="lower-case dotted name of 1 to 100 characters, e.g. alarm.raised",
                found=action,
            )
        try:
            payload = json.loads(json.dumps(dict(detail), allow_nan=False))
        except (TypeError, ValueError) as err:
            raise InputError(f"event detail must be a JSON object ({err})") from None
        who = who or self.who
        with self._write() as s:
            campaign_id = None if campaign is None else self._campaign(s, campaign).id
            row = AuditRow(
                at=utcnow(), who=who, action=action, campaign_id=campaign_id, detail=payload
            )
            s.add(row)
            s.flush()
            return EventRecord(row.id, row.at, who, action, campaign, payload)

    def events(self, prefix: str | None = None, campaign: str | None = None) -> list[EventRecord]:
        """Audit-log entries, oldest first, whose action starts with ``prefix`` (e.g.
        ``"alarm."``), of one campaign or of the whole store."""
        with self._read() as s:
            query = (
                select(AuditRow, CampaignRow.name)
                .outerjoin(CampaignRow, AuditRow.campaign_id == CampaignRow.id)
                .order_by(AuditRow.id)
            )
            if prefix:
                escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                query = query.where(AuditRow.action.like(escaped + "%", escape="\\"))
            if campaign is not None:
                query = query.where(AuditRow.campaign_id == self._campaign(s, campaign).id)
            return [
                EventRecord(row.id, row.at, row.who, row.action, name, dict(row.detail))
                for row, name in s.execute(query).all()
            ]

    def audit(self, name: str | None = None) -> pd.DataFrame:
        """The audit log, oldest first, of one campaign or (``name=None``) of the whole store.

        Columns: ``id``, ``at`` (UTC), ``who``, ``action``, ``campaign`` (name or
        None), ``detail`` (dict), ``origin`` (client address of a service
        request, else None), ``project_id``.
        """
        with self._read() as s:
            query = (
                select(
                    AuditRow.id,
                    AuditRow.at,
                    AuditRow.who,
                    AuditRow.action,
                    CampaignRow.name,
                    AuditRow.detail,
                    AuditRow.origin,
                    AuditRow.project_id,
                )
                .outerjoin(CampaignRow, AuditRow.campaign_id == CampaignRow.id)
                .order_by(AuditRow.id)
            )
            if name is not None:
                query = query.where(AuditRow.campaign_id == self._campaign(s, name).id)
            result = s.execute(query).all()
        return _frame(
            [tuple(r) for r in result],
            ["id", "at", "who", "action", "campaign", "detail", "origin", "project_id"],
        )


# --------------------------------------------------------------------- helpers


# Campaign reads select plain columns: rows without the ORM's identity map and
# object bookkeeping, several times cheaper per row for the API's hot routes.
_CAMPAIGN_COLUMNS = select(*CampaignRow.__table__.c)


def _campaign_record(row: Any) -> CampaignRecord:
    """A :class:`CampaignRecord` from a ``CampaignRow`` or a row of its columns."""
    return CampaignRecord(
        id=row.id,
        name=row.name,
        space_yaml=row.space_yaml,
        objectives=[dict(o) for o in row.objectives],
        created_at=row.created_at,
        created_by=row.created_by,
        project_id=row.project_id,
        version=row.version,
    )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_rows(rows: Sequence[Mapping[str, Any]], filename: str, before: int) -> None:
    """Every row has the fields an ingest needs; rows count on from ``before``."""
    for i, row in enumerate(rows, start=before + 1):
        for field in ("key", "params", "objective", "value"):
            if field not in row:
                raise InputError("row has no such field", file=filename, row=i, column=field)


def _existing_keys(s: Session, campaign_id: int, keys: Sequence[str]) -> dict[str, int]:
    """Map each of ``keys`` that the campaign holds to its design id."""
    found: dict[str, int] = {}
    for chunk in _chunks(keys):
        rows = s.execute(
            select(DesignRow.key, DesignRow.id).where(
                DesignRow.campaign_id == campaign_id, DesignRow.key.in_(chunk)
            )
        ).all()
        found.update({k: i for k, i in rows})
    return found


def _existing_measurements(
    s: Session, design_ids: Sequence[int]
) -> set[tuple[int, str, str | None]]:
    """``(design_id, objective, source)`` of every measurement of these designs."""
    found: set[tuple[int, str, str | None]] = set()
    for chunk in _chunks(list(dict.fromkeys(design_ids))):
        rows = s.execute(
            select(MeasurementRow.design_id, MeasurementRow.objective, MeasurementRow.source).where(
                MeasurementRow.design_id.in_(chunk)
            )
        ).all()
        found.update((d, o, src) for d, o, src in rows)
    return found


def _finite_or_none(value: Any) -> float | None:
    """A finite float, else None (NaN and infinities are not stored as numbers)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _row_float(value: Any, filename: str, row: int, column: str) -> float | None:
    try:
        return _opt_float(value)
    except (TypeError, ValueError) as err:
        raise InputError(
            "not a number", file=filename, row=row, column=column, expected="a number", found=value
        ) from err


def _json_or_none(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else {k: _plain(v) for k, v in value.items()}


def _plain(value: Any) -> Any:
    """Tuples (e.g. ``(mean, std)``) as lists, NaN as None: what JSON can hold."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame.from_records(rows, columns=columns)


def _with_params(
    base: pd.DataFrame, params: list[dict[str, Any]], tail: pd.DataFrame | None
) -> pd.DataFrame:
    """``base``, then one column per parameter (first-seen order), then ``tail``.

    A parameter whose name collides with a fixed column is prefixed ``param:``.
    """
    import pandas as pd

    names = list(dict.fromkeys(k for p in params for k in p))
    fixed = set(base.columns) | (set(tail.columns) if tail is not None else set())
    cols = {
        (f"param:{n}" if n in fixed else n): pd.Series([p.get(n) for p in params], dtype="object")
        for n in names
    }
    expanded = pd.DataFrame(cols, index=base.index)
    # Numeric parameters read back as numbers, not objects.
    expanded = expanded.infer_objects()
    parts = [base, expanded] + ([tail] if tail is not None else [])
    return pd.concat(parts, axis=1)
