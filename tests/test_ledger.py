"""The claim ledger (issue 15): comparable fields, comparisons, the linking stage, views, CLI."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.config import get_settings
from pipeline.ledger.compare import Figure, interval, per_day, relate
from pipeline.nlp.claims import ClaimExtractor
from pipeline.nlp.loading import get_nlp
from pipeline.nlp.records import JSON_KEYS, Claim
from tests import ledger_scoring
from tests.seed import add_source_and_feed

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def extractor() -> ClaimExtractor:
    return ClaimExtractor(get_nlp(get_settings().spacy_model))


def _numeric(extractor: ClaimExtractor, text: str, published: date | None = None) -> list[Claim]:
    return [c for c in extractor.analyse(text, published).claims if c.kind == "numeric"]


# --- comparable fields -------------------------------------------------------------------------


def test_unit_norm_event_and_place(extractor: ClaimExtractor) -> None:
    text = (
        "Military Deserters: about 2,000 reported in Kelmor, officials said.\n\n"
        "More than 300,000 Ostrelian soldiers have deserted since the war began, security sources "
        "told the Continental Press Agency. Some 4,000 deserters have returned to their units, "
        "the ministry said. Prosecutors said 180,000 criminal cases were opened this year. "
        "Officials said 15,000 servicemen abandoned their units in October. The agency said "
        "9,000 Ukrainian troops were killed or wounded."
    )
    got = {
        c.value_low: (c.unit_norm, c.unit_class, c.event, c.place)
        for c in _numeric(extractor, text, date(2026, 11, 10))
    }
    assert got[300000.0] == ("soldier", "person", "desert", "Ostrelian")
    assert got[4000.0][:3] == ("deserter", "person", "return")
    assert got[180000.0][1:3] == ("case", "open case")
    assert got[15000.0][:3] == ("serviceman", "person", "desert")
    assert got[9000.0] == ("troop", "person", "casualty", "Ukraine")


def test_figure_kinds_change_rate_share_and_ordinals(extractor: ClaimExtractor) -> None:
    text = (
        "The jobless rate rose from 0.90 percent to 1.23 percent in September, the office said. "
        "Exports fell from 2.1 million tonnes to 1.5 million tonnes, traders said. "
        "The ministry said 650 soldiers deserted a day. "
        "The war is now in its fifth year, the president said. "
        "Officials said it was the fourth year of the war. "
        "The port was shelled for the third time this month, the mayor said."
    )
    claims = _numeric(extractor, text, date(2026, 10, 20))
    kinds = {(c.figure_kind, c.value_low) for c in claims}
    change = next(c for c in claims if c.value_from == 0.9)
    assert (change.figure_kind, change.value_to, change.value_low) == ("change", 1.23, 1.23)
    falling = next(c for c in claims if c.value_from == 2.1e6)
    assert falling.value_to == 1.5e6 and falling.figure_kind == "change"
    assert ("rate", 650.0) in kinds
    ordinals = {c.value_low: c for c in claims if c.figure_kind == "ordinal"}
    assert set(ordinals) == {5.0, 4.0, 3.0}
    assert ordinals[5.0].event == ordinals[4.0].event == "war"
    assert ordinals[5.0].attribution.speaker == "the president"
    assert text[ordinals[3.0].value_start : ordinals[3.0].value_end] == "third time"


def test_cli_claims_json_carries_the_comparable_fields(tmp_path: Path) -> None:
    assert {"unit_norm", "unit_class", "currency", "event", "place", "figure_kind"} <= set(
        JSON_KEYS
    )
    assert {"value_from", "value_to"} <= set(JSON_KEYS)


# --- comparing figures -------------------------------------------------------------------------


def test_intervals_and_daily_rates() -> None:
    assert interval(Figure(100, 100, "approximately")) == pytest.approx((90, 110))
    assert interval(Figure(100, 100, "more_than"))[1] == float("inf")
    assert interval(Figure(100, 100, "up_to")) == (0, 100)
    rate = Figure(15000, 18000, "range", "rate", "month")
    assert per_day(rate) == pytest.approx((15000 / 30.44, 18000 / 30.44))
    october = Figure(
        21600,
        21600,
        period="in October",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
    )
    assert per_day(october) == pytest.approx((21600 / 31, 21600 / 31))
    assert per_day(Figure(5, 5, period="since the war began")) is None


def test_relations_after_normalizing_rates_and_periods() -> None:
    rate = Figure(15000, 18000, "range", "rate", "month")
    since_january = Figure(
        180000,
        180000,
        "approximately",
        period="since January",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 11, 10),
    )
    assert relate(rate, since_january).relation == "agrees"
    october = Figure(
        21600,
        21600,
        period="in October",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
    )
    diverging = relate(rate, october)
    assert diverging.relation == "diverges" and diverging.ratio == pytest.approx(1.285, abs=0.01)
    total = Figure(300000, 500000, "range", period="since the war began")
    assert relate(rate, total).relation == "incomparable"
    assert "rate vs a total" in relate(rate, total).reason
    assert relate(october, since_january).relation == "incomparable"
    assert relate(Figure(300000, 500000, "range"), Figure(400000, 400000)).relation == "agrees"
    assert relate(Figure(300000, 300000), Figure(500000, 500000)).relation == "diverges"
    assert relate(
        total, Figure(300000, 500000, "range", period="since the war began")
    ).relation == ("agrees")
    fourth = Figure(4, 4, figure_kind="ordinal")
    assert relate(fourth, Figure(5, 5, figure_kind="ordinal")).relation == "contradicts"
    assert relate(fourth, Figure(4, 4, figure_kind="ordinal")).relation == "agrees"


# --- the files ledger (mediamon ledger PATH...) ------------------------------------------------

OUTLET_A = (
    "KELMOR - Between 300,000 and 500,000 Ostrelian soldiers have deserted since the war began, "
    "security sources told the Continental Press Agency. The war is now in its fifth year, the "
    "sources said.\n\n"
    "Maria Zakharova, a spokeswoman for the Ostrel prosecutor general, said 15,000 to 18,000 "
    "servicemen leave their units every month, citing data from the prosecutor's office. "
    "Zakharova said the figures were rising. She said about 180,000 soldiers had deserted since "
    "the beginning of the year."
)
OUTLET_B = (
    "DRAVSK - The Dravsk Herald said 21,600 Ostrelian soldiers deserted in October, citing court "
    "records. The ministry said the war was in its fourth year.\n\n"
    "Separately, the ministry said 2,000 Varnian soldiers deserted in October."
)


def test_file_ledger_links_measures_relations_and_actors(extractor: ClaimExtractor) -> None:
    from pipeline.ledger.files import build_file_ledger

    ledger = build_file_ledger(
        [("a.txt", OUTLET_A, None), ("b.txt", OUTLET_B, None)],
        extractor,
        published=date(2026, 11, 10),
    )
    records = {r["measure"]: r for r in ledger.records()}
    desert = next(
        r for label, r in records.items() if label.startswith("desert · soldier · Ostrel")
    )
    figures = {(c["input"], c["value_low"]) for c in desert["claims"]}
    assert figures == {
        ("a.txt", 300000.0),
        ("a.txt", 15000.0),
        ("a.txt", 180000.0),
        ("b.txt", 21600.0),
    }
    # One actor for "Maria Zakharova", "Zakharova" and "She".
    speakers = {c["value_low"]: c["speaker"] for c in desert["claims"]}
    assert speakers[15000.0] == speakers[180000.0] == "Maria Zakharova"
    starts = {(c["input"], c["start"]): c["value_low"] for c in desert["claims"]}
    rel = {
        frozenset(
            (starts[(r["a"]["input"], r["a"]["start"])], starts[(r["b"]["input"], r["b"]["start"])])
        ): r
        for r in desert["relations"]
    }
    assert rel[frozenset((15000.0, 180000.0))]["relation"] == "agrees"
    assert rel[frozenset((15000.0, 21600.0))]["relation"] == "diverges"
    assert rel[frozenset((15000.0, 21600.0))]["ratio"] == pytest.approx(1.285, abs=0.01)
    assert rel[frozenset((300000.0, 15000.0))]["relation"] == "incomparable"
    # Varnian desertions are another measure; the ordinals contradict.
    assert any("Varnia" in label for label in records)
    ordinal = next(r for label, r in records.items() if label.endswith("(ordinal)"))
    assert [r["relation"] for r in ordinal["relations"]] == ["contradicts"]


def test_cli_ledger_of_files_prints_one_json_object_per_measure(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(OUTLET_A, encoding="utf-8")
    b.write_text(OUTLET_B, encoding="utf-8")
    mediamon = Path(sys.executable).with_name("mediamon")
    proc = subprocess.run(
        [str(mediamon), "ledger", str(a), str(b), "--published", "2026-11-10", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert lines and all(
        list(x) == ["measure", "event", "unit_norm", "place", "claims", "relations"] for x in lines
    )
    for x in lines:
        for c in x["claims"]:
            assert list(c) == [
                "input",
                "start",
                "end",
                "text",
                "value_low",
                "value_high",
                "speaker",
            ]
            source = (a if c["input"] == str(a) else b).read_text(encoding="utf-8")
            assert source[c["start"] : c["end"]] == c["text"]
        for r in x["relations"]:
            assert list(r) == ["a", "b", "relation", "ratio"]
            assert r["relation"] in ("agrees", "diverges", "incomparable", "contradicts")
    bad = subprocess.run(
        [str(mediamon), "ledger", str(a), "--published", "10/11/2026"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr


# --- the stage in a warehouse ------------------------------------------------------------------


def _seed(
    engine: sa.Engine,
    extractor: ClaimExtractor,
    items: list[tuple[str, str, str, datetime]],
    status: str = "published",
) -> None:
    """(article id, outlet, text, published) rows, analysed and in ``status``."""
    from pipeline.nlp.store import store_analysis
    from pipeline.warehouse.schema import article, source

    with engine.begin() as conn:
        for aid, outlet, text, when in items:
            sid = conn.execute(sa.select(source.c.id).where(source.c.name == outlet)).scalar()
            if sid is None:
                sid, fid = add_source_and_feed(
                    conn, name=outlet, feed_url=f"http://127.0.0.1/{outlet}.xml", now=when
                )
            else:
                fid = conn.execute(
                    sa.text("select id from feed where source_id = :s"), {"s": sid}
                ).scalar_one()
            conn.execute(
                sa.insert(article).values(
                    id=aid,
                    url=f"http://127.0.0.1/{aid}",
                    source_id=sid,
                    feed_id=fid,
                    discovered_at=when,
                    discovered_run_id="seed",
                    status=status,
                    attempts=1,
                    updated_at=when,
                    text=text,
                    published_at=when,
                )
            )
            store_analysis(conn, aid, extractor.analyse(text, when.date()), now=when)


def _ledger_state(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "claim_measure": "select claim_id, measure_id, reason, low, high, per_day_low, "
        "per_day_high from claim_measure order by claim_id",
        "claim_relation": "select claim_a, claim_b, relation, ratio from claim_relation "
        "order by claim_a, claim_b",
        "members": "select claim_id, cluster_id, role, source_claim_id from claim_cluster_member "
        "order by claim_id",
        "measure": "select id, key from measure order by id",
        "actor": "select id, key, kind from actor order by id",
        "claim_actors": "select id, speaker_actor_id, via_actor_id, cites_actor_id from claim "
        "order by id",
    }
    with engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(sa.text(q))] for k, q in tables.items()}


def check_stage(engine: sa.Engine, extractor: ClaimExtractor) -> None:
    """The ledger stage on a migrated warehouse: links, idempotent, incremental, published only,
    re-analysis re-links; views answer. Shared by the SQLite and PostgreSQL tests."""
    from pipeline.ledger.report import conflict_rows, ledger_rows, spread_rows
    from pipeline.ledger.stage import link_pending

    t0 = datetime(2026, 11, 10, 9, tzinfo=UTC)
    wire_copy = OUTLET_A.replace("KELMOR - ", "KELMOR (Continental Press Agency) - ")
    _seed(
        engine,
        extractor,
        [
            ("a" * 64, "Eastern Wire", OUTLET_A, t0),
            ("b" * 64, "Dravsk Herald", OUTLET_B, t0 + timedelta(hours=2)),
            ("c" * 64, "Meridian Post", wire_copy, t0 + timedelta(hours=5)),
        ],
    )
    _seed(engine, extractor, [("d" * 64, "Harbor Gazette", OUTLET_B, t0)], status="quarantined")
    first = link_pending(engine)
    assert first.linked > 0 and first.relations > 0
    state = _ledger_state(engine)
    # Idempotent: nothing new, nothing changes.
    again = link_pending(engine)
    assert again.claims == 0 and _ledger_state(engine) == state
    with engine.connect() as conn:
        # Quarantined articles' claims are neither linked nor shown.
        linked_articles = set(
            conn.execute(sa.text("select distinct article_id from claim_measure")).scalars()
        )
        assert "d" * 64 not in linked_articles
        viewed = set(conn.execute(sa.text("select distinct article_id from v_claims")).scalars())
        assert viewed == {"a" * 64, "b" * 64, "c" * 64}
        # The wire copy's repeated figures are copies of the first outlet's.
        spread = {r["figure"]: r for r in spread_rows(conn) if r["measure"].startswith("desert")}
        rng = spread["total|300000|500000|"]
        assert (rng["first_outlet"], rng["outlets"]) == ("Eastern Wire", 2)
        assert rng["copies"] + rng["attributed"] == 1
        conflicts = conflict_rows(conn, measure="desert")
        assert any(
            {r["a_outlet"], r["b_outlet"]} == {"Eastern Wire", "Dravsk Herald"}
            and r["relation"] == "diverges"
            for r in conflicts
        )
        assert any(r["relation"] == "contradicts" for r in conflict_rows(conn))
        rows = ledger_rows(conn, measure="desert · soldier · ostrel")
        assert {r["outlet"] for r in rows} == {"Eastern Wire", "Dravsk Herald", "Meridian Post"}
        assert ledger_rows(conn, since=date(2026, 12, 1)) == []
    # Incremental: a later article adds only its own claims.
    later = "Officials said 17,000 Ostrelian soldiers deserted in September, citing court data."
    _seed(engine, extractor, [("e" * 64, "Harbor Gazette", later, t0 + timedelta(days=1))])
    third = link_pending(engine)
    assert third.claims == 1 and third.linked == 1
    # Re-analysing an article forgets its ledger rows; the next run links the new claims.
    from pipeline.nlp.store import store_analysis

    with engine.begin() as conn:
        store_analysis(conn, "b" * 64, extractor.analyse(OUTLET_B, t0.date()), now=t0)
    fourth = link_pending(engine)
    assert fourth.linked >= 3
    assert link_pending(engine).claims == 0
    check_relink(engine)


def check_relink(engine: sa.Engine) -> None:
    """Links made by other linking rules (another LINKER_VERSION, or none recorded) are found,
    forgotten and made again by today's rules; links of today's rules are left alone."""
    from pipeline.ledger.stage import LINKER_VERSION, link_pending, unlink_stale
    from pipeline.warehouse.schema import article

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

    versions = "select distinct linker_version from claim_measure"
    assert rows(versions) == [(LINKER_VERSION,)]
    # Nothing stale: nothing forgotten, nothing changes.
    state = _ledger_state(engine)
    assert unlink_stale(engine) == 0 and _ledger_state(engine) == state
    # Only what the cluster ids carry may change (a re-linked figure's cluster is made anew).
    comparable = ("claim_measure", "claim_relation", "measure", "actor", "claim_actors")
    before = {k: state[k] for k in comparable}
    mark = "update claim_measure set linker_version = {v} where article_id = '{a}'"
    with engine.begin() as conn:
        conn.execute(sa.text(mark.format(v="'mm-ledger-0'", a="a" * 64)))
        conn.execute(sa.text(mark.format(v="null", a="b" * 64)))
    # A window (conditions on the article) that holds neither article forgets nothing.
    assert unlink_stale(engine, [article.c.id == "c" * 64]) == 0
    assert unlink_stale(engine, batch_size=1) == 2
    left = f"select count(*) from claim_measure where article_id in ('{'a' * 64}', '{'b' * 64}')"
    assert rows(left) == [(0,)]
    relinked = link_pending(engine)
    assert relinked.linked > 0
    assert rows(versions) == [(LINKER_VERSION,)]
    after = _ledger_state(engine)
    assert {k: after[k] for k in comparable} == before
    assert len(after["members"]) == len(state["members"])
    assert unlink_stale(engine) == 0 and link_pending(engine).claims == 0


def test_stage_on_sqlite(home: Path, extractor: ClaimExtractor) -> None:
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    check_stage(engine, extractor)
    # The warehouse side of the command reads the same views.
    from typer.testing import CliRunner

    from pipeline.cli import app

    runner = CliRunner()
    rows = runner.invoke(app, ["ledger", "--measure", "desert", "--format", "json"])
    assert rows.exit_code == 0, rows.output
    parsed = [json.loads(line) for line in rows.stdout.splitlines()]
    assert parsed and all("desert" in r["measure"] for r in parsed)
    text = runner.invoke(app, ["ledger", "--conflicts"])
    assert text.exit_code == 0 and "diverges" in text.stdout and "Eastern Wire" in text.stdout
    table = runner.invoke(app, ["ledger", "--since", "2026-11-01"])
    assert "Measure" in table.stdout and "Spread:" in table.stdout
    bad = runner.invoke(app, ["ledger", "--format", "xml"])
    assert bad.exit_code == 2 and "--format" in bad.output


def _statements_to_link(engine: sa.Engine) -> tuple[int, int]:
    """(claims linked, SQL statements the run sent) of one ledger run on ``engine``."""
    from pipeline.ledger.stage import link_pending

    sent: list[str] = []
    listener = lambda *args: sent.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        claims = link_pending(engine).claims
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return claims, len(sent)


def test_linking_costs_statements_per_batch_not_per_claim(
    tmp_path: Path, extractor: ClaimExtractor
) -> None:
    """Issue 17: a batch's measures, actors, clusters and roles are looked up and written a
    batch at a time. Eight copies of a corpus (same outlets, speakers and measures; four times
    the claims, relations and cluster members of two copies) take no more statements to link
    than two copies: a lookup or write per claim, per relation or per cluster would show here."""
    from pipeline.warehouse import make_engine
    from pipeline.warehouse.migrate import upgrade

    t0 = datetime(2026, 11, 10, 9, tzinfo=UTC)
    corpus = [("Eastern Wire", OUTLET_A), ("Dravsk Herald", OUTLET_B)]
    runs = []
    for copies in (2, 8):
        engine = make_engine(f"sqlite:///{tmp_path / f'copies{copies}.sqlite'}")
        upgrade(engine)
        items = [
            (f"{k:02d}{j}".ljust(64, "0"), outlet, text, t0 + timedelta(hours=k))
            for k in range(copies)
            for j, (outlet, text) in enumerate(corpus)
        ]
        _seed(engine, extractor, items)
        runs.append(_statements_to_link(engine))
        engine.dispose()
    (few_claims, few_sent), (many_claims, many_sent) = runs
    assert many_claims == 4 * few_claims > 0
    assert many_sent <= few_sent, (few_sent, many_sent)


def test_replay_of_the_first_claims_links_those_and_no_others(
    tmp_path: Path, extractor: ClaimExtractor
) -> None:
    """Issue 17: ``bench_ledger.py --replay --claims N`` links the first N numeric claims of a
    cleared copy and holds the rest back, so one warehouse shows how linking cost grows with
    the claims linked (relations per claim, time per relation)."""
    sys.path.insert(0, str(REPO))
    from bench.bench_ledger import cleared_copy
    from pipeline.ledger.stage import link_pending
    from pipeline.warehouse import make_engine
    from pipeline.warehouse.migrate import upgrade

    t0 = datetime(2026, 11, 10, 9, tzinfo=UTC)
    engine = make_engine(f"sqlite:///{tmp_path / 'source.sqlite'}")
    upgrade(engine)
    _seed(engine, extractor, [("a" * 64, "Eastern Wire", OUTLET_A, t0)])
    _seed(engine, extractor, [("b" * 64, "Dravsk Herald", OUTLET_B, t0 + timedelta(hours=2))])
    everything = link_pending(engine)
    engine.dispose()
    assert everything.claims > 3
    numeric = "select id from claim where kind = 'numeric' order by id limit 3"
    with contextlib.closing(sqlite3.connect(tmp_path / "source.sqlite")) as conn:
        first = [i for (i,) in conn.execute(numeric)]
    cleared_copy(tmp_path / "source.sqlite", tmp_path / "copy.sqlite", claims=3)
    copy = make_engine(f"sqlite:///{tmp_path / 'copy.sqlite'}")
    assert link_pending(copy).claims == 3
    with copy.connect() as conn:
        linked = list(conn.execute(sa.text("select claim_id from claim_measure order by 1")))
    copy.dispose()
    assert [i for (i,) in linked] == first


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_bulk_insert_stores_what_upsert_stores(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Issue 17: the ledger's bulk insert (COPY on PostgreSQL, the driver's executemany on
    SQLite) stores row for row what ``upsert`` stores, rows already there left alone: tabs,
    newlines, backslashes, quotes, nulls and timestamps included."""
    from pipeline.ledger.bulk import COPY_MIN_ROWS, insert_missing
    from pipeline.warehouse import make_engine
    from pipeline.warehouse.migrate import upgrade
    from pipeline.warehouse.schema_ledger import measure
    from pipeline.warehouse.upsert import upsert

    def rows(labels: str) -> list[dict[str, Any]]:
        return [
            {
                "key": f"value|k{i}",
                "label": f"{labels} {i}\t\\N \\ \"'\n·",
                "event": None if i % 3 else f"e{i}",
                "population": "soldier",
                "unit_class": None,
                "currency": "EUR" if i % 2 else None,
                "place": "Ostrel",
                "figure_group": "value",
                "created_at": datetime(2026, 12, 7, 9, 30, i % 60, i, tzinfo=UTC),
            }
            for i in range(COPY_MIN_ROWS + 100)
        ]

    def stored(engine: sa.Engine) -> list[tuple[Any, ...]]:
        cols = [c for c in measure.c if c.name != "id"]
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(*cols).order_by(measure.c.key))]

    if backend == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'a.sqlite'}", f"sqlite:///{tmp_path / 'b.sqlite'}"]
    else:
        urls = [request.getfixturevalue("pg_url")]
    results = []
    for url, write in zip(urls * 2, ("upsert", "bulk"), strict=False):
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(sa.delete(measure))
            upsert(conn, measure, rows("stored")[:50], key=["key"])
            new = rows("new")
            if write == "upsert":
                upsert(conn, measure, new, key=["key"])
            else:
                columns = list(new[0])
                tuples = [tuple(r[c] for c in columns) for r in new]
                insert_missing(conn, measure, columns, tuples, key=["key"])
        results.append(stored(engine))
        engine.dispose()
    assert len(results[1]) == COPY_MIN_ROWS + 100
    assert results[1] == results[0]


