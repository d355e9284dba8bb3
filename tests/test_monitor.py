"""Media Monitor queries (pipeline.monitor) that matter at scale: lookup filters resolved to keys
first, and overview tiles that fall back to the planner's estimate on huge tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pipeline.monitor import listing, pages
from pipeline.monitor.listing import Column, Filter, Listing, ListingError, fetch

LEDGER = Listing(
    name="ledger",
    source="(select r.id, r.measure_id, r.seen from ledger_row as r)",
    columns=(Column("seen", "seen"), Column("measure_id", "measure", "number")),
    default_sort="seen",
    filters=(
        Filter(
            "measure",
            "measure",
            "measure_id",
            "lookup",
            lookup="select id from measure_name where lower(label) like :value",
        ),
    ),
    count=False,
    sort_filters=("measure",),
)


@pytest.fixture
def ledger() -> Iterator[sa.Engine]:
    """An in-memory warehouse-like pair: 30 measures, 300 ledger rows (10 per measure)."""
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("create table measure_name (id integer primary key, label text)")
        conn.exec_driver_sql(
            "create table ledger_row (id integer primary key, measure_id integer, seen integer)"
        )
        conn.execute(
            sa.text("insert into measure_name values (:id, :label)"),
            [{"id": i, "label": f"Event {i} · Place"} for i in range(1, 31)],
        )
        conn.execute(
            sa.text("insert into ledger_row values (:id, :m, :seen)"),
            [{"id": i, "m": 1 + i % 30, "seen": i} for i in range(300)],
        )
    yield engine
    engine.dispose()


def _measures(engine: sa.Engine, value: str, per_page: int = 200) -> list[int]:
    with engine.connect() as conn:
        page = fetch(conn, LEDGER, {"measure": value, "per_page": str(per_page)})
    return [row["measure_id"] for row in page.rows]


def test_lookup_filter_is_applied_by_the_keys_it_finds(ledger: sa.Engine) -> None:
    # "event 1" matches measures 1 and 10-19: 11 measures, 10 rows each.
    rows = _measures(ledger, "EVENT 1")
    assert sorted(set(rows)) == [1, *range(10, 20)] and len(rows) == 110
    assert _measures(ledger, "no such measure") == []
    # Quotes and SQL in the value are a pattern, never SQL.
    assert _measures(ledger, "'; drop table ledger_row; --") == []
    assert len(_measures(ledger, "place")) == 200  # one full page of all 300


def test_lookup_filter_over_the_cap_uses_the_subquery_with_the_same_rows(
    ledger: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_keys = _measures(ledger, "event 2")
    monkeypatch.setattr(listing, "LOOKUP_CAP", 3)  # "event 2" matches 2 and 20-29: 11 keys
    assert _measures(ledger, "event 2") == by_keys and len(by_keys) == 110


def test_lookup_filter_keeps_other_parameters_checked(ledger: sa.Engine) -> None:
    with ledger.connect() as conn, pytest.raises(ListingError, match="cannot sort"):
        fetch(conn, LEDGER, {"measure": "event", "sort": "label; drop"})


def test_a_huge_table_sorts_by_other_columns_only_when_filtered(ledger: sa.Engine) -> None:
    with ledger.connect() as conn:
        with pytest.raises(ListingError, match="needs a measure filter"):
            fetch(conn, LEDGER, {"sort": "measure_id"})
        whole = fetch(conn, LEDGER, {}).as_dict()
        one = fetch(conn, LEDGER, {"measure": "event 3", "sort": "measure_id", "order": "asc"})
    assert {c["key"]: c["sortable"] for c in whole["columns"]} == {
        "seen": True,
        "measure_id": False,
    }
    assert one.as_dict()["columns"][1]["sortable"]
    assert [r["measure_id"] for r in one.rows] == sorted(r["measure_id"] for r in one.rows)


def test_a_page_past_the_statement_timeout_is_stopped_with_a_message(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sa.create_engine(pg_url)
    monkeypatch.setattr(pages, "STATEMENT_TIMEOUT_MS", 200)
    try:
        with (
            pytest.raises(pages.TooSlowError, match="narrow it with a filter"),
            pages.reading(engine) as conn,
        ):
            conn.exec_driver_sql("select pg_sleep(5)")
        with pages.reading(engine) as conn:  # the pooled connection is usable again
            assert conn.exec_driver_sql("select 1").scalar() == 1
    finally:
        engine.dispose()


def test_tiles_count_exactly_on_sqlite(ledger: sa.Engine) -> None:
    approximate: list[str] = []
    with ledger.connect() as conn:
        n = pages._tile_count(conn, approximate, "rows", "select 1 from ledger_row")
    assert (n, approximate) == (300, [])


def test_tiles_on_big_postgresql_tables_show_the_estimate_and_say_so(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("create table big (id integer primary key)")
            conn.exec_driver_sql("insert into big select i from generate_series(1, 5000) as i")
            conn.exec_driver_sql("analyze big")
            default_jit = conn.exec_driver_sql("show jit").scalar()
        monkeypatch.setattr(pages, "EXACT_COUNT_LIMIT", 1000)
        approximate: list[str] = []
        with pages.reading(engine) as conn:
            assert conn.exec_driver_sql("show jit").scalar() == "off"
            total = pages._tile_count(conn, approximate, "total", "select 1 from big")
            small = pages._tile_count(
                conn, approximate, "small", "select 1 from big where id <= :n", n=10
            )
        # After ANALYZE the estimate of a whole table is its size; the small count stays exact.
        assert approximate == ["total"]
        assert 4500 <= total <= 5500 and small == 10
        with engine.connect() as conn:  # the setting ended with the page's transaction
            assert conn.exec_driver_sql("show jit").scalar() == default_jit
    finally:
        engine.dispose()
