"""claim.held (issue 19): a claim the quality gate holds back while its article publishes.

A claim that fails a claim expectation (a quote without a speaker) used to quarantine its whole
article; now only the claim is held: out of the claim views and the ledger's queue until its
quarantine row is released.

Revision ID: 20261207_0012
Revises: 20261206_0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_0012"
down_revision = "20261206_0011"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both backends, as in 0011: a batch-mode copy of claim would have to drop
# the table claim_measure, claim_relation and the cluster tables point at. The server default
# fills the column for existing rows, so NOT NULL holds from the start.
def upgrade() -> None:
    op.add_column("claim", sa.Column("held", sa.Boolean, nullable=False, server_default=sa.false()))
    # Claims with an open quarantine row are held from now on, so that releasing the row (which
    # clears the flag) means the same for claims quarantined before this revision.
    op.execute(
        "update claim set held = true where id in (select cast(entity_id as integer) "
        "from quarantine where entity = 'claim' and released_at is null)"
    )


def downgrade() -> None:
    op.drop_column("claim", "held")
