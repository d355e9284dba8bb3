"""The warehouse-backed per-host schedule, in one process (threads) on SQLite."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from pipeline.config import Settings
from pipeline.politeness import WarehouseHostSchedule
from pipeline.warehouse import make_engine
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema_feeds import host


def _schedule(tmp_path: Path, **overrides: float) -> WarehouseHostSchedule:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    upgrade(engine)
    settings = Settings().model_copy(update={"host_min_interval": 0.2, **overrides})
    return WarehouseHostSchedule(engine, settings)


def test_starts_are_spaced_by_the_gap_across_threads(tmp_path: Path) -> None:
    schedule = _schedule(tmp_path)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            assert schedule.acquire("a.test") is None
            with lock:
                starts.append(time.time())
            schedule.release("a.test")

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert len(starts) == 9
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.19


def test_concurrency_per_host_is_capped(tmp_path: Path) -> None:
    schedule = _schedule(tmp_path, host_min_interval=0, host_max_concurrency=2)
    assert schedule.acquire("b.test") is None
    assert schedule.acquire("b.test") is None
    taken = threading.Event()

    def third() -> None:
        schedule.acquire("b.test")
        taken.set()

    threading.Thread(target=third, daemon=True).start()
    assert not taken.wait(0.5)  # both slots busy: the third request waits
    schedule.release("b.test")
    assert taken.wait(2)
    assert schedule.acquire("other.test") is None  # other hosts are not held up


def test_backoff_defers_beyond_max_wait_and_lost_slots_expire(tmp_path: Path) -> None:
    schedule = _schedule(tmp_path, host_min_interval=0, host_max_wait=5, host_slot_lease=0.3)
    assert schedule.acquire("c.test") is None
    schedule.release("c.test", backoff_s=3600)
    wait = schedule.acquire("c.test")
    assert wait is not None and 3500 < wait <= 3600
    with schedule.engine.connect() as conn:
        row = conn.execute(sa.select(host).where(host.c.host == "c.test")).one()
    assert (row.backoffs, row.requests, row.in_flight) == (1, 1, 0)
    # A worker that died holding both slots: after the lease they are free again.
    assert schedule.acquire("d.test") is None and schedule.acquire("d.test") is None
    time.sleep(0.35)
    assert schedule.acquire("d.test") is None
