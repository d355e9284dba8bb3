"""Tables owned by feed polling (issue 3): the per-host politeness schedule.

Defined on the shared ``pipeline.warehouse.schema.metadata`` so migrations see one schema.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.warehouse.schema import TS, metadata

# One row per host (name, plus port when not the default): the schedule every worker on every
# machine consults before a request. Times are seconds since the epoch on the *database's*
# clock (PostgreSQL clock_timestamp()), so workers with skewed clocks still agree.
host = sa.Table(
    "host",
    metadata,
    sa.Column("host", sa.String(255), primary_key=True),
    # Earliest start of the next request: last start + gap, or a Retry-After pause.
    sa.Column("next_request_at", sa.Float, nullable=False),
    # Requests started and not yet finished, valid until lease_expires_at (a killed worker's
    # slots are reclaimed once its lease lapses).
    sa.Column("in_flight", sa.Integer, nullable=False),
    sa.Column("lease_expires_at", sa.Float, nullable=False),
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("backoffs", sa.Integer, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

__all__ = ["host", "metadata"]
