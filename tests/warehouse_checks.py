"""Checks shared by the SQLite and PostgreSQL warehouse tests (one implementation, two dialects)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from pipeline.warehouse import schema, upsert
from pipeline.warehouse.migrate import current_revision, downgrade, upgrade, view_files

TABLES = {"source", "feed", "feed_poll", "article", "pipeline_run"}


def check_migrations_up_down(engine: Engine) -> None:
    """Upgrade creates exactly the modelled schema and the views; downgrade removes everything."""
    upgrade(engine)
    assert current_revision(engine) is not None
    insp = sa.inspect(engine)
    assert set(insp.get_table_names()) >= TABLES
    views = {p.stem for p in view_files()}
    assert views and views <= set(insp.get_view_names())
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), schema.metadata
        )
    assert diff == [], f"migrations and pipeline/warehouse/schema.py disagree: {diff}"
    # Views must compile and run on this dialect.
    with engine.connect() as conn:
        for view in views:
            conn.execute(sa.text(f"select * from {view}")).all()
    # Upgrading again is a no-op.
    upgrade(engine)
    downgrade(engine)
    insp = sa.inspect(engine)
    assert current_revision(engine) is None
    assert not (TABLES & set(insp.get_table_names()))
    assert not set(insp.get_view_names()) & views
    # And back up again, so a downgrade really is reversible.
    upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= TABLES


def check_upsert_idempotent(engine: Engine) -> None:
    """The same upserts twice leave identical rows; updates overwrite only the named columns."""
    upgrade(engine)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    sources = [
        {"name": "A", "homepage": None, "language": "en", "created_at": now},
        {"name": "B", "homepage": None, "language": "en", "created_at": now},
    ]

    def snapshot() -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return [
                tuple(r)
                for r in conn.execute(sa.select(schema.source).order_by(schema.source.c.name))
            ]

    for _ in range(2):
        with engine.begin() as conn:
            upsert(conn, schema.source, sources, key=["name"])
    first = snapshot()
    assert [r[1] for r in first] == ["A", "B"]

    # DO NOTHING keeps the existing row even when the new one differs.
    with engine.begin() as conn:
        upsert(conn, schema.source, [sources[0] | {"language": "fr"}], key=["name"])
    assert snapshot() == first

    # DO UPDATE changes only the named columns, and repeating it changes nothing further.
    for _ in range(2):
        with engine.begin() as conn:
            upsert(
                conn,
                schema.source,
                [sources[0] | {"language": "uk", "homepage": "x"}],
                key=["name"],
                update=["language"],
            )
    after = snapshot()
    assert after[0][1:4] == ("A", None, "uk")
    assert after[0][0] == first[0][0], "upsert must keep the primary key"
    assert after[1] == first[1]
