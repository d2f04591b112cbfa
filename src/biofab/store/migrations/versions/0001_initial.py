"""Initial schema: campaigns, rounds, designs, imports, measurements, models, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "audit_log is append-only"


def _ts(name: str) -> sa.Column[object]:
    """A non-null timezone-aware timestamp column (UTC)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("space_yaml", sa.Text(), nullable=False),
        sa.Column("objectives", sa.JSON(), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("name", name="uq_campaigns_name"),
    )
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("recommender", sa.String(200), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rounds"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_rounds_campaign_id_campaigns"
        ),
        sa.UniqueConstraint("campaign_id", "number", name="uq_rounds_campaign_id"),
    )
    op.create_table(
        "designs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("predicted", sa.JSON(), nullable=True),
        sa.Column("acquisition", sa.Float(), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_designs"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_designs_campaign_id_campaigns"
        ),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name="fk_designs_round_id_rounds"),
        sa.UniqueConstraint("campaign_id", "key", name="uq_designs_campaign_id"),
    )
    op.create_index("ix_designs_round_id", "designs", ["round_id"])
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_imports"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_imports_campaign_id_campaigns"
        ),
        sa.UniqueConstraint("campaign_id", "sha256", name="uq_imports_campaign_id"),
    )
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("design_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("objective", sa.String(200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("std", sa.Float(), nullable=True),
        sa.Column("n_replicates", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(100), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_measurements"),
        sa.ForeignKeyConstraint(
            ["design_id"], ["designs.id"], name="fk_measurements_design_id_designs"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name="fk_measurements_import_id_imports"
        ),
        sa.UniqueConstraint("design_id", "objective", "source", name="uq_measurements_design_id"),
    )
    op.create_index("ix_measurements_import_id", "measurements", ["import_id"])
    op.create_table(
        "model_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(200), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_model_snapshots"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_model_snapshots_campaign_id_campaigns"
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name="fk_model_snapshots_round_id_rounds"
        ),
    )
    op.create_index(
        "ix_model_snapshots_campaign_id_kind", "model_snapshots", ["campaign_id", "kind"]
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _ts("at"),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_audit_log_campaign_id_campaigns"
        ),
    )
    op.create_index("ix_audit_log_campaign_id", "audit_log", ["campaign_id"])
    _install_append_only_triggers()


def _install_append_only_triggers() -> None:
    """Make the database itself refuse to rewrite history, whatever client connects."""
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION biofab_audit_log_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'integrity_constraint_violation'; "
            "END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION biofab_audit_log_append_only()"
        )
        # TRUNCATE bypasses row triggers; a statement trigger closes that door too.
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION biofab_audit_log_append_only()"
        )
    else:
        raise NotImplementedError(f"biofab store supports SQLite and PostgreSQL, not {dialect}")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS biofab_audit_log_append_only()")
    for table in (
        "audit_log",
        "model_snapshots",
        "measurements",
        "imports",
        "designs",
        "rounds",
        "campaigns",
    ):
        op.drop_table(table)
