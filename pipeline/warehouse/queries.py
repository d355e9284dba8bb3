"""Small read queries shared by the CLI summary, the demo reports and the Media Monitor view."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.warehouse.schema import article


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
