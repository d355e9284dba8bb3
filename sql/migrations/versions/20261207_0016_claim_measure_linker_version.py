"""claim_measure.linker_version: which linking rules wrote a claim's ledger rows.

After a change to the linking rules, `mediamon_reprocess` (stage ledger) must find the claims
the old rules linked, as the nlp stage finds the articles of an older extractor version
(0015). Rows linked before this revision keep NULL ("unknown"), which the reprocess stage
treats as out of date.

Revision ID: 20261207_0016
Revises: 20261207_0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_0016"
down_revision = "20261207_0015"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both backends, as in 0011 and 0015: a nullable column needs no table copy.
def upgrade() -> None:
    op.add_column("claim_measure", sa.Column("linker_version", sa.String(40)))


def downgrade() -> None:
    op.drop_column("claim_measure", "linker_version")
