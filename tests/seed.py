"""Warehouse seeding shared by tests (and the benchmarks): a source with one feed."""

from pipeline.warehouse.queries import add_source_and_feed

__all__ = ["add_source_and_feed"]
