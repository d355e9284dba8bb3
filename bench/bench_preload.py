"""What the Celery worker preload saves per task (issue 17).

    .venv/bin/python bench/bench_preload.py [--articles N] [--rounds R]

The compose file and the test cluster set ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=
pipeline.adapters.celery.CELERY_CONFIG``, so each Celery worker imports Great Expectations and
loads the spaCy model once, before it forks the processes that run tasks. This bench starts the
test cluster (tests/integration/celery_cluster.py: PostgreSQL, Redis, moto's S3 server, two
workers) with that setting and without it, in alternating rounds, and runs ``mediamon_ingest`` on
N generated articles (bench_e2e's generator, served on loopback) once per round. It prints each
task's duration as the metadata database records it (mapped tasks summed, with their count) and
the run's wall time from trigger to end. Cluster start-up is not timed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_e2e import CLUSTER_ENV, generate, prepare_cluster_host  # noqa: E402
from pipeline.samples import PLACEHOLDER, serving  # noqa: E402

PRELOAD = "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"


def task_seconds(cluster: Any, run_id: str) -> dict[str, tuple[float, int]]:
    """task_id -> (seconds summed over its map indexes, how many), latest tries only."""
    latest: dict[tuple[str, int], float] = {}
    for t in cluster.task_tries(run_id):  # in try order: a later try replaces an earlier one
        if t["duration"] is not None:
            latest[(t["task_id"], t["map_index"])] = float(t["duration"])
    out: dict[str, list[float]] = defaultdict(list)
    for (task_id, _), duration in latest.items():
        out[task_id].append(duration)
    return {k: (sum(v), len(v)) for k, v in out.items()}


def one_round(work: Path, feeds: Path, preload: bool, k: int) -> tuple[float, dict[str, Any]]:
    """Start a cluster with or without the preload, time one ingest run, stop the cluster."""
    from tests.conftest import PG_ADMIN_URL
    from tests.integration.celery_cluster import Cluster

    class NoPreload(Cluster):
        """Workers as before the preload: every task imports what it needs itself."""

        def base_env(self) -> dict[str, str]:
            env = super().base_env()
            env.pop(PRELOAD, None)
            return env

    kind = Cluster if preload else NoPreload
    cluster = kind(
        root=work / f"cluster-{k}-{'preload' if preload else 'plain'}",
        feeds_file=feeds,
        mediamon_env=dict(CLUSTER_ENV),
        pg_admin_url=PG_ADMIN_URL,
    )
    try:
        cluster.start()
        cluster.reset_warehouse()
        started = time.perf_counter()
        run_id = cluster.trigger()
        state = cluster.wait_run(run_id, timeout=3600)
        seconds = time.perf_counter() - started
        if state != "success":
            raise RuntimeError(f"the run ended {state}; logs under {cluster.root}")
        return seconds, task_seconds(cluster, run_id)
    finally:
        cluster.stop()


def main() -> int:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs, order alternated")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"cpu count: {os.cpu_count()}  load average at start: {os.getloadavg()}")
    prepare_cluster_host()
    work = Path(tempfile.mkdtemp(prefix="mm-bench-preload-"))
    try:
        site = work / "site"
        _, feeds_in = generate(site, args.articles)
        with serving(site) as base_url:
            feeds = work / "feeds.yaml"
            feeds.write_text(feeds_in.read_text().replace(PLACEHOLDER, base_url))
            results: dict[bool, list[tuple[float, dict[str, Any]]]] = {True: [], False: []}
            for k in range(args.rounds):
                for preload in (True, False) if k % 2 == 0 else (False, True):
                    load = os.getloadavg()
                    seconds, tasks = one_round(work, feeds, preload, k)
                    results[preload].append((seconds, tasks))
                    print(
                        f"  round {k}, preload {'on' if preload else 'off'}: run {seconds:.1f} s"
                        f" (load before {load[0]:.2f})",
                        flush=True,
                    )
        for preload in (True, False):
            print(f"preload {'on' if preload else 'off'}:")
            for seconds, tasks in results[preload]:
                print(f"  run {seconds:6.1f} s; task seconds (summed over map indexes):")
                for task_id, (total, n) in sorted(tasks.items()):
                    print(f"    {task_id:<24}{total:7.1f} s  x{n}")
        print(f"load average at end: {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
