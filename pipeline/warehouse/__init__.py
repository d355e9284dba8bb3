"""The warehouse: tables, engine factory, idempotent upserts, migrations."""

from pipeline.warehouse import (  # noqa: F401 - importing registers each stage's tables
    schema,
    schema_claims,
    schema_dedupe,
    schema_feeds,
    schema_ledger,
    schema_quality,
)
from pipeline.warehouse.engine import get_engine, make_engine
from pipeline.warehouse.upsert import upsert

__all__ = ["get_engine", "make_engine", "schema", "upsert"]
