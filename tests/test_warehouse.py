"""Warehouse on SQLite: migrations, WAL mode, idempotent upserts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from pipeline.warehouse import make_engine
from tests.warehouse_checks import check_migrations_up_down, check_upsert_idempotent


def test_sqlite_migrations_up_and_down(tmp_path: Path) -> None:
    check_migrations_up_down(make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}"))


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
