"""Mediamon reprocess: bring one stage up to date over a window of articles, without refetching.

Trigger it by hand with ``stage`` = extract | nlp | gate | ledger, and optionally ``since`` /
``until`` (ISO dates, on the fetch time; until exclusive) and ``source`` (an outlet's name):
after upgrading trafilatura (extract) or the claim rules (nlp), after releasing quarantined
articles (gate), or after changing the linking rules and to link claims the ledger has not
linked (ledger). Only what is out of date
is redone, so running it again changes nothing. What each stage does: ``pipeline.reprocess``.

Wiring only; the task body is one call into ``pipeline.reprocess``. A failed run is recorded in
the warehouse's ``pipeline_run`` by the failure callback (stage ``task:reprocess``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, task


def _record_failure(context: Any) -> None:
    from pipeline.adapters.airflow import record_task_failure

    record_task_failure(context)


@dag(
    dag_id="mediamon_reprocess",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "mediamon",
        # Triggered by a person and idempotent: after a failure they re-trigger it, rather than
        # an automatic retry repeating hours of work against the same systemic fault.
        "retries": 0,
        # Re-extracting or re-analysing months of articles takes hours. Within
        # pipeline.flow.DEFAULT_STAGE_TIMEOUT and the reextract stage's timeout (6 h), and under
        # the Celery visibility timeout (7 h, docker-compose.yaml).
        "execution_timeout": timedelta(hours=6),
        "on_failure_callback": _record_failure,
    },
    params={
        "stage": Param(
            "extract", type="string", enum=["extract", "nlp", "gate", "ledger"],
            description="Stage to bring up to date",
        ),
        "since": Param(None, type=["null", "string"], description="Fetched on/after (ISO date)"),
        "until": Param(None, type=["null", "string"], description="Fetched before (ISO date)"),
        "source": Param(None, type=["null", "string"], description="Only this outlet"),
    },
    tags=["mediamon", "maintenance"],
    doc_md=__doc__,
)
def mediamon_reprocess() -> None:
    @task
    def reprocess(
        params: dict[str, Any] | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        from pipeline import reprocess as stages

        p = params or {}
        return stages.reprocess(
            str(run_id),
            stage=str(p.get("stage")),
            since=p.get("since"),
            until=p.get("until"),
            source=p.get("source"),
        )

    reprocess()


mediamon_reprocess()
