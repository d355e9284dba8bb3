"""Airflow adapter: reading the warehouse connection and running DAGs for the demo and tests.

Airflow is imported lazily inside functions, so ``pipeline`` stays importable (and fast to import)
without an Airflow environment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any


def _in_airflow_task() -> bool:
    # The task runner exports the context as AIRFLOW_CTX_* variables before running a task body.
    return "AIRFLOW_CTX_DAG_ID" in os.environ


# Set in a process that has an Airflow metadata database (every container of the compose stack,
# `make airflow`, the demo's Airflow): there a connection may live in the metadata DB.
_METADATA_DB_VARS = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET",
)


def _has_metadata_db() -> bool:
    # Server processes (scheduler, triggerer) mark themselves. The API server, where the Media
    # Monitor plugin runs, says so explicitly (connection_url(metadata_db=True)): guessing from
    # imported modules would also fire in any process that merely imported the plugin.
    if os.environ.get("_AIRFLOW_PROCESS_CONTEXT") == "server":
        return True
    return any(os.environ.get(name) for name in _METADATA_DB_VARS)


def connection_url(
    conn_id: str, *, required: bool = False, metadata_db: bool | None = None
) -> str | None:
    """URI of Airflow connection ``conn_id``, or None when Airflow has no such connection.

    Looked up where Airflow keeps connections: the ``AIRFLOW_CONN_<ID>`` variable first; in a
    task through the Task SDK (``airflow.sdk.Connection.get``: the API server's secrets); in
    any other process that has an Airflow metadata database (the plugin in the api-server,
    ``airflow-init``, the ``mediamon`` CLI in a container) through Airflow's secrets backends,
    the metadata DB included. A process without an Airflow metadata DB has only the variable.

    ``metadata_db``: whether this process has an Airflow metadata DB to ask; None guesses from
    the environment (the api-server passes True: its config may come from a file alone).

    Raises ``WarehouseConnectionError`` when a lookup fails (metadata DB unreachable, connection
    undecryptable), and when ``required`` and the connection is not defined anywhere.
    """
    if metadata_db is None:
        metadata_db = _has_metadata_db()
    from pipeline.config import WarehouseConnectionError

    env_name = "AIRFLOW_CONN_" + conn_id.upper()
    url = _uri_from_env_value(os.environ.get(env_name))
    if url is None and _in_airflow_task():
        url = _from_task_sdk(conn_id)
    elif url is None and metadata_db:
        url = _from_secrets_backends(conn_id)
    if url is None and required:
        where = "the environment (" + env_name + ")"
        if _in_airflow_task() or metadata_db:
            where += ", the Airflow metadata database or a secrets backend"
        raise WarehouseConnectionError(
            f"warehouse connection {conn_id!r} (MEDIAMON_AIRFLOW_CONN_ID) is not defined in "
            f"{where}: add it (airflow connections add {conn_id} --conn-uri ...) or unset "
            "MEDIAMON_AIRFLOW_CONN_ID to use MEDIAMON_WAREHOUSE_URL"
        )
    return url


def _lookup_failed(conn_id: str, exc: BaseException) -> Exception:
    from pipeline.config import WarehouseConnectionError, mask_urls_in_text

    # First line only: SQLAlchemy appends the statement and its parameters.
    first = (str(exc).strip().splitlines() or [""])[0]
    return WarehouseConnectionError(
        f"cannot read Airflow connection {conn_id!r}: {type(exc).__name__}: "
        f"{mask_urls_in_text(first)[:400]}"
    )


def _from_task_sdk(conn_id: str) -> str | None:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as exc:  # any failure to read must stop the task, loudly
        raise _lookup_failed(conn_id, exc) from exc
    return _connection_to_sqlalchemy(conn)


def _from_secrets_backends(conn_id: str) -> str | None:
    """The connection from Airflow's secrets backends (environment, metadata DB, any configured
    backend), in Airflow's order. Unlike ``Connection.get_connection_from_secrets``, a backend
    that fails is an error here, not a miss: a metadata DB that cannot be read must not look
    like one without the connection."""
    try:
        from airflow.configuration import ensure_secrets_loaded

        backends = ensure_secrets_loaded()
        for backend in backends:
            conn = backend.get_connection(conn_id=conn_id)
            if conn is not None:
                return _connection_to_sqlalchemy(conn)
    except Exception as exc:  # SQLAlchemy, crypto and backend errors alike
        raise _lookup_failed(conn_id, exc) from exc
    return None


def _uri_from_env_value(value: str | None) -> str | None:
    if not value:
        return None
    if value.lstrip().startswith("{"):
        import json

        from airflow.sdk import Connection

        data = json.loads(value)
        return _connection_to_sqlalchemy(Connection(conn_id="env", **data))
    return value


def _connection_to_sqlalchemy(conn: Any) -> str:
    """SQLAlchemy URL from an Airflow Connection (postgres or sqlite)."""
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        # The sqlite provider keeps the path in host; a connection made from a URI
        # (sqlite:////abs/path) has it in schema.
        return f"sqlite:///{conn.host or conn.schema}"
    uri: str = conn.get_uri()
    return uri


@contextmanager
def systemic_failures_fail_now() -> Iterator[None]:
    """Around a stage call in a task body: a :class:`pipeline.stages.runs.StageFailedError`
    (the whole batch failed for one systemic reason) fails the task at once, without its
    retries. A retry minutes later meets the same cause; the rows it left are taken by the next
    run."""
    from pipeline.stages.runs import StageFailedError

    try:
        yield
    except StageFailedError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


def announce_published(gated: Mapping[str, Any], asset: Any) -> dict[str, int]:
    """Body of the task that carries ``asset`` as its outlet, after the gate: it succeeds (so
    Airflow emits the asset event, with the count as its extra) when the gate published
    articles, and is skipped otherwise. A skipped task emits no asset event, so consumers (the
    ledger DAG) do not run for a run that published nothing, such as one with no feed due."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    published = int(gated.get("published") or 0)
    if not published:
        raise AirflowSkipException("the gate published nothing in this run: no asset event")
    get_current_context()["outlet_events"][asset].extra = {"published": published}
    return {"published": published}


