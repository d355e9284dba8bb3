"""Ledger linking cost per new claim as the stored ledger grows, on PostgreSQL (issue 15).

    .venv/bin/python bench/bench_ledger.py [--sizes 10000,1000000] [--sample 1000]
        [--per-measure 50] [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

For each size N a throwaway database, migrated as deployed, first holds N numeric claims already
linked: N/5 published articles from 200 outlets over 365 days, N/per-measure measures (so the
claims per measure, and with them the comparisons a new claim makes, are the same at every size:
what grows is the warehouse, not the measures), one figure cluster per claim with every fifth
claim repeating an earlier figure, two stored relations per claim, 500 actors. They are
bulk-loaded with COPY, not timed, then VACUUM ANALYZE (what autovacuum does to a long-lived
table). The rows are generated, not produced by the linker: the timed part is.

Then ``--sample`` new numeric claims (5 per new published article; half in existing measures
chosen at random, half in new ones) are inserted untimed, and ``pipeline.ledger.stage.
link_pending`` (the production stage, default batch and window) links them, timed: milliseconds
per new claim, and the count of relations it wrote. A first untimed round of 200 claims warms the
buffers. Every size is loaded first; then ``--rounds`` rounds alternate between the sizes (each
with a fresh sample), so other load on the machine hits every size alike. Prints one line per
load and per round, and the ratio of the best per-claim time at the largest size to the smallest
(goal: <= 1.5).

    .venv/bin/python bench/bench_ledger.py --replay WAREHOUSE.sqlite [--on postgresql]
        [--profile 30] [--dump rows.json] [--claims N] [--window W]

Replay (issue 17): the ledger stage on a real warehouse, e.g. the one ``bench/bench_e2e.py
--keep`` leaves in ``run-p1/``. A copy has its ledger cleared (links, relations, clusters,
measures, actors) and every numeric claim is linked again as by the first run, timed, with the
count of SQL statements sent. ``--on postgresql`` copies the rows into a throwaway PostgreSQL
database first. ``--profile N`` prints the N costliest functions (cProfile, cumulative); ``--dump``
writes every ledger row, sorted, to compare two versions of the stage row for row. ``--claims N``
links only the first N numeric claims (by id; the rest are held back, as the quality gate holds
claims), so one warehouse shows how the cost grows with the claims linked: the line gives the
relations written per claim and the microseconds per relation, the two factors of the time.
``--window W`` links with that window instead of the stage's default (200); on
SQLite the line also gives the megabytes of ``claim_relation`` with its indexes and of the whole
warehouse after linking, so the window's cost in storage is measured with its cost in time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_dedupe import throwaway_database  # noqa: E402
from pipeline.ledger.stage import DEFAULT_WINDOW, link_pending  # noqa: E402
from pipeline.warehouse import make_engine  # noqa: E402
from pipeline.warehouse.migrate import upgrade  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OUTLETS = 200
ACTORS = 500
EVENTS = ["desert", "return", "kill", "casualty", "detain", "capture", "export", "produce"]
POPULATIONS = ["soldier", "civilian", "prisoner", "tonne", "drone", "village", "case", "person"]


def measure_parts(m: int) -> tuple[str, str, str]:
    """(event, population, place) of generated measure number ``m`` (all distinct)."""
    event = EVENTS[m % len(EVENTS)]
    population = POPULATIONS[(m // len(EVENTS)) % len(POPULATIONS)]
    place = f"Place{m // (len(EVENTS) * len(POPULATIONS))}"
    return event, population, place


def claim_row(
    cid: int, article_id: str, index: int, m: int, value: float, rate: str | None, when: datetime
) -> dict[str, Any]:
    event, population, place = measure_parts(m)
    return {
        "id": cid,
        "article_id": article_id,
        "claim_index": index,
        "kind": "numeric",
        "text": f"Officials said {value:,.0f} {population}s were affected.",
        "start_offset": 0,
        "end_offset": 40,
        "cue": "said",
        "speaker": f"Speaker {cid % ACTORS}",
        "via": "[]",
        "cites": "[]",
        "hedges": "[]",
        "hedged": False,
        "value_low": value,
        "value_high": value,
        "qualifier": "exact",
        "unit": population + "s",
        "rate_per": rate,
        "unit_norm": population,
        "unit_class": "person",
        "event": event,
        "place": place,
        "figure_kind": "rate" if rate else "total",
        "speaker_actor_id": cid % ACTORS + 1,
        "extractor_version": "bench",
        "created_at": when,
        "linked": True,
    }


CLAIM_COLS = list(claim_row(1, "a", 0, 0, 1.0, None, NOW))


def _copy(conn: Any, table: str, cols: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
    with conn.cursor() as cur, cur.copy(f"copy {table} ({', '.join(cols)}) from stdin") as cp:
        for row in rows:
            cp.write_row(row)


def load(url: str, n: int, per_measure: int, rng: random.Random) -> dict[str, Any]:
    """Bulk-load N linked claims; return what the sample needs (measures, next ids)."""
    engine = make_engine(url)
    upgrade(engine)
    measures = max(1, n // per_measure)
    articles = max(1, n // 5)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None
        _copy(
            conn,
            "source",
            ["id", "name", "created_at"],
            ((i + 1, f"Outlet {i}", NOW) for i in range(OUTLETS)),
        )
        _copy(
            conn,
            "feed",
            [
                "id",
                "source_id",
                "url",
                "tags",
                "enabled",
                "status",
                "failures",
                "created_at",
                "updated_at",
            ],
            (
                (i + 1, i + 1, f"http://127.0.0.1/{i}.xml", "[]", True, "ok", 0.0, NOW, NOW)
                for i in range(OUTLETS)
            ),
        )
        _copy(
            conn,
            "actor",
            ["id", "key", "name", "kind", "created_at"],
            ((i + 1, f"speaker {i}", f"Speaker {i}", "person", NOW) for i in range(ACTORS)),
        )
        _copy(
            conn,
            "entity",
            ["id", "name", "normalized", "label", "created_at"],
            ((i + 1, f"Place{i}", f"place{i}", "GPE", NOW) for i in range(measures // 64 + 1)),
        )
        _copy(
            conn,
            "measure",
            [
                "id",
                "key",
                "label",
                "event",
                "population",
                "unit_class",
                "place",
                "figure_group",
                "created_at",
            ],
            (
                (
                    m + 1,
                    "|".join(
                        ("value", *measure_parts(m)[:2], "person", "?", measure_parts(m)[2].lower())
                    ),
                    " · ".join(measure_parts(m)),
                    *measure_parts(m)[:2],
                    "person",
                    measure_parts(m)[2],
                    "value",
                    NOW,
                )
                for m in range(measures)
            ),
        )
        when = [
            NOW - timedelta(days=365) + timedelta(seconds=rng.randrange(365 * 86400))
            for _ in range(articles)
        ]
        when.sort()
        _copy(
            conn,
            "article",
            [
                "id",
                "url",
                "source_id",
                "feed_id",
                "discovered_at",
                "discovered_run_id",
                "status",
                "attempts",
                "updated_at",
                "published_at",
                "text",
            ],
            (
                (
                    f"{a:064x}",
                    f"http://127.0.0.1/a/{a}",
                    a % OUTLETS + 1,
                    a % OUTLETS + 1,
                    when[a],
                    "bench",
                    "published",
                    1,
                    when[a],
                    when[a],
                    "text",
                )
                for a in range(articles)
            ),
        )
        claims: list[tuple[int, int, int, float, str | None]] = []  # id, article, m, value, rate
        by_measure: dict[int, list[int]] = {}
        for cid in range(1, n + 1):
            a = (cid - 1) // 5
            m = rng.randrange(measures)
            earlier = by_measure.setdefault(m, [])
            if earlier and cid % 5 == 0:  # a repeated figure
                value, rate = claims[rng.choice(earlier) - 1][3:5]
            else:
                value = float(rng.randrange(100, 500_000))
                rate = "month" if rng.random() < 0.3 else None
            claims.append((cid, a, m, value, rate))
            earlier.append(cid)
        _copy(
            conn,
            "claim",
            CLAIM_COLS,
            (
                tuple(claim_row(cid, f"{a:064x}", (cid - 1) % 5, m, v, r, when[a]).values())
                for cid, a, m, v, r in claims
            ),
        )
        _copy(
            conn,
            "claim_measure",
            [
                "claim_id",
                "measure_id",
                "article_id",
                "source_id",
                "seen_at",
                "evidence",
                "low",
                "high",
                "linked_at",
            ],
            (
                (cid, m + 1, f"{a:064x}", a % OUTLETS + 1, when[a], "{}", v, v, NOW)
                for cid, a, m, v, _ in claims
            ),
        )
        figures: dict[tuple[int, str], int] = {}
        members = []
        for cid, _, m, v, r in claims:
            key = (m + 1, f"{'rate' if r else 'total'}|{v:g}|{v:g}|{r or ''}")
            first = key not in figures
            figures.setdefault(key, len(figures) + 1)
            members.append((cid, figures[key], "origin" if first else "independent"))
        _copy(
            conn,
            "claim_cluster",
            ["id", "measure_id", "figure", "created_at"],
            ((i, m, f, NOW) for (m, f), i in figures.items()),
        )
        _copy(conn, "claim_cluster_member", ["claim_id", "cluster_id", "role"], iter(members))
        pairs: set[tuple[int, int]] = set()
        for ids in by_measure.values():
            for k, cid in enumerate(ids[1:], start=1):
                for other in rng.sample(ids[:k], min(2, k)):
                    pairs.add((other, cid))
        _copy(
            conn,
            "claim_relation",
            ["claim_a", "claim_b", "measure_id", "relation", "reason", "created_at"],
            ((x, y, claims[x - 1][2] + 1, "diverges", "bench", NOW) for x, y in sorted(pairs)),
        )
        for table in ("source", "feed", "actor", "entity", "measure", "claim", "claim_cluster"):
            conn.execute(
                f"select setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(select max(id) from {table}))"
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("vacuum analyze")
    finally:
        raw.close()
    engine.dispose()
    return {"measures": measures, "articles": articles, "claims": n, "relations": len(pairs)}


def add_sample(url: str, state: dict[str, Any], count: int, rng: random.Random, tag: str) -> None:
    """Insert ``count`` new, unlinked numeric claims (5 per new published article)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        next_claim = conn.execute(sa.text("select max(id) from claim")).scalar_one() + 1
        rows_a, rows_c = [], []
        for k in range(count):
            if k % 5 == 0:
                aid = f"{tag}{k:060d}"[:64]
                when = NOW + timedelta(minutes=k)
                rows_a.append(
                    {
                        "id": aid,
                        "url": f"http://127.0.0.1/{aid}",
                        "source_id": k % OUTLETS + 1,
                        "feed_id": k % OUTLETS + 1,
                        "discovered_at": when,
                        "discovered_run_id": "bench",
                        "status": "published",
                        "attempts": 1,
                        "updated_at": when,
                        "published_at": when,
                        "text": "text",
                    }
                )
            m = (
                rng.randrange(state["measures"])
                if k % 2 == 0
                else state["measures"] + rng.randrange(10**6)
            )
            value = float(rng.randrange(100, 500_000))
            rate = "month" if rng.random() < 0.3 else None
            row = claim_row(next_claim + k, aid, k % 5, m, value, rate, when)
            row["speaker_actor_id"] = None
            row["linked"] = False
            for col in ("via", "cites", "hedges"):
                row[col] = []
            rows_c.append(row)
        conn.execute(
            sa.text(
                "insert into article (id, url, source_id, feed_id, discovered_at, "
                "discovered_run_id, status, attempts, updated_at, published_at, text) values "
                "(:id, :url, :source_id, :feed_id, :discovered_at, :discovered_run_id, :status, "
                ":attempts, :updated_at, :published_at, :text)"
            ),
            rows_a,
        )
        from pipeline.warehouse.schema_claims import claim

        conn.execute(sa.insert(claim), rows_c)
    engine.dispose()


