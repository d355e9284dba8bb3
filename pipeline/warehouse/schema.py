"""Warehouse tables (SQLAlchemy Core). The source of truth for migrations in sql/migrations/.

The ``article.status`` column is the stage state machine (``ARTICLE_STATUSES`` below, in pipeline
order): every stage selects rows in one status, does its work, and advances them in one
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

# Naming convention so constraint names are stable across SQLite and PostgreSQL and Alembic can
# drop them by name.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = sa.DateTime(timezone=True)

# Article statuses, in pipeline order, then failure statuses.
ARTICLE_STATUSES = (
    "discovered",
    "fetched",
    "extracted",
    "deduped",
    "analysed",
    "published",
    "fetch_failed",
    "extract_failed",
    "quarantined",
)
FEED_STATUSES = (
    "new",
    "ok",
    "not_modified",
    "http_error",
    "parse_error",
    "timeout",
    "blocked",
    "disabled",
)
# What one poll of a feed came to (feed_poll.status).
POLL_STATUSES = (
    "ok",
    "not_modified",
    "http_error",
    "parse_error",
    "blocked",
    "timeout",
    "disabled",
    # Not a poll outcome of the feed: its host asked for a pause (Retry-After) we did not wait out.
    "deferred",
)
# How a stage of a run ended (pipeline_run.status); "abandoned": its process died mid-stage.
STAGE_STATUSES = ("running", "success", "failed", "abandoned")


def one_of(column: str, values: Sequence[str]) -> sa.CheckConstraint:
    """A CHECK that ``column`` holds one of ``values`` (or null), named ``ck_<table>_<column>``.

    Every status and kind column gets one, built from the constant the code writes from, so
    the database refuses a value the code does not know (a typo, a stale worker, a hand edit).
    """
    listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return sa.CheckConstraint(f"{column} in ({listed})", name=column)


source = sa.Table(
    "source",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("homepage", sa.Text),
    sa.Column("language", sa.String(16)),
    sa.Column("created_at", TS, nullable=False),
)

feed = sa.Table(
    "feed",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id"), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False, unique=True),
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
    # Feed health (issue 3). poll_url: where the feed now lives after a permanent redirect (null =
    # url, which stays the registry key); poll_interval_s: the adaptive interval in force.
    sa.Column("poll_url", sa.Text),
    sa.Column("poll_interval_s", sa.Integer),
    sa.Column("last_success_at", TS),
    one_of("status", FEED_STATUSES),
)

feed_poll = sa.Table(
    "feed_poll",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("feed_id", sa.Integer, sa.ForeignKey("feed.id"), nullable=False),
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
    # One poll per feed per run: re-running a run's poll task replaces its rows.
    sa.UniqueConstraint("run_id", "feed_id"),
    one_of("status", POLL_STATUSES),
)

article = sa.Table(
    "article",
    metadata,
    # SHA-256 (hex) of the canonical entry URL: the same story URL from two feeds is one row.
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id"), nullable=False, index=True),
    sa.Column("feed_id", sa.Integer, sa.ForeignKey("feed.id"), nullable=False),
    sa.Column("guid", sa.Text),
    sa.Column("feed_title", sa.Text),
    sa.Column("feed_summary", sa.Text),
    sa.Column("feed_published_at", TS),
    sa.Column("discovered_at", TS, nullable=False),
    sa.Column("discovered_run_id", sa.String(250), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("failure_reason", sa.String(40)),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", TS),
    # fetch
    sa.Column("final_url", sa.Text),
    sa.Column("http_status", sa.Integer),
    sa.Column("content_type", sa.Text),
    sa.Column("raw_key", sa.String(64)),
    sa.Column("fetched_at", TS),
    # extract
    sa.Column("title", sa.Text),
    sa.Column("text", sa.Text),
    sa.Column("authors", sa.Text),
    sa.Column("published_at", TS, index=True),
    # "ok", or why claims and entities were not extracted ("skipped: language de"); null until
    # the analyse stage has seen the article.
    sa.Column("nlp_status", sa.String(60)),
    # The claim-extractor version that analysed the article (claims or none): what reprocess
    # compares, so articles without a claim are found too. NULL: not analysed, or unknown.
    sa.Column("nlp_version", sa.String(40)),
    sa.Column("language", sa.String(16)),
    sa.Column("sitename", sa.Text),
    sa.Column("canonical_url", sa.Text),
    sa.Column("word_count", sa.Integer),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("extractor_version", sa.String(40)),
    sa.Column("extracted_at", TS),
    sa.Column("updated_at", TS, nullable=False),
    # Fetch and extraction details (issue 4). declared_charset: the charset parameter of the HTTP
    # Content-Type at fetch time (kept so re-extraction from the raw archive decodes the same way);
    # charset: what the body was actually decoded with; extract_warnings: JSON list of what looked
    # wrong but did not fail the page (bogus charset, insane date, off-site canonical).
    sa.Column("declared_charset", sa.String(40)),
    sa.Column("charset", sa.String(40)),
    sa.Column("extract_warnings", sa.JSON(none_as_null=True)),
    # The page carried paywall markup (a paywall element, a subscription prompt at the end of the
    # text, isAccessibleForFree=false) but gave a full text, which is kept (issue 20); a page
    # that gave only a teaser fails with failure_reason paywall_suspected instead.
    sa.Column("paywall_suspected", sa.Boolean, nullable=False, server_default=sa.false()),
    one_of("status", ARTICLE_STATUSES),
)

pipeline_run = sa.Table(
    "pipeline_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("error", sa.Text),
    # One row per stage of a run: a retried task overwrites its own row instead of adding one.
    sa.UniqueConstraint("run_id", "stage"),
    one_of("status", STAGE_STATUSES),
)

sa.Index("ix_article_status_next_attempt", article.c.status, article.c.next_attempt_at)
# Hash on PostgreSQL: a B-tree entry is capped at ~2.7 kB and canonical URLs come from pages.
sa.Index("ix_article_canonical_url", article.c.canonical_url, postgresql_using="hash")
# Analysts filter published articles by outlet and time, and by language (v_articles, v_claims).
sa.Index("ix_article_source_id_published_at", article.c.source_id, article.c.published_at)
sa.Index("ix_article_language", article.c.language)
# The Media Monitor's chart window and a feed's poll history (issue 18).
sa.Index("ix_article_discovered_at", article.c.discovered_at)
sa.Index("ix_feed_poll_feed_id_id", feed_poll.c.feed_id, feed_poll.c.id)
