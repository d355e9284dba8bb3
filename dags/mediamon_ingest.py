"""Mediamon ingest: poll feeds -> fetch pages -> extract text -> dedupe into stories -> extract
claims -> quality gate (publish or quarantine) -> record the run; after the gate, announce the
published articles (the asset the ledger DAG runs on; skipped when nothing was published).

A run with no feed due is a green no-op. A stage whose whole batch failed for one systemic
reason (the raw archive unreachable, say) fails its task at once, with the reason, unretried.

Fetch is mapped over shards of the outlets (``MEDIAMON_FETCH_SHARDS``, default 2): each task
fetches the pages of its outlets only, so one site is fetched from one task, and all of them run
in the Airflow pool ``MEDIAMON_FETCH_POOL`` (default ``default_pool``; create a pool to cap how
many fetch tasks, hence connections, run at once across the deployment). Extract and analyse are
mapped over a few batch workers (dynamic task mapping, never one task per article): each mapped
task takes leased batches from the warehouse until none is left, so the workers share the
stage's articles without ever taking the same one, on as many Celery workers as are free.
``MEDIAMON_MAPPED_WORKERS`` (default 2) sets how many. These settings are read where this file
is parsed. Dedupe and the gate stay single tasks: their correctness needs one writer.

Wiring only. Each task body is one call into ``pipeline.flow``; the warehouse is the work queue,
so tasks pass counts through XCom, never article bodies, and any task can be retried or re-run.
``pipeline`` is imported inside the task bodies so parsing this file stays cheap and touches no
database.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, dag, task

# Mapped batch workers of the extract and analyse stages: about as many as the Celery workers'
# free slots; more only queue (each takes leased batches until none is left).
BATCH_WORKERS = list(range(max(1, int(os.environ.get("MEDIAMON_MAPPED_WORKERS", "2")))))

# Fetch tasks per run, each on its shard of the outlets (source id modulo the count), and the
# Airflow pool they take a slot of.
FETCH_SHARDS = list(range(max(1, int(os.environ.get("MEDIAMON_FETCH_SHARDS", "2")))))
FETCH_POOL = os.environ.get("MEDIAMON_FETCH_POOL", "default_pool")

# Downstream consumers (cross-article analysis, exports) schedule on this asset.
PUBLISHED_ARTICLES = Asset("mediamon://warehouse/published_articles")

DEFAULT_ARGS = {
    "owner": "mediamon",
    "retries": 2,
    # A lost worker's task is retried after this (then backing off); the distributed test sets
    # a few seconds so a killed worker's retry does not wait out minutes.
    "retry_delay": timedelta(
        seconds=int(os.environ.get("MEDIAMON_TASK_RETRY_DELAY_SECONDS", "120"))
    ),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="mediamon_ingest",
    schedule="*/30 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["mediamon", "ingest"],
    doc_md=__doc__,
)
def mediamon_ingest() -> None:
    # ``run_id`` is filled from the task context by Airflow (a parameter named like a context key
    # with a None default), so the warehouse can key each stage's rows by the DAG run.
    @task(execution_timeout=timedelta(minutes=30))
    def poll_feeds(run_id: str | None = None) -> dict[str, Any]:
        from pipeline import flow

        return flow.poll_feeds(str(run_id))

    @task(execution_timeout=timedelta(hours=1), pool=FETCH_POOL)
    def fetch_articles(
        polled: dict[str, Any], worker: int, run_id: str | None = None
    ) -> dict[str, Any]:
        from pipeline import flow
        from pipeline.adapters.airflow import systemic_failures_fail_now

        with systemic_failures_fail_now():
            return flow.fetch_articles(str(run_id), worker=worker, shards=len(FETCH_SHARDS))

    @task(execution_timeout=timedelta(hours=1))
    def extract_articles(
        fetched: Any, worker: int, run_id: str | None = None
    ) -> dict[str, Any]:
        from pipeline import flow
        from pipeline.adapters.airflow import systemic_failures_fail_now

        with systemic_failures_fail_now():
            return flow.extract_articles(str(run_id), worker=worker)

    @task(execution_timeout=timedelta(hours=1))
    def dedupe_articles(extracted: Any, run_id: str | None = None) -> dict[str, Any]:
        from pipeline import flow

        return flow.dedupe_articles(str(run_id))

    @task(execution_timeout=timedelta(hours=1))
    def analyse_articles(
        deduped: dict[str, Any], worker: int, run_id: str | None = None
    ) -> dict[str, Any]:
        from pipeline import flow

        return flow.analyse_articles(str(run_id), worker=worker)

    # A rejected batch is a data problem, not a transient one: retrying cannot fix it.
    @task(retries=0, execution_timeout=timedelta(minutes=30))
    def gate_articles(analysed: Any, run_id: str | None = None) -> dict[str, Any]:
        from pipeline import flow

        return flow.gate_articles(str(run_id))

    # The asset event is this task's success; it is skipped when the gate published nothing
    # (a run with no feed due), so the ledger DAG runs only when there is something to link.
    @task(retries=0, outlets=[PUBLISHED_ARTICLES])
    def announce_published(gated: dict[str, Any]) -> dict[str, int]:
        from pipeline.adapters.airflow import announce_published

        return announce_published(gated, PUBLISHED_ARTICLES)

    @task
    def finish_run(
        polled: dict[str, Any],
        fetched: Any,
        extracted: Any,
        deduped: dict[str, Any],
        analysed: Any,
        gated: dict[str, Any],
        run_id: str | None = None,
    ) -> dict[str, Any]:
        from pipeline import flow

        return flow.finish_run(
            str(run_id),
            poll=polled,
            fetch=fetched,
            extract=extracted,
            dedupe=deduped,
            analyse=analysed,
            gate=gated,
        )

    polled = poll_feeds()
    fetched = fetch_articles.partial(polled=polled).expand(worker=FETCH_SHARDS)
    # Mapped: a lazy sequence of each worker's counts; finish_run combines them.
    extracted = extract_articles.partial(fetched=fetched).expand(worker=BATCH_WORKERS)
    deduped = dedupe_articles(extracted)
    analysed = analyse_articles.partial(deduped=deduped).expand(worker=BATCH_WORKERS)
    gated = gate_articles(analysed)
    announce_published(gated)
    finish_run(polled, fetched, extracted, deduped, analysed, gated)


mediamon_ingest()
