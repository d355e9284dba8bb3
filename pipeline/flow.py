"""Stage functions: what DAG tasks and the CLI call. One call per task body.

Each stage lives in its own module of :mod:`pipeline.stages` (poll, fetch, extract, dedupe,
analyse, gate, finish, ledger; ``runs`` for what they share); this module names them for the
DAG files and the CLI, and runs them all in order for ``mediamon run``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pipeline.stages.analyse import analyse_articles
from pipeline.stages.dedupe import dedupe_articles
from pipeline.stages.extract import (
    RETRYABLE_EXTRACT_REASONS,
    ExtractCompute,
    ExtractOutcome,
    extract_articles,
    reextract,
    reextract_requested,
)
from pipeline.stages.fetch import fetch_articles
from pipeline.stages.finish import finish_run, warehouse_summary
from pipeline.stages.gate import gate_articles
from pipeline.stages.ledger import link_claims
from pipeline.stages.poll import poll_feeds
from pipeline.stages.runs import (
    DEFAULT_STAGE_TIMEOUT,
    STAGE_STATUSES,
    STAGE_TIMEOUTS,
    StageFailedError,
    combine_counts,
    raw_archive,
    stage_row_name,
    stage_timeout,
)

# What run_ingest reports as each stage ends: its name, its counts and the seconds it took.
StageProgress = Callable[[str, dict[str, Any], float], None]


def run_ingest(run_id: str, *, progress: StageProgress | None = None) -> dict[str, Any]:
    """All ingest stages in DAG order, without Airflow (CLI ``mediamon run``): poll, fetch,
    extract, dedupe, analyse, gate, finish, then the ledger. ``progress`` is called as each
    stage finishes (the CLI shows it on a terminal)."""

    def timed(name: str, stage: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        started = time.monotonic()
        counts = stage()
        if progress is not None:
            progress(name, counts, time.monotonic() - started)
        return counts

    stages: dict[str, Any] = {"poll": timed("poll", lambda: poll_feeds(run_id))}
    stages["fetch"] = timed("fetch", lambda: fetch_articles(run_id))
    stages["extract"] = timed("extract", lambda: extract_articles(run_id))
    stages["dedupe"] = timed("dedupe", lambda: dedupe_articles(run_id))
    stages["analyse"] = timed("analyse", lambda: analyse_articles(run_id))
    stages["gate"] = timed("gate", lambda: gate_articles(run_id))
    done = timed("finish", lambda: finish_run(run_id, **stages))
    # The ledger is its own DAG under Airflow (scheduled on the published-articles asset).
    done["ledger"] = timed("ledger", lambda: link_claims(run_id))
    return done


__all__ = [
    "DEFAULT_STAGE_TIMEOUT",
    "RETRYABLE_EXTRACT_REASONS",
    "STAGE_STATUSES",
    "STAGE_TIMEOUTS",
    "ExtractCompute",
    "ExtractOutcome",
    "StageFailedError",
    "analyse_articles",
    "combine_counts",
    "dedupe_articles",
    "extract_articles",
    "fetch_articles",
    "finish_run",
    "gate_articles",
    "link_claims",
    "poll_feeds",
    "raw_archive",
    "reextract",
    "reextract_requested",
    "run_ingest",
    "stage_row_name",
    "stage_timeout",
    "warehouse_summary",
]
