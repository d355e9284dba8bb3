"""Feed health, adaptive scheduling and shared per-host politeness (issue 3).

Revision ID: 20261122_0002
Revises: 20261122_0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261122_0002"
down_revision = "20261122_0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.add_column(sa.Column("poll_url", sa.Text))
        batch.add_column(sa.Column("poll_interval_s", sa.Integer))
        batch.add_column(sa.Column("last_success_at", TS))
    op.create_table(
        "host",
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("next_request_at", sa.Float, nullable=False),
        sa.Column("in_flight", sa.Integer, nullable=False),
        sa.Column("lease_expires_at", sa.Float, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("backoffs", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("host", name="pk_host"),
    )


def downgrade() -> None:
    op.drop_table("host")
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("last_success_at")
        batch.drop_column("poll_interval_s")
        batch.drop_column("poll_url")