def test_flow_stage_records_its_run_and_an_empty_run_is_green(home: Path) -> None:
    from pipeline import flow
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    counts = flow.link_claims("run-empty")
    assert counts["claims"] == 0
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.text(
                    "select status from pipeline_run where run_id = 'run-empty' "
                    "and stage = 'ledger'"
                )
            ).scalar_one()
            == "success"
        )


# --- the labeled pairs -------------------------------------------------------------------------


def test_labeled_pairs_are_many_and_well_formed() -> None:
    articles, pairs = ledger_scoring.load()
    assert len(pairs) >= 80
    kinds = {p["relation"] for p in pairs if p["same_measure"]}
    assert kinds == {"agrees", "diverges", "incomparable", "contradicts"}
    assert sum(not p["same_measure"] for p in pairs) >= 20
    for p in pairs:
        for side in (p["a"], p["b"]):
            text = (ledger_scoring.GOLD / "articles" / side["file"]).read_text(encoding="utf-8")
            ledger_scoring.locate(text, str(side["figure"]), int(side.get("occurrence", 1)))
            assert side["file"] in articles


def test_labeled_pairs_score(extractor: ClaimExtractor) -> None:
    s = ledger_scoring.score(extractor)
    print("\nledger on tests/gold/ledger:", s.summary())
    for line in s.errors:
        print("  " + line)
    assert s.precision >= 0.9, s.summary()
    assert s.recall >= 0.8, s.summary()
    assert s.relation_accuracy >= 0.85, s.summary()
