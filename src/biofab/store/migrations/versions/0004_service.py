"""The shared service: users, API tokens, projects, memberships; campaign project and version.

Also says where each audited write came from (``audit_log.origin``) and which
project it touched (``audit_log.project_id``).

Every new column of an existing table is added with a plain ``ADD COLUMN``,
never a batch rebuild: on SQLite a rebuilt ``audit_log`` would lose its
append-only triggers, and a rebuilt ``campaigns`` table would trip the foreign
keys that point at it. (SQLite accepts ``ADD COLUMN ... REFERENCES`` for a
nullable column; the constraint then has no name, which SQLite cannot show anyway.)

Revision ID: 0004_service
Revises: 0003_readings
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_service"
down_revision: str | None = "0003_readings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=True),
        sa.Column("site_admin", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        _ts("created_at"),
        _ts("expires_at", nullable=True),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_tokens_user_id_users"),
        sa.UniqueConstraint("sha256", name="uq_api_tokens_sha256"),
    )
    op.create_index("ix_api_tokens_prefix", "api_tokens", ["prefix"])
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("name", name="uq_projects_name"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_memberships"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_memberships_project_id_projects"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_memberships_user_id_users"),
        sa.UniqueConstraint("project_id", "user_id", name="uq_memberships_project_id"),
    )
    _add_project_fk("campaigns")
    op.add_column(
        "campaigns", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column("audit_log", sa.Column("origin", sa.String(200), nullable=True))
    _add_project_fk("audit_log")


def _add_project_fk(table: str) -> None:
    """A nullable ``project_id`` referencing ``projects``, added in place on both backends."""
    name = f"fk_{table}_project_id_projects"
    if op.get_context().dialect.name == "sqlite":
        # Alembic would ALTER the constraint in separately (SQLite cannot); a column
        # constraint in ADD COLUMN is plain SQLite and keeps the table and its triggers.
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN project_id INTEGER "
            f"CONSTRAINT {name} REFERENCES projects (id)"
        )
        return
    op.add_column(table, sa.Column("project_id", sa.Integer(), nullable=True))
    op.create_foreign_key(name, table, "projects", ["project_id"], ["id"])


def downgrade() -> None:
    # Dropping audit_log columns would rebuild the table on SQLite and drop its
    # triggers: history is not rewritten, so this revision cannot be undone.
    raise NotImplementedError("0003_service cannot be downgraded: the audit log is append-only")
