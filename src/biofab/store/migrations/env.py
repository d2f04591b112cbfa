"""Alembic environment of the biofab store.

``Store`` runs migrations on its own engine and passes the open connection in
``config.attributes["connection"]``; the ``alembic`` command line (with
``biofab/store/alembic.ini``) connects to ``BIOFAB_DB`` or the ini's URL instead.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from biofab.store.schema import Base

# Any fixed 64-bit number, shared by every biofab process: it serialises
# concurrent upgrades of one PostgreSQL database.
PG_MIGRATION_LOCK = 0x62696F666162

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Taken before Alembic reads the version table, so a second process
            # waits here and then finds the schema already at head.
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
        context.run_migrations()


def run_offline() -> None:
    """Emit SQL for ``alembic upgrade --sql`` without connecting."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Upgrade through the Store's connection, or a new one from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from biofab.store.store import normalize_url

    url = os.environ.get("BIOFAB_DB") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set BIOFAB_DB or sqlalchemy.url in alembic.ini")
    engine = create_engine(normalize_url(url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
