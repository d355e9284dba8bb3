"""The ingest DAG on a real distributed deployment (issue 17): CeleryExecutor, two workers.

One cluster for the module (tests/integration/celery_cluster.py): PostgreSQL metadata DB and
warehouse, Redis broker, moto's S3 API as the raw archive, api-server, scheduler, dag-processor
and two Celery workers that share nothing else (own MEDIAMON_HOME, own hostname). Each test
starts from an empty warehouse and archive, triggers mediamon_ingest through the REST API and
compares the warehouse with a LocalExecutor-equivalent reference: ``pipeline.flow.run_ingest``
(what ``mediamon run`` does) on its own warehouse, same feeds, same settings.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.demo import demo_agencies
from pipeline.warehouse import make_engine
from tests.conftest import (
    PG_ADMIN_URL,
    SAMPLES,
    _pg_reachable,
    require_service,
    write_sample_feeds,
)
from tests.integration.celery_cluster import (
    Cluster,
    ClusterError,
    ReferenceRun,
    session_pids,
    warehouse_facts,
)

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.celery,
    pytest.mark.postgres,
    # The first test pays for booting the cluster and the reference run; the kill test waits
    # for the heartbeat timeout (20 s here) and the retry delay (5 s here, 2 minutes by default).
    pytest.mark.timeout(900),
]

WORKERS = {"w1.mediamon.test": "w1", "w2.mediamon.test": "w2"}
TASKS = [
    "poll_feeds",
    "fetch_articles",
    "extract_articles",
    "dedupe_articles",
    "analyse_articles",
    "gate_articles",
    "announce_published",
    "finish_run",
]
# Small batches, so extraction takes several leased batches and a kill lands between them.
BATCH_SIZE = "5"


def _redis_problem() -> str | None:
    import redis

    from tests.integration.celery_cluster import REDIS_URL

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module")
def feeds_file(samples_base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo feed list on the sample server, imported into each run's warehouse."""
    return write_sample_feeds(tmp_path_factory.mktemp("feeds") / "feeds.yaml", samples_base_url)


@pytest.fixture(scope="module")
def mediamon_env() -> dict[str, str]:
    """The Mediamon settings every run here shares."""
    return {
        "MEDIAMON_SAMPLES_DIR": str(SAMPLES),
        "MEDIAMON_ALLOW_PRIVATE_NETWORKS": "true",
        "MEDIAMON_HOST_MIN_INTERVAL": "0",
        "MEDIAMON_FEED_POLL_ALL": "true",
        "MEDIAMON_DEDUPE_AGENCIES": json.dumps(demo_agencies()),
        "MEDIAMON_BATCH_SIZE": BATCH_SIZE,
    }


@pytest.fixture(scope="module")
def reference_run(
    mediamon_env: dict[str, str], feeds_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReferenceRun]:
    """The reference run (run_ingest, one process) on a throwaway database, started at once."""
    require_service("PostgreSQL", _pg_reachable())
    name = f"mm_celery_ref_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    run = ReferenceRun(
        tmp_path_factory.mktemp("reference"), {**os.environ, **mediamon_env}, url, feeds_file
    )
    try:
        run.start()
        yield run
    finally:
        run.stop()
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture(scope="module")
def reference(reference_run: ReferenceRun) -> dict[str, Any]:
    """Warehouse facts of the finished reference run."""
    reference_run.wait()
    facts = warehouse_facts(reference_run.warehouse_url)
    assert facts["counts"]["article"] > 0 and facts["counts"]["claim"] > 0
    return facts


