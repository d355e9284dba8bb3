"""Fetch retries, raw archive and extraction metadata (issue 4).

Adds to ``article``: ``declared_charset`` (HTTP charset at fetch, so re-extraction from the raw
archive decodes the same way), ``charset`` (what the body was decoded with) and
``extract_warnings`` (JSON list of non-fatal extraction problems).

Revision ID: 20261122_0003
Revises: 20261122_0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261122_0003"
down_revision = "20261122_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.add_column(sa.Column("declared_charset", sa.String(40)))
        batch.add_column(sa.Column("charset", sa.String(40)))
        batch.add_column(sa.Column("extract_warnings", sa.JSON(none_as_null=True)))


def downgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.drop_column("extract_warnings")
        batch.drop_column("charset")
        batch.drop_column("declared_charset")
