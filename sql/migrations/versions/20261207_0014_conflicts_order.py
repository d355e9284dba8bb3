"""The Conflicts view's order as one index: claim_relation (created_at, claim_b).

The Media Monitor lists conflicts newest first, ties broken by claim_b. With an index on
created_at alone, PostgreSQL sorts every relation found in the same second (one ledger run
writes thousands of relations with one timestamp): at 100,000 relations the default view took
~200 ms for 50 rows. The two-column index gives the rows in order and serves created_at alone.

Revision ID: 20261207_0014
Revises: 20261207_0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "20261207_0014"
down_revision = "20261207_0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_claim_relation_created_at_claim_b", "claim_relation", ["created_at", "claim_b"]
    )
    op.drop_index("ix_claim_relation_created_at", table_name="claim_relation")


def downgrade() -> None:
    op.create_index("ix_claim_relation_created_at", "claim_relation", ["created_at"])
    op.drop_index("ix_claim_relation_created_at_claim_b", table_name="claim_relation")
