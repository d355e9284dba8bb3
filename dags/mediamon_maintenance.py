"""Mediamon maintenance, daily: retention of raw pages and dedupe bands, planner statistics
(``ANALYZE``; on SQLite optionally ``VACUUM``), and a feed-health digest.

Wiring only; each task body is one call into ``pipeline.maintenance``, which records the task
in the warehouse's ``pipeline_run`` (the digest is the counts of its ``feed_health`` row).
Retention is measured from the run's logical date, so re-running an old day deletes nothing
that was within retention on that day. A failed task is recorded there too (stage
``task:<task_id>``) by the failure callback.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task


def _record_failure(context: Any) -> None:
    from pipeline.adapters.airflow import record_task_failure

    record_task_failure(context)


@dag(
    dag_id="mediamon_maintenance",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "mediamon",
        "retries": 2,
        "retry_delay": timedelta(minutes=10),
        # Within pipeline.flow.DEFAULT_STAGE_TIMEOUT (6 h): a stage row older than that with no
        # live process behind it is called abandoned.
        "execution_timeout": timedelta(hours=2),
        "on_failure_callback": _record_failure,
    },
    tags=["mediamon", "maintenance"],
    doc_md=__doc__,
)
def mediamon_maintenance() -> None:
    @task
    def prune_raw_archive(
        run_id: str | None = None, logical_date: datetime | None = None
    ) -> dict[str, Any]:
        from pipeline import maintenance

        return maintenance.prune_raw_archive(str(run_id), now=logical_date)

    @task
    def prune_dedupe_bands(
        run_id: str | None = None, logical_date: datetime | None = None
    ) -> dict[str, Any]:
        from pipeline import maintenance

        return maintenance.prune_dedupe_bands(str(run_id), now=logical_date)

    @task
    def analyze_warehouse(run_id: str | None = None) -> dict[str, Any]:
        from pipeline import maintenance

        return maintenance.analyze_warehouse(str(run_id))

    @task
    def feed_health_digest(
        run_id: str | None = None, logical_date: datetime | None = None
    ) -> dict[str, Any]:
        from pipeline import maintenance

        return maintenance.feed_health_digest(str(run_id), now=logical_date)

    # Statistics after the deletes, so the planner sees the pruned tables.
    [prune_raw_archive(), prune_dedupe_bands()] >> analyze_warehouse()
    feed_health_digest()


mediamon_maintenance()