@pytest.fixture(scope="module")
def cluster(
    mediamon_env: dict[str, str],
    feeds_file: Path,
    reference_run: ReferenceRun,  # started first: it runs while the cluster boots
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    require_service("PostgreSQL", _pg_reachable())
    require_service("Redis", _redis_problem())
    root = tmp_path_factory.mktemp("celery")
    c = Cluster(
        root=root,
        feeds_file=feeds_file,
        mediamon_env=mediamon_env,
        pg_admin_url=PG_ADMIN_URL,
    )
    try:
        c.start()
        yield c
    finally:
        c.stop()
        leftovers = {p.name: list(session_pids(p.popen.pid)) for p in c.procs.values()}
        leftovers = {name: pids for name, pids in leftovers.items() if pids}
        assert not leftovers, f"processes still running after stop: {leftovers}"


def _diff(got: dict[str, Any], want: dict[str, Any]) -> str:
    lines = []
    for key in want:
        if got[key] == want[key]:
            continue
        if isinstance(want[key], dict):
            keys = set(got[key]) | set(want[key])
            for k in sorted(keys, key=str):
                if got[key].get(k) != want[key].get(k):
                    lines.append(
                        f"{key}[{k}]: celery={got[key].get(k)} reference={want[key].get(k)}"
                    )
        else:
            lines.append(f"{key}: celery={got[key]} reference={want[key]}")
    return "\n".join(lines[:40])


def _logs_hint(c: Cluster) -> str:
    return f"logs under {c.root} (logs/*.log; task logs in w1/airflow/logs, w2/airflow/logs)"


def test_two_workers_share_the_run_and_match_the_local_reference(
    cluster: Cluster, reference: dict[str, Any]
) -> None:
    cluster.reset_warehouse()
    run_id = cluster.trigger()
    state = cluster.wait_run(run_id, timeout=300)
    tries = cluster.task_tries(run_id)
    assert state == "success", f"run {run_id} ended {state}: {tries}; {_logs_hint(cluster)}"

    by_task = {t["task_id"]: t for t in tries}
    assert sorted(by_task) == sorted(TASKS)
    # Every task ran once, on one of the two workers, and both workers got work.
    assert all(t["try_number"] == 1 for t in tries), tries
    hosts = {t["task_id"]: t["hostname"] for t in tries}
    assert set(hosts.values()) <= set(WORKERS), hosts
    assert set(hosts.values()) == set(WORKERS), f"only one worker ran tasks: {hosts}"

    got = warehouse_facts(cluster.warehouse_url)
    assert got == reference, _diff(got, reference)
    # The raw bodies are in the shared archive, not on a worker's disk.
    engine = make_engine(cluster.warehouse_url)
    try:
        with engine.connect() as conn:
            keys = set(
                conn.execute(sa.text("select raw_key from article where raw_key is not null"))
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert (
        keys and {k.rsplit("/", 1)[-1].removesuffix(".gz") for k in cluster.archive_keys()} == keys
    )
    for name in WORKERS.values():
        assert not (cluster.root / name / "raw").exists()
    # Each worker loaded the heavy libraries and the model once at start-up, before forking its
    # task processes (pipeline.adapters.celery, named by the cluster as by docker-compose.yaml).
    for name in WORKERS.values():
        log = (cluster.root / "logs" / f"{name}.log").read_text(errors="replace")
        assert "mediamon preload: libraries and models loaded" in log, f"{name}: {log[-2000:]}"


def _extract_progress(cluster: Cluster) -> dict[str, int]:
    """Articles waiting for extraction under a live lease, and articles already extracted."""
    engine = make_engine(cluster.warehouse_url)
    try:
        with engine.connect() as conn:
            leased = conn.execute(
                sa.text(
                    "select count(*) from article where status = 'fetched' "
                    "and next_attempt_at > now()"
                )
            ).scalar_one()
            done = conn.execute(
                sa.text(
                    "select count(*) from article where status not in "
                    "('discovered', 'fetched', 'fetch_failed')"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return {"leased": leased, "extracted_or_failed": done}


def test_worker_killed_mid_extract_the_retry_ends_with_the_same_warehouse(
    cluster: Cluster, reference: dict[str, Any]
) -> None:
    cluster.reset_warehouse()
    run_id = cluster.trigger()

    # Wait until extraction is under way: the task runs on a worker, and rows are leased to it.
    deadline = time.monotonic() + 240
    victim = None
    progress: dict[str, int] = {}
    while time.monotonic() < deadline:
        cluster.check_alive()
        # Extract runs as mapped batch workers: the kill lands on a worker running one of them.
        extract = [t for t in cluster.task_tries(run_id) if t["task_id"] == "extract_articles"]
        if extract and all(t["state"] in ("success", "failed") for t in extract):
            raise ClusterError(f"extract ended before the kill could land: {extract}")
        running = [t for t in extract if t["state"] == "running" and t["hostname"]]
        if running:
            progress = _extract_progress(cluster)
            if progress["leased"]:
                victim = WORKERS[running[0]["hostname"]]
                break
        time.sleep(0.1)
    assert victim, f"extract_articles never ran with leased rows; {_logs_hint(cluster)}"
    killed = cluster.kill_machine(victim)
    assert killed, victim
    survivor = next(n for n in WORKERS.values() if n != victim)

    # Airflow notices the missing heartbeats, the task goes up for retry (the DAG's retries and
    # retry_delay), the surviving worker runs it, and the run carries on.
    state = cluster.wait_run(run_id, timeout=600)
    tries = cluster.task_tries(run_id)
    extract = [t for t in tries if t["task_id"] == "extract_articles"]
    assert state == "success", f"run {run_id} ended {state}: {tries}; {_logs_hint(cluster)}"
    # Each mapped extract worker the kill hit failed its first try there (the scheduler, for
    # want of heartbeats) and succeeded on its second, on the survivor; the others ran once.
    by_index: dict[int, list[dict[str, Any]]] = {}
    for t in extract:
        by_index.setdefault(t["map_index"], []).append(t)
    hit = [ts for ts in by_index.values() if len(ts) > 1]
    assert hit, extract
    for ts in by_index.values():
        assert ts[-1]["state"] == "success", extract
    for ts in hit:
        assert [t["try_number"] for t in ts] == [1, 2], extract
        assert ts[0]["hostname"] == f"{victim}.mediamon.test"
        assert ts[0]["state"] == "failed"
        assert ts[1]["hostname"] == f"{survivor}.mediamon.test"

    got = warehouse_facts(cluster.warehouse_url)
    assert got == reference, (
        f"killed {victim} with {progress} articles leased/done; differences:\n"
        + _diff(got, reference)
    )
