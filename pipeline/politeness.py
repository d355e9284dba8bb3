"""Per-host politeness shared by every worker through the warehouse.

Two Airflow workers on two machines must not hammer one site, so the schedule cannot live in
process memory. Each host has a row in ``host``: the earliest start of its next request and the
number of requests in flight. A worker takes a slot in a short write transaction that locks the
row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the first statement is a write, which
takes the database's write lock, so the read-check-update is serialised the same way), then
sleeps outside any transaction until its turn.

Residual risk, stated honestly: a worker killed with SIGKILL mid-request leaves its in-flight
slot taken until ``host_slot_lease`` seconds after that host's latest start; graceful stops
(exceptions, SIGTERM) always give the slot back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.config import Settings
from pipeline.warehouse.schema_feeds import host as host_table
from pipeline.warehouse.upsert import upsert

# How often a waiting worker looks again when the host is busy but not scheduled later (s).
BUSY_POLL_S = 0.05
# A sleep is never longer than this, so a worker notices a freed slot promptly (s).
MAX_SLEEP_S = 1.0
# Added to every reservation: the slot is taken before the commit and the connect, and those
# take a few milliseconds that differ between workers. With this slack the starts a *server*
# sees stay at least the configured gap apart, not just our reservations.
START_SLACK_S = 0.1


class WarehouseHostSchedule:
    """A :class:`pipeline.http.HostGate` whose state lives in the warehouse ``host`` table."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.gap = (
            settings.host_min_interval + START_SLACK_S if settings.host_min_interval > 0 else 0.0
        )
        self.max_concurrency = max(settings.host_max_concurrency, 1)
        self.max_wait = settings.host_max_wait
        self.lease = settings.host_slot_lease

    def _lock_row(self, conn: Connection, host: str) -> tuple[sa.Row[tuple[object, ...]], float]:
        # The insert comes first on purpose: on SQLite it takes the write lock before we read.
        upsert(
            conn,
            host_table,
            [
                {
                    "host": host,
                    "next_request_at": 0.0,
                    "in_flight": 0,
                    "lease_expires_at": 0.0,
                    "requests": 0,
                    "backoffs": 0,
                    "updated_at": datetime.now(UTC),
                }
            ],
            key=["host"],
        )
        row = conn.execute(
            sa.select(host_table).where(host_table.c.host == host).with_for_update()
        ).one()
        return row, self._now(conn)

    @staticmethod
    def _now(conn: Connection) -> float:
        if conn.dialect.name == "postgresql":
            # The database's clock, read after the lock: one clock for every worker machine.
            return float(
                conn.execute(sa.select(sa.extract("epoch", sa.func.clock_timestamp()))).scalar_one()
            )
        return time.time()  # SQLite is one file on one machine: its clock is ours

    def acquire(self, host: str) -> float | None:
        """Block until a request to ``host`` may start and take a slot (None), or return the
        seconds the host still asks us to wait when that is longer than ``host_max_wait``."""
        while True:
            with self.engine.begin() as conn:
                row, now = self._lock_row(conn, host)
                in_flight = int(row.in_flight) if float(row.lease_expires_at) > now else 0
                next_at = float(row.next_request_at)
                if next_at - now > self.max_wait:
                    return next_at - now
                if next_at <= now and in_flight < self.max_concurrency:
                    conn.execute(
                        sa.update(host_table)
                        .where(host_table.c.host == host)
                        .values(
                            in_flight=in_flight + 1,
                            next_request_at=now + self.gap,
                            lease_expires_at=now + self.lease,
                            requests=host_table.c.requests + 1,
                            updated_at=datetime.now(UTC),
                        )
                    )
                    return None
                sleep = next_at - now if next_at > now else BUSY_POLL_S
            time.sleep(min(max(sleep, 0.001), MAX_SLEEP_S))

    def release(self, host: str, *, backoff_s: float | None = None) -> None:
        """Give the slot back; ``backoff_s`` (Retry-After) pushes the next start out."""
        with self.engine.begin() as conn:
            row, now = self._lock_row(conn, host)
            next_at = float(row.next_request_at)
            values: dict[str, object] = {
                "in_flight": max(int(row.in_flight) - 1, 0),
                "updated_at": datetime.now(UTC),
            }
            if backoff_s:
                values["next_request_at"] = max(next_at, now + backoff_s)
                values["backoffs"] = host_table.c.backoffs + 1
            conn.execute(sa.update(host_table).where(host_table.c.host == host).values(**values))


__all__ = ["WarehouseHostSchedule"]
