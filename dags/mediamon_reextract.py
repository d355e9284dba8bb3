"""Mediamon re-extraction: re-run text extraction from the raw archive, without refetching.

Trigger it by hand after upgrading trafilatura or our post-processing (``extractor_version``
changes), or after fixing what made extraction fail for a retryable reason (a raw archive the
extract worker could not see: ``archive_missing``), optionally limited to pages fetched since a
date or to one outlet. Rows are updated in
place; running it again changes nothing. Articles whose text changed go back to ``extracted`` so
the next ingest run re-dedupes, re-analyses and re-gates them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, task


@dag(
    dag_id="mediamon_reextract",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "mediamon", "retries": 1, "retry_delay": timedelta(minutes=5)},
    params={
        "since": Param(None, type=["null", "string"], description="Fetched on/after (ISO date)"),
        "source": Param(None, type=["null", "string"], description="Only this outlet"),
    },
    tags=["mediamon", "maintenance"],
    doc_md=__doc__,
)
def mediamon_reextract() -> None:
    @task(execution_timeout=timedelta(hours=6))
    def reextract(
        params: dict[str, Any] | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        from pipeline import flow
        from pipeline.adapters.airflow import systemic_failures_fail_now

        p = params or {}
        with systemic_failures_fail_now():
            return flow.reextract_requested(
                str(run_id), since=p.get("since"), source=p.get("source")
            )

    reextract()


mediamon_reextract()
