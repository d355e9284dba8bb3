"""Migrations on a populated warehouse (SQLite): each one round-trips without losing rows, and the
migrated schema refuses rows that break its rules. The checks are shared with the PostgreSQL
twin, tests/integration/test_migrations_postgres.py."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from pipeline import flow
from pipeline.warehouse import get_engine, schema, schema_quality
from pipeline.warehouse.migrate import downgrade, sql_dir, upgrade

# Fits every constrained column (the narrowest is VARCHAR(10)), so PostgreSQL refuses it for
# the rule, not for its length.
BAD_VALUE = "bogus"

Snapshot = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


def revisions() -> list[tuple[str, str | None]]:
    """(revision, down_revision) from head to the first."""
    cfg = Config()
    cfg.set_main_option("script_location", str(sql_dir() / "migrations"))
    script = ScriptDirectory.from_config(cfg)
    out = []
    for rev in script.walk_revisions():
        down = rev.down_revision
        assert down is None or isinstance(down, str), f"{rev.revision}: merges are not expected"
        out.append((rev.revision, down))
    return out


def populate(run_id: str = "populate-1") -> None:
    """Run every stage, the ledger included, on the sample corpus: the demo's warehouse."""
    flow.run_ingest(run_id)


def add_quarantine_row(engine: Engine) -> None:
    """One released quarantine row about a published article: the sample corpus passes the gate
    whole, and the quarantine table must hold a row for the checks below."""
    q = schema_quality.quarantine
    with engine.begin() as conn:
        art = conn.execute(sa.select(schema.article.c.id).order_by(schema.article.c.id)).first()
        dq = conn.execute(sa.select(sa.func.min(schema_quality.dq_run.c.id))).scalar()
        assert art is not None and dq is not None
        conn.execute(
            sa.insert(q).values(
                entity="article",
                entity_id=art.id,
                article_id=art.id,
                expectation="text_words",
                reason="a reviewer held it back, then released it",
                run_id="populate-1",
                dq_run_id=dq,
                created_at=datetime(2026, 12, 1, tzinfo=UTC),
                released_at=datetime(2026, 12, 2, tzinfo=UTC),
            )
        )


def empty_tables(engine: Engine) -> list[str]:
    """Tables without rows (only ``host`` may be: loopback has no politeness state to keep)."""
    with engine.connect() as conn:
        return [
            t.name
            for t in schema.metadata.sorted_tables
            if t.name != "host"
            and not conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        ]


def _plain(value: Any) -> Any:
    # psycopg returns bytea as memoryview, whose repr is an address.
    return bytes(value) if isinstance(value, memoryview) else value


def snapshot(engine: Engine) -> Snapshot:
    """Every table's columns (sorted) and rows, as the database has them now."""
    out: Snapshot = {}
    with engine.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        for name, table in meta.tables.items():
            if name == "alembic_version":
                continue
            cols = sorted(table.c.keys())
            rows = conn.execute(sa.select(*[table.c[c] for c in cols])).all()
            out[name] = (cols, [tuple(_plain(v) for v in r) for r in rows])
    return out


