"""Quality-gate time vs. the stages that produced the rows it gates (issue 7).

    .venv/bin/python bench/bench_quality.py [--sizes 1000 10000 100000] [--repeat 3]

What reaches the gate is an article that was fetched, extracted and analysed (entities and
claims), so both producing stages are measured on the bundled sample corpus in this run:

1. Extract: ``pipeline.extract.extract`` (trafilatura + our post-processing, in-process, no
   worker overhead) on every page of samples/site, several passes: mean seconds per page.
2. Analyse: the claims stage's extractor (spaCy ``nlp.pipe`` + claim extraction) on the
   extracted texts, after one warm-up pass: mean seconds per article. Model load excluded.

Both are scaled linearly to N articles (per-article work with no shared state).

3. Gate: N articles in status ``analysed`` (texts cycled from the sample articles, so lengths
   are real; 20 sources; one feed poll) with the REAL claim rows the analyse stage produced for
   those texts (so the claim suite checks real offsets and evidence slices), in a fresh SQLite
   warehouse per run; then ``run_gate`` end to end: pre-flight checks, batches of
   MEDIAMON_DQ_BATCH_SIZE, GX validation, dq_run/dq_result rows, status updates, Data Docs.
   One MEDIAMON_HOME serves every run, as in a deployment (Data Docs directory and the compiled
   template cache persist), but each run starts a new GX context, as each Airflow task runs
   in a fresh process. GX import is excluded (once per worker process, printed separately).

The goal (< 10 % of the producing stage's time) is reported against extract + analyse, and,
stricter, against extract alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FETCHED = datetime(2026, 11, 1, tzinfo=UTC)


def extraction_seconds_per_page(passes: int = 3) -> tuple[float, float, list[str]]:
    """Mean extraction wall and CPU seconds of one sample page, and the texts extracted."""
    from pipeline.extract import extract

    pages = sorted((REPO / "samples" / "site").rglob("*.html"))
    texts: list[str] = []
    start, cpu = time.perf_counter(), time.process_time()
    for n in range(passes):
        for page in pages:
            result = extract(
                page.read_bytes(),
                url=f"http://127.0.0.1:8765/{page.relative_to(REPO / 'samples' / 'site')}",
                content_type="text/html",
                declared_charset="utf-8",
                fetched_at=FETCHED,
            )
            if n == 0 and result.article is not None:
                texts.append(result.article.text)
    n_pages = passes * len(pages)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall / n_pages, cpu / n_pages, texts


def analysis_seconds_per_article(texts: list[str]) -> tuple[float, float, float, list[Any]]:
    """Model load seconds, mean analyse wall and CPU seconds per article, and the analyses."""
    from pipeline.config import get_settings
    from pipeline.nlp.stage import extractor_for

    t = time.perf_counter()
    extractor = extractor_for(get_settings())
    load = time.perf_counter() - t
    items = [(text, FETCHED.date()) for text in texts]
    list(extractor.analyse_many(items))  # warm-up: first calls allocate spaCy's buffers
    start, cpu = time.perf_counter(), time.process_time()
    analyses = list(extractor.analyse_many(items))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return load, wall / len(texts), cpu / len(texts), analyses


def build_warehouse(n: int, texts: list[str], analyses: list[Any]) -> int:
    """A fresh warehouse with n analysed articles and their claims; returns the claim count."""
    import sqlalchemy as sa

    from pipeline.config import get_settings
    from pipeline.warehouse import engine as engine_mod
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import upgrade
    from pipeline.warehouse.schema import article, feed, feed_poll, source
    from pipeline.warehouse.schema_claims import claim

    get_settings.cache_clear()
    engine_mod._cached_engine.cache_clear()
    engine = get_engine()
    upgrade(engine)
    now = datetime.now(UTC)
    claims = 0
    with engine.begin() as conn:
        for s in range(20):
            conn.execute(source.insert().values(id=s + 1, name=f"Outlet {s}", created_at=now))
            conn.execute(
                feed.insert().values(
                    id=s + 1,
                    source_id=s + 1,
                    url=f"http://127.0.0.1/{s}.xml",
                    tags=[],
                    enabled=True,
                    status="ok",
                    failures=0.0,
                    created_at=now,
                    updated_at=now,
                )
            )
        conn.execute(
            feed_poll.insert().values(
                feed_id=1,
                run_id="bench",
                started_at=now,
                duration_ms=10,
                status="ok",
                bytes=1,
                entries_seen=1,
                entries_new=1,
            )
        )
        rows: list[dict[str, Any]] = []
        claim_rows: list[dict[str, Any]] = []
        for i in range(n):
            text = texts[i % len(texts)]
            aid = f"{i:064x}"
            rows.append(
                {
                    "id": aid,
                    "url": f"http://127.0.0.1/a/{i}.html",
                    "source_id": i % 20 + 1,
                    "feed_id": i % 20 + 1,
                    "discovered_at": now - timedelta(hours=2),
                    "discovered_run_id": "bench",
                    "status": "analysed",
                    "attempts": 1,
                    "fetched_at": now - timedelta(hours=1),
                    "title": f"Headline {i}",
                    "text": text,
                    "word_count": len(text.split()),
                    "language": "en",
                    "published_at": now - timedelta(hours=3),
                    "canonical_url": f"http://127.0.0.1/c/{i}.html" if i % 2 else None,
                    "updated_at": now,
                }
            )
            claim_rows += [
                c.to_row() | {"article_id": aid, "claim_index": k, "created_at": now}
                for k, c in enumerate(analyses[i % len(analyses)].claims)
            ]
            if len(rows) == 5000:
                conn.execute(article.insert(), rows)
                if claim_rows:
                    conn.execute(claim.insert(), claim_rows)
                claims += len(claim_rows)
                rows, claim_rows = [], []
        if rows:
            conn.execute(article.insert(), rows)
        if claim_rows:
            conn.execute(claim.insert(), claim_rows)
        claims += len(claim_rows)
        assert conn.execute(sa.select(sa.func.count()).select_from(article)).scalar_one() == n
    return claims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="Runs per size below 100k rows.")
    args = parser.parse_args()
    os.environ["MEDIAMON_DQ_REQUIRE_FEED_POLLS"] = "true"
    home = tempfile.TemporaryDirectory()
    os.environ["MEDIAMON_HOME"] = home.name

    per_page, cpu_page, texts = extraction_seconds_per_page()
    load, per_art, cpu_art, analyses = analysis_seconds_per_article(texts)
    words = sum(len(t.split()) for t in texts) / len(texts)
    per_claims = sum(len(a.claims) for a in analyses) / len(analyses)
    sizes = " ".join(map(str, args.sizes))
    print(
        f"command: .venv/bin/python bench/bench_quality.py --sizes {sizes} --repeat {args.repeat}"
    )
    print(
        f"extract: {per_page * 1000:.1f} ms/page wall, {cpu_page * 1000:.1f} ms CPU (mean over "
        f"{len(texts)} sample articles x 3 passes, ~{words:.0f} words each)"
    )
    print(
        f"analyse: {per_art * 1000:.1f} ms/article wall, {cpu_art * 1000:.1f} ms CPU "
        f"(spaCy model load {load:.1f} s not counted; {per_claims:.1f} claims/article)"
    )
    t = time.perf_counter()
    from pipeline.quality.gate import run_gate
    from pipeline.quality.results import Validator

    gx_import = time.perf_counter() - t
    print(f"GX import (once per worker process, not counted below): {gx_import:.1f} s")
    from pipeline.config import get_settings
    from pipeline.warehouse import get_engine

    print(
        f"batch size {get_settings().dq_batch_size}; best of {args.repeat} runs below 100k rows; "
        "ratios are gate / producing stage, wall (CPU in brackets: steadier on a shared host)"
    )
    print(
        f"{'rows':>8} {'claims':>8} {'gate s':>7} {'gate CPU':>9} {'rows/s':>7} "
        f"{'extract s':>10} {'+analyse s':>11} {'vs extract+analyse':>19} {'vs extract':>16}"
    )
    with tempfile.TemporaryDirectory() as dbs:
        for n in args.sizes:
            best = (float("inf"), float("inf"))
            claims = 0
            for r in range(args.repeat if n < 100_000 else 1):
                os.environ["MEDIAMON_WAREHOUSE_URL"] = f"sqlite:///{dbs}/wh_{n}_{r}.sqlite"
                claims = build_warehouse(n, texts, analyses)
                # A new GX context per run, as in a fresh Airflow task process.
                Validator._contexts.clear()
                start, cpu = time.perf_counter(), time.process_time()
                counts = run_gate(get_engine(), "bench", get_settings())
                took = (time.perf_counter() - start, time.process_time() - cpu)
                assert counts.published == n, counts
                best = min(best, took)
                get_engine().dispose()
            gate, gate_cpu = best
            ext, ext_cpu = per_page * n, cpu_page * n
            both, both_cpu = ext + per_art * n, ext_cpu + cpu_art * n
            vs_both = f"{gate / both:.1%} ({gate_cpu / both_cpu:.1%})"
            vs_ext = f"{gate / ext:.1%} ({gate_cpu / ext_cpu:.1%})"
            print(
                f"{n:>8} {claims:>8} {gate:>7.1f} {gate_cpu:>9.1f} {n / gate:>7.0f} "
                f"{ext:>10.0f} {both:>11.0f} {vs_both:>19} {vs_ext:>16}"
            )
    home.cleanup()


if __name__ == "__main__":
    main()
