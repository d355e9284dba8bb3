"""The warehouse: tables, engine factory, idempotent upserts, migrations."""

from pipeline.warehouse import schema
from pipeline.warehouse.engine import get_engine, make_engine
from pipeline.warehouse.upsert import upsert

__all__ = ["get_engine", "make_engine", "schema", "upsert"]