def digest(snap: Snapshot, table: str, columns: list[str]) -> str:
    """Order-independent hash of ``table``'s rows restricted to ``columns``."""
    cols, rows = snap[table]
    idx = [cols.index(c) for c in columns]
    lines = sorted(repr(tuple(r[i] for i in idx)) for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def check_round_trips(engine: Engine) -> list[str]:
    """From head down: each revision downgraded one step and upgraded again keeps the rows (and
    their content, in the columns it did not add) of every table it did not create. Ends one
    step below the first revision (an empty database). Returns the problems found."""
    problems: list[str] = []
    for rev, down in revisions():
        before = snapshot(engine)
        downgrade(engine, down or "base")
        kept = snapshot(engine)
        upgrade(engine, rev)
        after = snapshot(engine)
        if set(after) != set(before):
            problems.append(f"{rev}: tables {sorted(set(before) ^ set(after))} differ")
        for table, (cols, rows) in kept.items():
            if table not in before:
                problems.append(f"{rev}: downgrade created {table}")
                continue
            n = (len(before[table][1]), len(rows), len(after[table][1]))
            if len(set(n)) != 1:
                problems.append(f"{rev}: {table} rows at rev / below / back: {n}")
                continue
            common = [c for c in cols if c in before[table][0]]
            if digest(before, table, common) != digest(after, table, common):
                problems.append(f"{rev}: {table} content changed in {common}")
        downgrade(engine, down or "base")
    return problems


def _pk_of_one_row(conn: sa.Connection, table: sa.Table) -> dict[str, Any]:
    pk = list(table.primary_key.columns)
    row = conn.execute(sa.select(*pk).order_by(*pk).limit(1)).first()
    assert row is not None, f"{table.name} has no rows to break; the populated warehouse should"
    return {c.name: v for c, v in zip(pk, row, strict=True)}


def _refused(engine: Engine, table: sa.Table, values: dict[str, Any]) -> bool:
    """Whether the database refuses setting ``values`` on one existing row of ``table``."""
    with engine.connect() as conn:
        key = _pk_of_one_row(conn, table)
        where = [table.c[k] == v for k, v in key.items()]
        conn.rollback()
        try:
            # Deferred keys are checked at commit, so commit (a refused row rolls back).
            with conn.begin():
                conn.execute(sa.update(table).where(*where).values(values))
        except sa.exc.IntegrityError:
            return True
    return False


def check_rules_enforced(engine: Engine) -> list[str]:
    """Every CHECK and foreign key of the schema refuses a row that breaks it; return the rules
    the database let through (the warehouse must hold a row of each constrained table)."""
    let_through = []
    for table in schema.metadata.sorted_tables:
        for ck in table.constraints:
            if isinstance(ck, sa.CheckConstraint):
                column = str(ck.sqltext).split()[0]
                if not _refused(engine, table, {column: BAD_VALUE}):
                    let_through.append(f"{ck.name}: {table.name}.{column} = {BAD_VALUE!r}")
        for fk in table.foreign_keys:
            col = fk.parent
            missing: Any = -1 if isinstance(col.type, sa.Integer) else "no-such-row"
            if not _refused(engine, table, {col.name: missing}):
                let_through.append(f"{fk.constraint.name}: {table.name}.{col.name} = {missing!r}")
    return let_through


def test_sqlite_migrations_keep_rows_and_the_schema_keeps_its_rules(
    home: Path, sample_feeds: Path
) -> None:
    engine = get_engine()
    upgrade(engine)
    populate()
    add_quarantine_row(engine)
    assert empty_tables(engine) == []
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert check_rules_enforced(engine) == []

    assert check_round_trips(engine) == []
    # Enforcement is back on for the pool's connections after all those migrations.
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_upgrade_refuses_rows_that_break_the_new_rules(home: Path) -> None:
    check_upgrade_refuses_bad_rows(get_engine())


def check_upgrade_refuses_bad_rows(engine: Engine) -> None:
    """Revision 20261207_0013 refuses, naming them, rows its rules would refuse; and changes
    nothing."""
    upgrade(engine, "20261207_0012")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into pipeline_run (run_id, stage, started_at, status, counts)"
                " values ('r1', 'fetch', '2026-12-01 00:00:00', 'sucess', '{}')"
            )
        )
        conn.execute(
            sa.text(
                "insert into quarantine (entity, entity_id, article_id, expectation, reason,"
                " run_id, created_at) values ('article', 'a1', 'gone', 'x', 'y', 'r1',"
                " '2026-12-01 00:00:00')"
            )
        )
    with pytest.raises(RuntimeError) as err:
        upgrade(engine)
    message = str(err.value)
    assert "pipeline_run.status" in message and "'sucess' (1 rows)" in message
    assert "quarantine.article_id: 1 rows" in message and "\n" not in message
    # Refused as a whole: still at the old revision, the rows untouched, nothing half-built.
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar() == (
            "20261207_0012"
        )
        assert conn.execute(sa.text("select status from pipeline_run")).scalar() == "sucess"
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert "paywall_suspected" not in {c["name"] for c in sa.inspect(engine).get_columns("article")}
