"""Two poller processes against one loopback host: request starts stay the configured gap apart."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.warehouse import make_engine
from pipeline.warehouse.migrate import upgrade
from tests.hostile_server import hostile_serving

REPO = Path(__file__).resolve().parents[2]
GAP = 0.5
REQUESTS_PER_PROCESS = 6

_CHILD = """
import sys
from pipeline.config import Settings
from pipeline.http import SafeClient
from pipeline.warehouse import make_engine
settings = Settings(allow_private_networks=True, host_min_interval=float(sys.argv[3]),
                    http_total_timeout=10)
with SafeClient(settings, engine=make_engine(sys.argv[1])) as client:
    for _ in range(int(sys.argv[4])):
        assert client.get(sys.argv[2], max_bytes=1 << 20).status == 200
"""


def _run_two_pollers(db_url: str) -> list[float]:
    upgrade(make_engine(db_url))
    with hostile_serving() as (base, _port, log):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAMON_")}
        args = [db_url, f"{base}/ok-a.rss", str(GAP), str(REQUESTS_PER_PROCESS)]
        children = [
            subprocess.Popen([sys.executable, "-c", _CHILD, *args], cwd=REPO, env=env)
            for _ in range(2)
        ]
        for child in children:
            assert child.wait(timeout=60) == 0
        return sorted(t for t, _host, path in log if path == "/ok-a.rss")


def _assert_spaced(starts: list[float]) -> None:
    assert len(starts) == 2 * REQUESTS_PER_PROCESS
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Measured where it matters: arrivals at the server, not our own bookkeeping.
    assert min(gaps) >= GAP, gaps


def test_two_processes_share_the_gap_on_sqlite(tmp_path: Path) -> None:
    _assert_spaced(_run_two_pollers(f"sqlite:///{tmp_path / 'w.sqlite'}"))


@pytest.mark.postgres
def test_two_processes_share_the_gap_on_postgres(pg_url: str) -> None:
    _assert_spaced(_run_two_pollers(pg_url))
