"""Model snapshots say how their blob is stored; existing rows are marked as pickles.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every snapshot written before this revision is a pickle. The server default
# also labels any row inserted without a format as one: the untrusted case.
LEGACY = "pickle"


def upgrade() -> None:
    with op.batch_alter_table("model_snapshots") as batch:
        batch.add_column(sa.Column("format", sa.String(40), nullable=False, server_default=LEGACY))


def downgrade() -> None:
    with op.batch_alter_table("model_snapshots") as batch:
        batch.drop_column("format")
