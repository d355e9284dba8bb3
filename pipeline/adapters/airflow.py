"""Airflow adapter: reading the warehouse connection and running DAGs for the demo and tests.

Airflow is imported lazily inside functions, so ``pipeline`` stays importable (and fast to import)
without an Airflow environment.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any


def _in_airflow_task() -> bool:
    # The task runner exports the context as AIRFLOW_CTX_* variables before running a task body.
    return "AIRFLOW_CTX_DAG_ID" in os.environ


def connection_url(conn_id: str) -> str | None:
    """URI of Airflow connection ``conn_id``, or None when we are not under Airflow or it is unset.

    Outside a task only the ``AIRFLOW_CONN_<ID>`` environment variable is consulted: asking the
    secrets backends from a plain CLI would need an Airflow metadata database.
    """
    env_name = "AIRFLOW_CONN_" + conn_id.upper()
    if not _in_airflow_task():
        return _uri_from_env_value(os.environ.get(env_name))
    try:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # pragma: no cover - airflow is a dependency, but keep the CLI usable
        return _uri_from_env_value(os.environ.get(env_name))
    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    return _connection_to_sqlalchemy(conn)


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
        return f"sqlite:///{conn.host}"
    uri: str = conn.get_uri()
    return uri


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
