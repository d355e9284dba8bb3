"""lsh_band UNLOGGED on PostgreSQL (issue 5): the band index's writes skip the WAL.

Each deduped article writes ~127 band rows at random places of a multi-GB index; logged, each
first touch of an index page after a checkpoint writes the whole 8 kB page to the WAL. At a
million stored articles (bench_dedupe.py, default server settings) unlogged cut band writes
from 3.4 to 2.6 ms an article and lookups from 5.2 to 3.1 ms (fewer dirty pages to write back).
The table is derived data (every row follows from article_signature and the prune rule): crash
recovery empties an unlogged table, and the next dedupe run rebuilds it (``restore_bands``).
Standbys do not see it, which is fine: only dedupe, on the primary, reads it. SQLite has no
such mode.

Revision ID: 20261130_0009
Revises: 20261130_0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0009"
down_revision = "20261130_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("alter table lsh_band set unlogged")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("alter table lsh_band set logged")
