"""article.nlp_version (issue 17): which claim-extractor version analysed the article.

Reprocessing claims after a rule change must find every article the old rules analysed, also
those in which they found no claim: a version carried only by claim rows left claim-less
articles out of reach. Backfilled from the article's claims; an article analysed without a
claim keeps NULL ("unknown"), which the reprocess stage treats as out of date.

Revision ID: 20261207_0015
Revises: 20261207_0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_0015"
down_revision = "20261207_0014"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both backends, as in 0011: a batch-mode copy of article would have to
# drop the table every other table's foreign keys point at.
def upgrade() -> None:
    op.add_column("article", sa.Column("nlp_version", sa.String(40)))
    op.execute(
        "update article set nlp_version = (select max(c.extractor_version) from claim as c"
        " where c.article_id = article.id) where nlp_status is not null"
    )


def downgrade() -> None:
    op.drop_column("article", "nlp_version")
