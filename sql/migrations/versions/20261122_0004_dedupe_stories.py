"""MinHash signatures, LSH bands, stories and syndication provenance (issue 5).

Revision ID: 20261122_0004
Revises: 20261122_0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261122_0004"
down_revision = "20261122_0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "article_signature",
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title_hash", sa.String(64)),
        sa.Column("shingle_count", sa.Integer, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("agency", sa.String(100)),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("article_id", name="pk_article_signature"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["article.id"], name="fk_article_signature_article_id_article"
        ),
    )
    op.create_index("ix_article_signature_seen_at", "article_signature", ["seen_at"])
    op.create_index("ix_article_signature_content_hash", "article_signature", ["content_hash"])
    op.create_index(
        "ix_article_signature_source_id_title_hash",
        "article_signature",
        ["source_id", "title_hash"],
    )
    op.create_table(
        "lsh_band",
        sa.Column("band", sa.SmallInteger, nullable=False),
        sa.Column("hash", sa.BigInteger, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("band", "hash", "day", "article_id", name="pk_lsh_band"),
    )
    op.create_index("ix_lsh_band_article_id", "lsh_band", ["article_id"])
    op.create_table(
        "dedupe_link",
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("other_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.Column("overlap_article", sa.Float, nullable=False),
        sa.Column("overlap_other", sa.Float, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("article_id", "other_id", name="pk_dedupe_link"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["article.id"], name="fk_dedupe_link_article_id_article"
        ),
        sa.ForeignKeyConstraint(
            ["other_id"], ["article.id"], name="fk_dedupe_link_other_id_article"
        ),
    )
    op.create_index("ix_dedupe_link_other_id", "dedupe_link", ["other_id"])
    op.create_table(
        "story",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("first_article_id", sa.String(64), nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("first_source_id", sa.Integer, nullable=False),
        sa.Column("article_count", sa.Integer, nullable=False),
        sa.Column("outlet_count", sa.Integer, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_story"),
        sa.ForeignKeyConstraint(
            ["first_article_id"], ["article.id"], name="fk_story_first_article_id_article"
        ),
    )
    op.create_table(
        "article_dedupe",
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("story_id", sa.String(64), nullable=False),
        sa.Column("duplicate_of", sa.String(64)),
        sa.Column("duplicate_kind", sa.String(10)),
        sa.Column("label", sa.String(20), nullable=False),
        sa.Column("copied_from", sa.String(64)),
        sa.Column("overlap", sa.Float),
        sa.Column("similarity", sa.Float),
        sa.Column("agency", sa.String(100)),
        sa.Column("deduped_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("article_id", name="pk_article_dedupe"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["article.id"], name="fk_article_dedupe_article_id_article"
        ),
    )
    op.create_index("ix_article_dedupe_story_id", "article_dedupe", ["story_id"])


def downgrade() -> None:
    op.drop_index("ix_article_dedupe_story_id", table_name="article_dedupe")
    op.drop_table("article_dedupe")
    op.drop_table("story")
    op.drop_index("ix_dedupe_link_other_id", table_name="dedupe_link")
    op.drop_table("dedupe_link")
    op.drop_index("ix_lsh_band_article_id", table_name="lsh_band")
    op.drop_table("lsh_band")
    op.drop_index("ix_article_signature_source_id_title_hash", table_name="article_signature")
    op.drop_index("ix_article_signature_content_hash", table_name="article_signature")
    op.drop_index("ix_article_signature_seen_at", table_name="article_signature")
    op.drop_table("article_signature")
