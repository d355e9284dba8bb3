"""Warehouse on SQLite: migrations, WAL mode, idempotent upserts."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.warehouse import make_engine, schema
from pipeline.warehouse.migrate import upgrade
from tests.warehouse_checks import check_migrations_up_down, check_upsert_idempotent


def test_sqlite_migrations_up_and_down(tmp_path: Path) -> None:
    check_migrations_up_down(make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}"))


_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CheckKey = tuple[str | None, str, str, frozenset[str]]


def _check_key(name: str | None, table: str, sqltext: str) -> CheckKey:
    """(name, table, column, allowed values) of a ``column in (...)`` CHECK, however the database
    prints it back (PostgreSQL: ``((status)::text = ANY ((ARRAY['ok'::character varying, ...``)."""
    column = _NAME.search(sqltext)
    assert column is not None, sqltext
    values = frozenset(v.replace("''", "'") for v in _LITERAL.findall(sqltext))
    return name, table, column.group(0), values


def check_constraints_match_metadata(engine: Engine) -> None:
    """The migrated schema has exactly the CHECK constraints the metadata builds from the code's
    constants (Alembic's compare_metadata does not compare CHECK constraints)."""
    upgrade(engine)
    insp = sa.inspect(engine)
    reflected = {
        _check_key(ck["name"], t.name, ck["sqltext"])
        for t in schema.metadata.sorted_tables
        for ck in insp.get_check_constraints(t.name)
    }
    modelled = {
        _check_key(str(c.name), t.name, str(c.sqltext))
        for t in schema.metadata.sorted_tables
        for c in t.constraints
        if isinstance(c, sa.CheckConstraint)
    }
    assert reflected == modelled, (
        f"only in the database: {sorted(reflected - modelled)}; "
        f"only in the metadata: {sorted(modelled - reflected)}"
    )


def test_sqlite_check_constraints_match_metadata(tmp_path: Path) -> None:
    check_constraints_match_metadata(make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}"))


def test_a_status_value_the_code_adds_needs_a_migration(tmp_path: Path) -> None:
    # The metadata follows the constant; the migrated database does not until a new revision.
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    column = schema.article.c.status
    ck = next(c for c in schema.article.constraints if isinstance(c, sa.CheckConstraint))
    original = ck.sqltext
    ck.sqltext = sa.text(str(original).replace("'quarantined'", "'quarantined', 'archived'"))
    try:
        try:
            check_constraints_match_metadata(engine)
        except AssertionError as exc:
            assert "archived" in str(exc) and column.name in str(exc)
        else:
            raise AssertionError("a value missing from the migration went unnoticed")
    finally:
        ck.sqltext = original


def test_sqlite_upsert_idempotent(tmp_path: Path) -> None:
    check_upsert_idempotent(make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}"))


def test_sqlite_opened_in_wal_mode_with_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("pragma journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("pragma busy_timeout")).scalar() >= 10_000
        assert conn.execute(sa.text("pragma foreign_keys")).scalar() == 1


def test_migration_files_are_date_stamped() -> None:
    versions = Path(__file__).resolve().parents[1] / "sql" / "migrations" / "versions"
    files = [p for p in versions.glob("*.py")]
    assert files
    for path in files:
        assert path.name[:8].isdigit() and path.name[8] == "_", path.name


def test_engine_factory_refuses_databases_we_do_not_support() -> None:
    import pytest

    from pipeline.warehouse.engine import UnsupportedDialectError

    with pytest.raises(UnsupportedDialectError, match="'mysql' is not supported"):
        make_engine("mysql://user@localhost/db")
