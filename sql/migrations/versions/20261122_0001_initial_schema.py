"""Initial schema: source, feed, feed_poll, article, pipeline_run.

Revision ID: 20261122_0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261122_0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "source",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("homepage", sa.Text),
        sa.Column("language", sa.String(16)),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_source"),
        sa.UniqueConstraint("name", name="uq_source_name"),
    )
    op.create_table(
        "feed",
        sa.Column("id", sa.Integer),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("interval_s", sa.Integer),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("body_hash", sa.String(64)),
        sa.Column("failures", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("last_polled_at", TS),
        sa.Column("next_poll_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed"),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"], name="fk_feed_source_id_source"),
        sa.UniqueConstraint("url", name="uq_feed_url"),
    )
    op.create_index("ix_feed_source_id", "feed", ["source_id"])
    op.create_table(
        "feed_poll",
        sa.Column("id", sa.Integer),
        sa.Column("feed_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("entries_seen", sa.Integer, nullable=False),
        sa.Column("entries_new", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("warning", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_feed_poll"),
        sa.ForeignKeyConstraint(["feed_id"], ["feed.id"], name="fk_feed_poll_feed_id_feed"),
        sa.UniqueConstraint("run_id", "feed_id", name="uq_feed_poll_run_id_feed_id"),
    )
    op.create_table(
        "article",
        sa.Column("id", sa.String(64)),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("feed_id", sa.Integer, nullable=False),
        sa.Column("guid", sa.Text),
        sa.Column("feed_title", sa.Text),
        sa.Column("feed_summary", sa.Text),
        sa.Column("feed_published_at", TS),
        sa.Column("discovered_at", TS, nullable=False),
        sa.Column("discovered_run_id", sa.String(250), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("failure_reason", sa.String(40)),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS),
        sa.Column("final_url", sa.Text),
        sa.Column("http_status", sa.Integer),
        sa.Column("content_type", sa.Text),
        sa.Column("raw_key", sa.String(64)),
        sa.Column("fetched_at", TS),
        sa.Column("title", sa.Text),
        sa.Column("text", sa.Text),
        sa.Column("authors", sa.Text),
        sa.Column("published_at", TS),
        sa.Column("language", sa.String(16)),
        sa.Column("sitename", sa.Text),
        sa.Column("canonical_url", sa.Text),
        sa.Column("word_count", sa.Integer),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("extractor_version", sa.String(40)),
        sa.Column("extracted_at", TS),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_article"),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"], name="fk_article_source_id_source"),
        sa.ForeignKeyConstraint(["feed_id"], ["feed.id"], name="fk_article_feed_id_feed"),
    )
    op.create_index("ix_article_source_id", "article", ["source_id"])
    op.create_index("ix_article_status", "article", ["status"])
    op.create_index("ix_article_status_next_attempt", "article", ["status", "next_attempt_at"])
    op.create_table(
        "pipeline_run",
        sa.Column("id", sa.Integer),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_run"),
        sa.UniqueConstraint("run_id", "stage", name="uq_pipeline_run_run_id_stage"),
    )


def downgrade() -> None:
    op.drop_table("pipeline_run")
    op.drop_index("ix_article_status_next_attempt", table_name="article")
    op.drop_index("ix_article_status", table_name="article")
    op.drop_index("ix_article_source_id", table_name="article")
    op.drop_table("article")
    op.drop_table("feed_poll")
    op.drop_index("ix_feed_source_id", table_name="feed")
    op.drop_table("feed")
    op.drop_table("source")
