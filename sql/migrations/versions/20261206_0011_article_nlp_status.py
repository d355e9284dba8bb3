"""article.nlp_status and claim.speaker_kind (issue 16): whether claims were extracted, or why
not ("skipped: language de" for a language without a configured model); what kind of source
gave a claim (person, organisation, document, anonymous).

Revision ID: 20261206_0011
Revises: 20261206_0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_0011"
down_revision = "20261206_0010"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both backends (SQLite has ADD and DROP COLUMN since 3.35): a batch-mode
# copy of article would have to drop the table every other table's foreign keys point at.
def upgrade() -> None:
    op.add_column("article", sa.Column("nlp_status", sa.String(60)))
    op.add_column("claim", sa.Column("speaker_kind", sa.String(20)))


def downgrade() -> None:
    op.drop_column("claim", "speaker_kind")
    op.drop_column("article", "nlp_status")
