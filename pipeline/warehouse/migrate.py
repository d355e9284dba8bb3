"""Schema migrations (Alembic, sql/migrations/) and analyst views (sql/views/).

Views are derived objects, so they are not versioned in migrations: after every upgrade each file
in sql/views/ is dropped and re-created (Flyway calls these repeatable migrations). A view file
can then change without a new revision, and a downgrade drops them all first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine


def sql_dir() -> Path:
    """The sql/ directory: inside the installed package (wheel) or at the repository root."""
    packaged = Path(__file__).resolve().parents[1] / "sql"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "sql"


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(sql_dir() / "migrations"))
    # Pass the live connection instead of a URL: URLs with '%' break ConfigParser interpolation,
    # and callers may want the migration inside their own transaction.
    cfg.attributes["connection"] = conn
    return cfg


def view_files() -> list[Path]:
    """Analyst view definitions, in name order (a view may only use views sorted before it)."""
    return sorted((sql_dir() / "views").glob("*.sql"))


def _view_name(path: Path) -> str:
    return path.stem.split("__", 1)[-1]


def create_views(conn: Connection, *, skip_missing: bool = False) -> list[str]:
    """(Re)create every analyst view; return their names. With ``skip_missing`` (after a
    downgrade), a view whose tables the older schema lacks is left out instead of failing."""
    names = []
    for path in view_files():
        name = _view_name(path)
        conn.execute(sa.text(f"drop view if exists {name}"))
        if not skip_missing:
            conn.execute(sa.text(path.read_text(encoding="utf-8")))
            names.append(name)
            continue
        try:
            with conn.begin_nested():
                conn.execute(sa.text(path.read_text(encoding="utf-8")))
        except sa.exc.DBAPIError:
            continue
        names.append(name)
    return names


def drop_views(conn: Connection) -> None:
    """Drop every analyst view (reverse order, so dependants go first)."""
    for path in reversed(view_files()):
        conn.execute(sa.text(f"drop view if exists {_view_name(path)}"))


class ForeignKeyViolationError(RuntimeError):
    """A migration left rows whose foreign keys point at nothing (SQLite); nothing was kept."""


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for a migration.

    On SQLite, foreign key enforcement is off for its length: batch mode rebuilds a table by
    copying it and dropping the original, and dropping a table others point at (feed, article)
    fails or empties them with enforcement on. The pragma is a no-op inside a transaction, so it
    is set before an explicit BEGIN (which also makes the DDL atomic: pysqlite would otherwise
    run DDL before the first row change outside any transaction). Every key is checked before
    commit, and enforcement is back on before the connection returns to the pool.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        try:
            with conn.begin():
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    tables = sorted({f"{r[0]} -> {r[2]}" for r in broken})
                    raise ForeignKeyViolationError(
                        f"migration rolled back: {len(broken)} rows would point at missing "
                        f"parents ({', '.join(tables)})"
                    )
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the warehouse to ``revision`` and refresh the views, in one transaction."""
    with _migrating(engine) as conn:
        drop_views(conn)
        command.upgrade(_config(conn), revision)
        # Below head, a view may need a table of a later revision.
        create_views(conn, skip_missing=revision != "head")


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Migrate the warehouse down to ``revision`` (views are dropped first)."""
    with _migrating(engine) as conn:
        drop_views(conn)
        command.downgrade(_config(conn), revision)
        if revision != "base":
            create_views(conn, skip_missing=True)


def current_revision(engine: Engine) -> str | None:
    """The revision the warehouse is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision in sql/migrations: what ``mediamon db upgrade`` migrates to."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(sql_dir() / "migrations")).get_current_head()
