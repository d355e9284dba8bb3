"""Media Monitor latency on a big PostgreSQL warehouse (issue 18).

    .venv/bin/python bench/bench_ui.py [--articles 1000000] [--stories 100000]
        [--claims 5000000] [--repeat 20]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

A throwaway database, migrated as deployed, is filled by generated rows (server-side
``generate_series``, not timed): 1,000 outlets with 2 feeds each and 50 polls per feed; the
articles spread over 365 days (95 % published, 1 in 20 failed or held); stories of equal size;
the claims, 5 per article on average, every one linked to one of claims/100 measures and
speakers among 10,000 actors; a conflict relation for every 50th claim; gate runs, failing
results and quarantine rows. Then VACUUM ANALYZE (what autovacuum does to a long-lived table).

Each page and JSON route of the Media Monitor is then timed as the plugin runs it: the query
function of ``pipeline.monitor.pages`` on a fresh connection from the pool, plus HTML rendering
(``render_page``) for the page or ``json.dumps`` for its JSON twin, on a connection from
``pages.reading`` as the plugin opens it; HTTP and the auth check are
not included (they do not depend on the warehouse). Several parameter sets per page: the default
view, a filter, another sort, a deep page. Prints p50 and p95 per route and parameter set, and
whether p95 meets the goal (< 300 ms).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_dedupe import throwaway_database  # noqa: E402
from pipeline.monitor import pages  # noqa: E402
from pipeline.monitor.render import render_page  # noqa: E402
from pipeline.warehouse import make_engine  # noqa: E402
from pipeline.warehouse.migrate import upgrade  # noqa: E402

GOAL_MS = 300.0


def fill(engine: sa.Engine, articles: int, stories: int, claims: int) -> None:
    """Generated rows in every table the Media Monitor reads (see the module docstring)."""
    per_story = max(1, articles // stories)
    measures = max(1, claims // 100)
    statements = [
        "insert into source (id, name, created_at)"
        " select i, 'Outlet ' || i, now() from generate_series(1, 1000) as i",
        "insert into feed (id, source_id, url, tags, enabled, status, failures, created_at,"
        " updated_at, interval_s, last_polled_at, next_poll_at, last_success_at, last_error)"
        " select i, 1 + (i - 1) % 1000, 'https://outlet' || i || '.example/feed.xml', '[]', true,"
        " case when i % 40 = 0 then 'http_error' else 'ok' end, (i % 40 = 0)::int * 3.0, now(),"
        " now(), 1800, now() - interval '10 minutes', now() + interval '20 minutes',"
        " now() - (i % 40 = 0)::int * interval '3 days',"
        " case when i % 40 = 0 then 'HTTP 503 from the server' end"
        " from generate_series(1, 2000) as i",
        "insert into feed_poll (feed_id, run_id, started_at, duration_ms, status, http_status,"
        " bytes, entries_seen, entries_new)"
        " select 1 + i % 2000, 'run-' || (i / 2000), now() - (i / 2000) * interval '30 minutes',"
        " 120, case when i % 7 = 0 then 'not_modified' else 'ok' end,"
        " case when i % 7 = 0 then 304 else 200 end, 40000, 30, i % 5"
        " from generate_series(0, 99999) as i",
        "insert into article (id, url, source_id, feed_id, discovered_at, discovered_run_id,"
        " status, attempts, updated_at, paywall_suspected, title, text, published_at, language,"
        " word_count)"
        " select 'a' || i, 'https://outlet' || (1 + i % 1000) || '.example/' || i,"
        " 1 + i % 1000, 1 + i % 2000,"
        " timestamptz '2026-12-01' - (i * (365 * 86400.0 / :articles)) * interval '1 second',"
        " 'run-' || (i / 500),"
        " case when i % 20 = 3 then 'extract_failed' when i % 40 = 7 then 'quarantined'"
        "  else 'published' end, 1, now(), false,"
        " 'Headline number ' || i || ' about story ' || (i / :per_story),"
        " repeat('Some article text with a figure of 1,234 people. ', 40),"
        " timestamptz '2026-12-01' - (i * (365 * 86400.0 / :articles)) * interval '1 second',"
        " 'en', 360"
        " from generate_series(0, :articles - 1) as i",
        "update article set failure_reason = 'no_text', error = 'no text found'"
        " where status = 'extract_failed'",
        "insert into story (id, first_article_id, first_seen_at, first_source_id, article_count,"
        " outlet_count, last_seen_at, updated_at)"
        " select 'a' || (s * :per_story), 'a' || (s * :per_story), a.published_at, a.source_id,"
        " :per_story, least(:per_story, 1000), a.published_at + interval '6 hours', now()"
        " from generate_series(0, :stories - 1) as s"
        " join article as a on a.id = 'a' || (s * :per_story)",
        "insert into article_dedupe (article_id, story_id, label, copied_from, deduped_at)"
        " select 'a' || i, 'a' || ((i / :per_story) * :per_story),"
        " case when i % :per_story = 0 then 'original' when i % 3 = 0 then 'wire_copy'"
        "  else 'independent' end,"
        " case when i % :per_story <> 0 and i % 3 = 0 then 'a' || ((i / :per_story) * :per_story)"
        "  end, now()"
        " from generate_series(0, least(:articles, :stories * :per_story) - 1) as i",
        "insert into actor (id, key, name, kind, created_at)"
        " select i, 'actor-' || i, 'Speaker ' || i,"
        " case when i % 3 = 0 then 'organisation' else 'person' end, now()"
        " from generate_series(1, 10000) as i",
        "insert into measure (id, key, label, event, population, unit_class, place,"
        " figure_group, created_at)"
        " select i, 'measure-' || i, 'event' || (i % 50) || ' · population' || (i % 40)"
        " || ' · Place' || (i / 2000), 'event' || (i % 50), 'population' || (i % 40),"
        " 'count', 'Place' || (i / 2000), 'value', now()"
        " from generate_series(1, :measures) as i",
        "insert into claim (id, article_id, claim_index, kind, text, start_offset, end_offset,"
        " value_start, value_end, via, cites, hedges, hedged, linked, held, extractor_version,"
        " created_at, value_low, value_high, qualifier, speaker, speaker_actor_id, speaker_kind)"
        " select c, 'a' || (c / 5 % :articles), c % 5, 'numeric',"
        " 'Some article text with a figure of 1,234 people.', 0, 49, 35, 40, '[]', '[]', '[]',"
        " c % 7 = 0, true, false, 'bench', now(), 1000 + c % 5000, 1000 + c % 5000, 'exact',"
        " 'Speaker ' || (1 + c % 10000), 1 + c % 10000, 'person'"
        " from generate_series(1, :claims) as c",
        "insert into claim_measure (claim_id, measure_id, article_id, source_id, seen_at, reason,"
        " evidence, linked_at)"
        " select c.id, 1 + c.id % :measures, c.article_id, a.source_id, a.published_at,"
        " 'generated', '{}', now()"
        " from claim as c join article as a on a.id = c.article_id",
        "insert into claim_relation (claim_a, claim_b, measure_id, relation, ratio, reason,"
        " created_at)"
        " select c - 50, c, 1 + c % :measures,"
        " case when c % 100 = 0 then 'contradicts' else 'diverges' end, 1.5 + c % 7,"
        " 'generated', now()"
        " from generate_series(51, :claims, 50) as c",
        "insert into dq_run (id, run_id, suite, batch_no, started_at, finished_at, success,"
        " outcome, rows_evaluated, rows_quarantined)"
        " select i, 'run-' || i, 'articles', 1, now() - i * interval '30 minutes',"
        " now() - i * interval '30 minutes' + interval '20 seconds', i % 10 <> 0,"
        " case when i % 10 = 0 then 'quarantined' else 'passed' end, 500, (i % 10 = 0)::int * 3"
        " from generate_series(1, 10000) as i",
        "insert into dq_result (dq_run_id, expectation, expectation_type, level, success,"
        " element_count, unexpected_count, observed_value, sample)"
        " select 1 + i % 10000, 'expectation_' || (i % 12), 'expect_column_values_to_not_be_null',"
        " 'row', i % 10 <> 0, 500, (i % 10 = 0)::int * 3, '3 rows', '[]'"
        " from generate_series(0, 99999) as i",
        "insert into quarantine (entity, entity_id, article_id, expectation, reason,"
        " observed_value, run_id, created_at)"
        " select 'article', id, id, 'text_not_boilerplate', 'generated', '0.9', 'run-1', now()"
        " from article where status = 'quarantined'",
        "insert into pipeline_run (run_id, stage, started_at, finished_at, status, counts)"
        " select 'run-' || (i / 7), (array['poll', 'fetch', 'extract', 'dedupe', 'analyse',"
        " 'gate', 'finish'])[1 + i % 7], now() - (i / 7) * interval '30 minutes',"
        " now() - (i / 7) * interval '30 minutes' + interval '9 seconds', 'success',"
        " '{\"fetched\": 120, \"failed\": 2}'"
        " from generate_series(0, 69999) as i",
    ]
    params = {
        "articles": articles,
        "stories": stories,
        "claims": claims,
        "per_story": per_story,
        "measures": measures,
    }
    for sql in statements:
        # psycopg sends small Python ints as smallint, which overflows in the arithmetic.
        sql = re.sub(r":(articles|stories|claims|per_story|measures)\b", r"cast(:\1 as bigint)",
                     sql)
        started = time.monotonic()
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params)
        table = sql.split()[2] if sql.startswith("insert") else sql.split()[1]
        print(f"  filled {table} in {time.monotonic() - started:.1f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for seq in ("source", "feed", "actor", "measure", "claim", "dq_run"):
            conn.execute(
                sa.text(
                    f"select setval(pg_get_serial_sequence('{seq}', 'id'),"
                    f" (select max(id) from {seq}))"
                )
            )
        started = time.monotonic()
        conn.execute(sa.text("vacuum analyze"))
        print(f"  vacuum analyze in {time.monotonic() - started:.1f} s", flush=True)


@contextmanager
def _database(pg_url: str, keep: str | None) -> Iterator[tuple[str, bool]]:
    """(URL, already filled): a throwaway database, or the kept one named ``keep``."""
    if keep is None:
        with throwaway_database(pg_url, "mediamon_bench_ui") as url:
            yield url, False
        return
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("select 1 from pg_database where datname = :n"), {"n": keep}
        ).first()
        if not exists:
            conn.execute(sa.text(f'create database "{keep}"'))
    admin.dispose()
    url = pg_url.rsplit("/", 1)[0] + "/" + keep
    filled = False
    if exists:
        probe = sa.create_engine(url)
        with probe.connect() as conn:
            filled = bool(
                conn.execute(sa.text("select to_regclass('article') is not null")).scalar()
                and conn.execute(sa.text("select exists (select 1 from pipeline_run)")).scalar()
            )
        probe.dispose()
    yield url, filled


def routes(engine: sa.Engine) -> list[tuple[str, str, str, Callable[[sa.Connection], Any]]]:
    """(route, parameter set, template, query) for every page, detail page and JSON twin."""
    with engine.connect() as conn:
        feed_id = conn.execute(sa.text("select max(id) from feed")).scalar_one()
        story_id = conn.execute(
            sa.text("select id from story order by first_seen_at desc limit 1")
        ).scalar_one()
        claim_id = conn.execute(sa.text("select max(claim_id) from claim_measure")).scalar_one()
        measure = conn.execute(sa.text("select label from measure where id = 7")).scalar_one()
    listing_cases: list[tuple[str, str, Callable[..., Any], dict[str, str]]] = [
        ("feeds", "feeds.html", pages.feeds, {}),
        ("feeds", "feeds.html", pages.feeds, {"broken": "true"}),
        ("feeds", "feeds.html", pages.feeds, {"sort": "last_polled_at", "page": "20"}),
        ("stories", "stories.html", pages.stories, {}),
        ("stories", "stories.html", pages.stories, {"sort": "article_count"}),
        ("stories", "stories.html", pages.stories, {"outlet": "Outlet 17"}),
        ("stories", "stories.html", pages.stories, {"page": "200"}),
        ("claims", "claims.html", pages.claims, {}),
        ("claims", "claims.html", pages.claims, {"measure": measure}),
        ("claims", "claims.html", pages.claims, {"speaker": "Speaker 42"}),
        ("claims", "claims.html", pages.claims, {"measure": measure, "sort": "value_low"}),
        ("claims", "claims.html", pages.claims, {"outlet": "Outlet 99", "hedged": "true"}),
        ("claims", "claims.html", pages.claims, {"since": "2026-11-01", "until": "2026-11-07"}),
        ("claims", "claims.html", pages.claims, {"page": "200"}),
        ("conflicts", "conflicts.html", pages.conflicts, {}),
        ("conflicts", "conflicts.html", pages.conflicts, {"relation": "contradicts"}),
        ("quality", "quality.html", pages.quality, {}),
        ("quality", "quality.html", pages.quality, {"quarantine.open": "true", "runs.page": "50"}),
    ]
    out: list[tuple[str, str, str, Callable[[sa.Connection], Any]]] = [
        ("/", "default", "overview.html", lambda c: pages.overview(c)),
        ("/feeds/{id}", "default", "feed.html", lambda c: pages.feed_detail(c, feed_id, {})),
        ("/stories/{id}", "default", "story.html", lambda c: pages.story_detail(c, story_id)),
        ("/claims/{id}", "default", "claim.html", lambda c: pages.claim_detail(c, claim_id)),
    ]
    for tab, template, fn, query in listing_cases:
        label = "&".join(f"{k}={v}" for k, v in query.items()) or "default"
        out.append((f"/{tab}", label, template, lambda c, fn=fn, q=query: fn(c, q)))
    return out


def measure_routes(
    engine: sa.Engine, repeat: int, only: str | None = None
) -> list[tuple[str, str, float, float]]:
    """(route, parameters, p50 ms, p95 ms) for each page and JSON twin."""
    results = []
    for route, label, template, query in routes(engine):
        if only and only not in route:
            continue
        tab = route.strip("/").split("/")[0] or "overview"
        for twin in ("html", "json"):
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                with pages.reading(engine) as conn:
                    data = query(conn)
                if twin == "html":
                    render_page(tab, template, data, root="/media-monitor", query={})
                else:
                    json.dumps(data)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p95 = times[max(0, round(0.95 * len(times)) - 1)]
            name = route if twin == "html" else f"/api{route if route != '/' else '/overview'}"
            results.append((name, label, statistics.median(times), p95))
            print(
                f"  {name:22} {label:40} p50 {statistics.median(times):7.1f} ms"
                f"  p95 {p95:7.1f} ms  {'ok' if p95 < GOAL_MS else 'SLOW'}",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--keep",
        metavar="DATABASE",
        help="fill this database once and keep it (later runs with the same name skip the fill),"
        " for measuring query changes at full scale without refilling",
    )
    parser.add_argument(
        "--only", metavar="ROUTE", help="time only routes whose path contains this text"
    )
    args = parser.parse_args()
    print(
        f"bench_ui: {args.articles:,} articles, {args.stories:,} stories, {args.claims:,} claims;"
        f" {args.repeat} timings per route and parameter set; goal p95 < {GOAL_MS:.0f} ms"
    )
    with _database(args.pg_url, args.keep) as (url, filled):
        engine = make_engine(url)
        upgrade(engine)
        if filled:
            with engine.connect() as conn:
                counts = [
                    conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()
                    for t in ("article", "story", "claim")
                ]
            print(f"reusing database {args.keep}: {counts[0]:,} articles, {counts[1]:,} stories,"
                  f" {counts[2]:,} claims")
        else:
            started = time.monotonic()
            fill(engine, args.articles, args.stories, args.claims)
            print(f"filled in {time.monotonic() - started:.0f} s", flush=True)
        results = measure_routes(engine, args.repeat, args.only)
        slow = [r for r in results if r[3] >= GOAL_MS]
        worst = max(results, key=lambda r: r[3])
        print(
            f"{len(results)} route/parameter timings; {len(results) - len(slow)} meet the goal;"
            f" worst p95 {worst[3]:.0f} ms ({worst[0]} {worst[1]})"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
