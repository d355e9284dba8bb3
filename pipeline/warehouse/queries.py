"""Small queries shared by the CLI summary, the demo reports, the Media Monitor view, the files
ledger and the tests."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.warehouse.schema import article, feed, source


def articles_by_status(conn: Connection) -> dict[str, int]:
    """Article count per pipeline status."""
    query = sa.select(article.c.status, sa.func.count()).group_by(article.c.status)
    return {status: n for status, n in conn.execute(query).tuples()}


def failures_by_reason(conn: Connection) -> list[tuple[str, str, int]]:
    """(status, failure_reason, articles) for every recorded failure, sorted."""
    query = (
        sa.select(article.c.status, article.c.failure_reason, sa.func.count())
        .where(article.c.failure_reason.is_not(None))
        .group_by(article.c.status, article.c.failure_reason)
        .order_by(article.c.status, article.c.failure_reason)
    )
    return [(s, r, n) for s, r, n in conn.execute(query).tuples()]


def add_source_and_feed(
    conn: Connection, *, name: str, feed_url: str, now: datetime, language: str | None = None
) -> tuple[int, int]:
    """Insert an outlet and one healthy feed of it; return (source_id, feed_id)."""
    source_id: int = conn.execute(
        sa.insert(source)
        .values(name=name, language=language, created_at=now)
        .returning(source.c.id)
    ).scalar_one()
    feed_id: int = conn.execute(
        sa.insert(feed)
        .values(
            source_id=source_id,
            url=feed_url,
            language=language,
            tags=[],
            enabled=True,
            status="ok",
            failures=0.0,
            created_at=now,
            updated_at=now,
        )
        .returning(feed.c.id)
    ).scalar_one()
    return source_id, feed_id
