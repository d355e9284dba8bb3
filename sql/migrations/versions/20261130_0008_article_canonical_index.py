"""Index article.canonical_url (issue 7): the gate's duplicate check looks published rows up by it.

Without it each gate batch scanned every published article, so gating grew with the size of the
warehouse, not the batch (100k rows: 13x the time of 10k). A hash index on PostgreSQL, because a
B-tree entry is capped at ~2.7 kB and a hostile page may declare a longer canonical URL.

Revision ID: 20261130_0008
Revises: 20261130_0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0008"
down_revision = "20261130_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_article_canonical_url", "article", ["canonical_url"], postgresql_using="hash"
    )


def downgrade() -> None:
    op.drop_index("ix_article_canonical_url", table_name="article")
