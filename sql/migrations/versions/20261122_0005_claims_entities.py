"""Entities and claims (issue 6).

Revision ID: 20261122_0005
Revises: 20261122_0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261122_0005"
down_revision = "20261122_0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "entity",
        sa.Column("id", sa.Integer),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("normalized", sa.String(300), nullable=False),
        sa.Column("label", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entity"),
        sa.UniqueConstraint("normalized", "label", name="uq_entity_normalized_label"),
    )
    op.create_table(
        "article_entity",
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("article_id", "entity_id", name="pk_article_entity"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["article.id"], name="fk_article_entity_article_id_article"
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entity.id"], name="fk_article_entity_entity_id_entity"
        ),
    )
    op.create_index("ix_article_entity_entity_id", "article_entity", ["entity_id"])
    op.create_table(
        "claim",
        sa.Column("id", sa.Integer),
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("claim_index", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("start_offset", sa.Integer, nullable=False),
        sa.Column("end_offset", sa.Integer, nullable=False),
        sa.Column("quote", sa.Text),
        sa.Column("cue", sa.String(60)),
        sa.Column("cue_stance", sa.String(20)),
        sa.Column("speaker", sa.Text),
        sa.Column("speaker_role", sa.Text),
        sa.Column("speaker_start", sa.Integer),
        sa.Column("speaker_end", sa.Integer),
        sa.Column("value_start", sa.Integer),
        sa.Column("value_end", sa.Integer),
        sa.Column("via", sa.JSON, nullable=False),
        sa.Column("cites", sa.JSON, nullable=False),
        sa.Column("hedges", sa.JSON, nullable=False),
        sa.Column("hedged", sa.Boolean, nullable=False),
        sa.Column("value_low", sa.Float),
        sa.Column("value_high", sa.Float),
        sa.Column("qualifier", sa.String(20)),
        sa.Column("unit", sa.Text),
        sa.Column("rate_per", sa.String(10)),
        sa.Column("period", sa.Text),
        sa.Column("period_start", sa.Date),
        sa.Column("period_end", sa.Date),
        sa.Column("extractor_version", sa.String(40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_claim"),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], name="fk_claim_article_id_article"),
        sa.UniqueConstraint("article_id", "claim_index", name="uq_claim_article_id_claim_index"),
    )
    op.create_index("ix_claim_article_id", "claim", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_claim_article_id", table_name="claim")
    op.drop_table("claim")
    op.drop_index("ix_article_entity_entity_id", table_name="article_entity")
    op.drop_table("article_entity")
    op.drop_table("entity")