def record_task_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: record the failed task in the warehouse's ``pipeline_run``
    (``pipeline.maintenance.record_task_failure``). A failure to record is logged, never
    raised: it must not hide the task's own error."""
    import logging

    ti = context.get("ti") or context.get("task_instance")
    run_id = str(context.get("run_id") or getattr(ti, "run_id", "") or "unknown")
    try:
        from pipeline.maintenance import record_task_failure as record

        record(
            run_id,
            dag_id=str(getattr(ti, "dag_id", "") or context.get("dag_id") or ""),
            task_id=str(getattr(ti, "task_id", "") or "unknown"),
            try_number=getattr(ti, "try_number", None),
            map_index=getattr(ti, "map_index", None),
            error=context.get("exception"),
        )
    except Exception:  # the task has failed already; this only adds a record of it
        logging.getLogger(__name__).exception("could not record the task failure of %s", run_id)


def airflow_env(home: Path, repo_root: Path) -> dict[str, str]:
    """Environment for running this project's DAGs in an embedded Airflow (SQLite metadata DB)."""
    airflow_home = (home / "airflow").resolve()
    airflow_home.mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str((repo_root / "dags").resolve()),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str((repo_root / "plugins").resolve()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # Asset-scheduled DAGs (mediamon_ledger) must be unpaused for an asset event to queue them.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }


def run_dag_test(dag_id: str, *, logical_date: datetime | None = None) -> str:
    """Run one DAG run in-process with ``dag.test()``; return the final run state.

    Must be called in a process whose environment came from :func:`airflow_env`, after
    ``airflow db migrate``.
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise RuntimeError(
            f"DAG {dag_id!r} not found in {os.environ['AIRFLOW__CORE__DAGS_FOLDER']}"
        )
    dag_run = dag.test(logical_date=logical_date)
    return str(dag_run.state)


def run_queued_asset_consumers() -> dict[str, str]:
    """Do what the scheduler does with queued asset events: for every DAG that an asset event
    queued (``asset_dag_run_queue``, filled when a task with outlets succeeds), run it once with
    ``dag.test()`` and clear its queue rows. Returns {dag_id: final state}; empty when no asset
    event queued anything (e.g. an ingest run that published nothing)."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    with create_session() as session:
        queued = sorted(set(session.scalars(select(AssetDagRunQueue.target_dag_id))))
    states: dict[str, str] = {}
    for dag_id in queued:
        states[dag_id] = run_dag_test(dag_id)
        with create_session() as session:
            session.execute(
                delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id)
            )
    return states


def main(argv: list[str]) -> int:
    """``python -m pipeline.adapters.airflow DAG_ID [--asset-consumers]``: run one DAG run via
    ``dag.test()``; with ``--asset-consumers``, then the DAGs its asset events queued."""
    consumers = "--asset-consumers" in argv
    args = [a for a in argv if a != "--asset-consumers"]
    if len(args) != 1:
        print("usage: python -m pipeline.adapters.airflow DAG_ID [--asset-consumers]")
        return 2
    state = run_dag_test(args[0])
    print(f"dag run state: {state}")
    if state != "success":
        return 1
    if consumers:
        for dag_id, consumer_state in run_queued_asset_consumers().items():
            print(f"asset-triggered {dag_id}: dag run state: {consumer_state}")
            if consumer_state != "success":
                return 1
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
