"""Warehouse seeding shared by tests (and the claims benchmark): a source with one feed."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.warehouse.schema import feed, source


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
