"""Mediamon claim ledger: link the numeric claims of newly published articles into measures,
compare them with the other claims of their measure, and group repeats of one figure into
clusters (issue 15).

Scheduled on the asset the ingest DAG announces after its gate, so it runs after every ingest run
that published articles. Incremental and idempotent: a claim is linked once, so a re-run (or a run
with nothing new) changes nothing and succeeds. Wiring only; the task body is one call into
``pipeline.flow``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, dag, task

# The same URI the ingest DAG's announce_published task declares as its outlet.
PUBLISHED_ARTICLES = Asset("mediamon://warehouse/published_articles")


@dag(
    dag_id="mediamon_ledger",
    schedule=[PUBLISHED_ARTICLES],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "mediamon", "retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["mediamon", "ledger"],
    doc_md=__doc__,
)
def mediamon_ledger() -> None:
    @task(execution_timeout=timedelta(hours=1))
    def link_claims(run_id: str | None = None) -> dict[str, Any]:
        from pipeline import flow

        return flow.link_claims(str(run_id))

    link_claims()


mediamon_ledger()