def timed_link(url: str) -> tuple[float, dict[str, int]]:
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        counts = link_pending(engine).as_dict()
        return time.perf_counter() - t0, counts
    finally:
        engine.dispose()


# What a first ledger run finds: no ledger rows, no actors, every numeric claim unlinked.
LEDGER_TABLES = ("claim_cluster_member", "claim_cluster", "claim_relation", "claim_measure")
REPLAY_NOW = datetime(2026, 12, 7, tzinfo=UTC)


def cleared_copy(source: Path, target: Path, claims: int | None = None) -> None:
    """``source`` copied to ``target`` (SQLite's backup API, WAL included), ledger cleared; with
    ``claims``, every numeric claim after the first ``claims`` held back from linking."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        for table in (*LEDGER_TABLES, "actor_alias"):
            dst.execute(f"delete from {table}")
        dst.execute(
            "update claim set speaker_actor_id = null, via_actor_id = null, "
            "cites_actor_id = null, linked = 0"
        )
        dst.execute("delete from actor")
        dst.execute("delete from measure")
        if claims is not None:
            dst.execute(
                "update claim set held = 1 where kind = 'numeric' and id > coalesce((select id "
                "from claim where kind = 'numeric' order by id limit 1 offset ?), id)",
                (claims - 1,),
            )
        dst.commit()


def copy_to_postgres(sqlite_url: str, pg_url: str) -> None:
    """Every row of the SQLite warehouse into a migrated PostgreSQL database, ids kept."""
    from pipeline.warehouse.schema import metadata

    target = make_engine(pg_url)
    upgrade(target)
    source = make_engine(sqlite_url)
    with source.connect() as src, target.begin() as dst:
        for table in metadata.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(sa.select(table))]
            for start in range(0, len(rows), 2000):
                dst.execute(sa.insert(table), rows[start : start + 2000])
            if "id" in table.c and isinstance(table.c.id.type, sa.Integer):
                dst.execute(
                    sa.text(
                        f"select setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"coalesce((select max(id) from {table.name}), 0) + 1, false)"
                    )
                )
    with target.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("vacuum analyze"))
    source.dispose()
    target.dispose()


def dump_rows(engine: sa.Engine, path: Path) -> None:
    """Every ledger row as JSON, in key order, timestamps as UTC ISO text on both backends."""
    from pipeline.warehouse.schema_claims import claim
    from pipeline.warehouse.schema_ledger import (
        actor,
        actor_alias,
        claim_cluster,
        claim_cluster_member,
        claim_measure,
        claim_relation,
        measure,
    )

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        return value

    tables = (
        measure,
        actor,
        actor_alias,
        claim_measure,
        claim_relation,
        claim_cluster,
        claim_cluster_member,
    )
    queries = {t.name: sa.select(t).order_by(*t.primary_key.columns) for t in tables}
    queries["claim"] = sa.select(
        claim.c.id,
        claim.c.speaker_actor_id,
        claim.c.via_actor_id,
        claim.c.cites_actor_id,
        claim.c.linked,
    ).order_by(claim.c.id)
    with engine.connect() as conn:
        data = {
            name: [{k: plain(v) for k, v in r._mapping.items()} for r in conn.execute(q)]
            for name, q in queries.items()
        }
    path.write_text(json.dumps(data, default=str, sort_keys=True))


def sqlite_sizes(path: Path) -> dict[str, float]:
    """Megabytes of ``claim_relation`` (table and indexes) and of the whole warehouse (pages in
    use: the cleared copy keeps the free pages of the ledger it had), after checkpointing the
    write-ahead log into the file."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("pragma wal_checkpoint(truncate)")
        (relation,) = conn.execute(
            "select sum(pgsize) from dbstat where name = 'claim_relation' "
            "or name in (select name from sqlite_master where type = 'index' "
            "and tbl_name = 'claim_relation')"
        ).fetchone()
        pages = conn.execute("pragma page_count").fetchone()[0]
        free = conn.execute("pragma freelist_count").fetchone()[0]
        size = conn.execute("pragma page_size").fetchone()[0]
    mb = 1024 * 1024
    return {
        "relation_mb": round((relation or 0) / mb),
        "warehouse_mb": round((pages - free) * size / mb),
    }


