"""Last stage, finish: the run's outcome recorded (stage counts plus warehouse totals), and the
warehouse summary the CLI and the demo print."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.stages.runs import (
    one_stage_counts,
    stage_run,
)
from pipeline.warehouse import get_engine
from pipeline.warehouse.queries import articles_by_status, failures_by_reason
from pipeline.warehouse.schema import article, feed, feed_poll, pipeline_run, source


def warehouse_summary(engine: Engine | None = None) -> dict[str, Any]:
    """What the warehouse holds: feeds with their last poll, articles by status and reason."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        last_poll = (
            sa.select(feed_poll.c.feed_id, sa.func.max(feed_poll.c.id).label("poll_id"))
            .group_by(feed_poll.c.feed_id)
            .subquery()
        )
        feeds = (
            conn.execute(
                sa.select(
                    source.c.name.label("source"),
                    feed.c.url,
                    feed.c.enabled,
                    feed_poll.c.status,
                    feed_poll.c.http_status,
                    feed_poll.c.entries_seen,
                    feed_poll.c.entries_new,
                    feed_poll.c.error,
                    feed_poll.c.warning,
                )
                .select_from(feed)
                .join(source, source.c.id == feed.c.source_id)
                .outerjoin(last_poll, last_poll.c.feed_id == feed.c.id)
                .outerjoin(feed_poll, feed_poll.c.id == last_poll.c.poll_id)
                .order_by(source.c.name)
            )
            .mappings()
            .all()
        )
        by_status = articles_by_status(conn)
        failures = failures_by_reason(conn)
        empty_text = conn.execute(
            sa.select(sa.func.count())
            .select_from(article)
            .where(
                article.c.status == "extracted",
                sa.or_(article.c.text.is_(None), sa.func.length(article.c.text) == 0),
            )
        ).scalar_one()
        tables = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (source, feed, feed_poll, article, pipeline_run)
        }
    return {
        "feeds": [dict(f) for f in feeds],
        "articles_by_status": by_status,
        "failures": [{"status": s, "reason": r, "count": n} for s, r, n in failures],
        "extracted_with_empty_text": empty_text,
        "row_counts": tables,
    }


def finish_run(run_id: str, **stage_counts: Any) -> dict[str, Any]:
    """Last stage: record the run's outcome (stage counts plus warehouse totals), return it.

    A stage run by the DAG's mapped batch workers comes as the sequence of their counts, which
    are combined (:func:`combine_counts`)."""
    engine = get_engine()
    with stage_run(engine, run_id, "finish") as counts:
        summary = warehouse_summary(engine)
        counts.update(
            {
                "stages": {
                    k: one_stage_counts(v) for k, v in stage_counts.items() if v is not None
                },
                "articles_by_status": summary["articles_by_status"],
            }
        )
    return counts
