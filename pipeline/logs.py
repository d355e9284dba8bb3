"""Task logs that a person can read (issue 18): library noise kept out, a summary at the end.

An Airflow task log shows what the stage logged at INFO. Great Expectations alone wrote ~220
INFO lines on import ("Skipping registering function ...") before the gate said anything, and
the extraction libraries log per page at DEBUG. Their warnings and errors still come through.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.textfmt import text_table

# Libraries whose records below WARNING are registration chatter or per-page tracing, never
# something an operator acts on.
QUIET_LOGGERS = ("great_expectations", "trafilatura", "courlan", "htmldate", "tzlocal")

# Poll outcomes that mean the feed was read (or was unchanged): any other is a broken feed.
HEALTHY_POLLS = ("ok", "not_modified")
MAX_ERROR_CHARS = 200

_QUIET_PREFIXES = tuple(f"{name}." for name in QUIET_LOGGERS)


def quiet_library_loggers() -> None:
    """Keep the records below WARNING of :data:`QUIET_LOGGERS` (and their children) out of
    the logs. Called where a process starts a stage and where GX is imported; calling it again
    is cheap and needed: a library may set its own module logger's level when it is imported
    (GX sets ``great_expectations.data_context.types.base`` to INFO), which a call made before
    that import cannot cover."""
    for name in QUIET_LOGGERS:
        top = logging.getLogger(name)
        if top.level < logging.WARNING:
            top.setLevel(logging.WARNING)
    # Children left NOTSET inherit WARNING from the top logger; only levels a library set
    # explicitly below WARNING need lifting.
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (
            isinstance(logger, logging.Logger)
            and name.startswith(_QUIET_PREFIXES)
            and logging.NOTSET < logger.level < logging.WARNING
        ):
            logger.setLevel(logging.WARNING)


def _cells(counts: Mapping[str, Any], prefix: str = "") -> list[list[str]]:
    rows: list[list[str]] = []
    for key, value in counts.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            # by_status, quarantine_rows: one line per entry reads better than one long dict.
            rows += _cells(value, f"{name}.") if value else [[name, "-"]]
        elif isinstance(value, list | tuple):
            rows.append([name, f"{len(value)} item(s)"])
        elif isinstance(value, float):
            rows.append([name, f"{value:.3g}"])
        else:
            rows.append([name, str(value)])
    return rows


def format_counts(stage: str, run_id: str, counts: Mapping[str, Any]) -> str:
    """A stage's counts as an aligned two-column table under a title line naming the stage and
    run; nested dicts become one row per entry (``by_status.ok``), lists their length."""
    shown = {k: v for k, v in counts.items() if k != "process"}
    table = text_table(_cells(shown), ["count", "value"]) if shown else "(no counts)"
    return f"summary of stage {stage}, run {run_id}:\n{table}"


def broken_feeds(engine: Engine, run_id: str) -> list[tuple[str, str, str]]:
    """(feed URL, poll status, error) of each feed whose poll in ``run_id`` failed, as the
    poll stage recorded them in ``feed_poll``."""
    from pipeline.warehouse.schema import feed, feed_poll

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(feed.c.url, feed_poll.c.status, feed_poll.c.error)
            .join(feed, feed.c.id == feed_poll.c.feed_id)
            .where(feed_poll.c.run_id == run_id, feed_poll.c.status.not_in(HEALTHY_POLLS))
            .order_by(feed.c.url)
        ).all()
    return [(url, status, (error or "")[:MAX_ERROR_CHARS]) for url, status, error in rows]


def log_stage_summary(
    engine: Engine, stage: str, run_id: str, counts: Mapping[str, Any], *, logger: logging.Logger
) -> None:
    """End a stage's log with its summary table (INFO); after a poll, each broken feed with its
    error as a WARNING, so a failing feed stands out in a green task's log."""
    logger.info("%s", format_counts(stage, run_id, counts))
    if stage != "poll":
        return
    try:
        broken = broken_feeds(engine, run_id)
    except sa.exc.SQLAlchemyError as exc:  # the summary must never fail a finished stage
        logger.warning("summary of stage poll, run %s: broken feeds not read: %s", run_id, exc)
        return
    if broken:
        logger.warning(
            "summary of stage poll, run %s: %d feed(s) broken:\n%s",
            run_id,
            len(broken),
            text_table(broken, ["feed", "status", "error"]),
        )


__all__ = [
    "QUIET_LOGGERS",
    "broken_feeds",
    "format_counts",
    "log_stage_summary",
    "quiet_library_loggers",
]
