"""Alembic environment: runs on the connection handed over by pipeline.warehouse.migrate."""

from __future__ import annotations

from alembic import context

import pipeline.warehouse  # noqa: F401 - registers every stage's tables
from pipeline.warehouse.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run migrations with `mediamon db upgrade` (pipeline.warehouse.migrate), "
        "which passes the warehouse connection."
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds tables, and is a no-op on PostgreSQL.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