def replay(args: argparse.Namespace) -> int:
    """Link every numeric claim of a copy of ``args.replay`` again; print what it cost."""
    import cProfile
    import pstats
    import tempfile

    print(f"command: {' '.join(sys.argv)}")
    print(f"load average at start: {os.getloadavg()}")
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mm-ledger-")))
        cleared_copy(Path(args.replay), work / "warehouse.sqlite", args.claims)
        url = f"sqlite:///{work / 'warehouse.sqlite'}"
        if args.on == "postgresql":
            pg = stack.enter_context(throwaway_database(args.pg_url, "mediamon_bench_replay"))
            copy_to_postgres(url, pg)
            url = pg
        engine = make_engine(url)
        sent = [0]
        sa.event.listen(
            engine, "before_cursor_execute", lambda *_: sent.__setitem__(0, sent[0] + 1)
        )
        profile = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if profile:
            profile.enable()
        counts = link_pending(engine, now=REPLAY_NOW, window=args.window).as_dict()
        if profile:
            profile.disable()
        secs = time.perf_counter() - t0
        print(
            json.dumps(
                {
                    "on": args.on,
                    "link_s": round(secs, 2),
                    "statements": sent[0],
                    **counts,
                    "relations_per_claim": round(counts["relations"] / max(counts["claims"], 1), 1),
                    "us_per_relation": round(secs / max(counts["relations"], 1) * 1e6, 1),
                    "window": args.window,
                    **(sqlite_sizes(work / "warehouse.sqlite") if args.on == "sqlite" else {}),
                    "load_average": os.getloadavg(),
                }
            )
        )
        if profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
        if args.dump:
            dump_rows(engine, Path(args.dump))
        engine.dispose()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replay", help="a SQLite warehouse whose claims to link again")
    parser.add_argument("--on", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    parser.add_argument("--dump", help="write the ledger rows the replay made to this file")
    parser.add_argument("--claims", type=int, help="replay: link only the first N numeric claims")
    parser.add_argument(
        "--window", type=int, default=DEFAULT_WINDOW, help="replay: the ledger window to link with"
    )
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-measure", type=int, default=50)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    if args.replay:
        return replay(args)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"command: {' '.join(sys.argv)}")
    per_claim: dict[int, list[float]] = {n: [] for n in sizes}
    with contextlib.ExitStack() as stack:
        urls, states, rngs = {}, {}, {}
        for n in sizes:
            rngs[n] = random.Random(args.seed)
            urls[n] = stack.enter_context(throwaway_database(args.pg_url, "mediamon_bench_ledger"))
            t0 = time.perf_counter()
            states[n] = load(urls[n], n, args.per_measure, rngs[n])
            add_sample(urls[n], states[n], 200, rngs[n], "w")
            warm_s, _ = timed_link(urls[n])
            print(
                json.dumps(
                    {
                        "stored_claims": n,
                        "measures": states[n]["measures"],
                        "stored_relations": states[n]["relations"],
                        "load_s": round(time.perf_counter() - t0 - warm_s, 1),
                        "warm_up_s": round(warm_s, 2),
                    }
                )
            )
        # Rounds alternate sizes, so load from other processes hits every size alike; the best
        # round of each size is the least disturbed measurement.
        for r in range(args.rounds):
            for n in sizes:
                add_sample(urls[n], states[n], args.sample, rngs[n], f"s{r}")
                secs, counts = timed_link(urls[n])
                per_claim[n].append(secs / max(counts["claims"], 1) * 1000)
                print(
                    json.dumps(
                        {
                            "round": r,
                            "stored_claims": n,
                            "sample_claims": counts["claims"],
                            "relations_written": counts["relations"],
                            "link_s": round(secs, 2),
                            "ms_per_claim": round(per_claim[n][-1], 3),
                        }
                    )
                )
    small, large = min(sizes), max(sizes)
    best = {n: min(v) for n, v in per_claim.items()}
    ratio = best[large] / best[small]
    print(
        f"best ms/claim: {best[small]:.3f} at {small:,}, {best[large]:.3f} at {large:,} stored "
        f"claims; ratio {ratio:.2f} (goal <= 1.5)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
