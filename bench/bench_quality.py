"""Quality-gate throughput vs. the extract stage that produced the rows (issue 7).

    .venv/bin/python bench/bench_quality.py [--sizes 1000 10000 100000]

1. Extraction cost: ``pipeline.extract.extract`` (trafilatura + our post-processing, in this
   process, no worker-process overhead) on every sample page in samples/site, several passes;
   the mean seconds per page is scaled linearly to N pages. Linear scaling is honest here:
   extraction is per page with no shared state, so N pages cost N times one page (on one core).
2. Gate cost: N generated article rows in status ``analysed`` (texts cycled from the extracted
   sample articles, so lengths are real; 20 sources; one feed poll) in a fresh SQLite warehouse,
   then ``run_gate`` end to end: pre-flight checks, batches of MEDIAMON_DQ_BATCH_SIZE, GX
   validation, dq_run/dq_result rows, status updates, Data Docs. GX import is excluded (paid
   once per worker process, reported separately). The claim table is not in the warehouse yet
   (issue 6), so claim validation runs on empty frames.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def extraction_seconds_per_page(passes: int = 3) -> tuple[float, float, list[str]]:
    """Mean extraction wall and CPU seconds of one sample page, and the texts extracted."""
    from pipeline.extract import extract

    pages = sorted((REPO / "samples" / "site").rglob("*.html"))
    fetched = datetime(2026, 11, 1, tzinfo=UTC)
    texts: list[str] = []
    start, cpu = time.perf_counter(), time.process_time()
    for n in range(passes):
        for page in pages:
            result = extract(
                page.read_bytes(),
                url=f"http://127.0.0.1:8765/{page.relative_to(REPO / 'samples' / 'site')}",
                content_type="text/html",
                declared_charset="utf-8",
                fetched_at=fetched,
            )
            if n == 0 and result.article is not None:
                texts.append(result.article.text)
    n_pages = passes * len(pages)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall / n_pages, cpu / n_pages, texts


def build_warehouse(n: int, texts: list[str]) -> float:
    """A fresh warehouse with n analysed articles; returns seconds spent generating."""
    import sqlalchemy as sa

    from pipeline.config import get_settings
    from pipeline.warehouse import engine as engine_mod
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import upgrade
    from pipeline.warehouse.schema import article, feed, feed_poll, source

    get_settings.cache_clear()
    engine_mod._cached_engine.cache_clear()
    start = time.perf_counter()
    engine = get_engine()
    upgrade(engine)
    now = datetime.now(UTC)
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
        rows = []
        for i in range(n):
            text = texts[i % len(texts)]
            rows.append(
                {
                    "id": f"{i:064x}",
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
            if len(rows) == 5000:
                conn.execute(article.insert(), rows)
                rows = []
        if rows:
            conn.execute(article.insert(), rows)
        assert conn.execute(sa.select(sa.func.count()).select_from(article)).scalar_one() == n
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="Runs per size below 100k rows.")
    args = parser.parse_args()
    os.environ["MEDIAMON_DQ_REQUIRE_FEED_POLLS"] = "true"

    per_page, cpu_page, texts = extraction_seconds_per_page()
    words = sum(len(t.split()) for t in texts) / len(texts)
    sizes = " ".join(map(str, args.sizes))
    print(f"command: .venv/bin/python bench/bench_quality.py --sizes {sizes}")
    print(
        f"extract: {per_page * 1000:.1f} ms/page wall, {cpu_page * 1000:.1f} ms CPU (mean over "
        f"{len(texts)} sample articles x 3 passes, ~{words:.0f} words each), x N pages"
    )
    t = time.perf_counter()
    from pipeline.quality.gate import run_gate

    print(
        f"GX import (once per worker process, not counted below): {time.perf_counter() - t:.1f} s"
    )
    from pipeline.config import get_settings
    from pipeline.warehouse import get_engine

    print(f"batch size {get_settings().dq_batch_size}; best of {args.repeat} runs below 100k rows")
    print(
        f"{'rows':>8} {'gate s':>8} {'gate CPU s':>11} {'rows/s':>8} {'extract s':>10} "
        f"{'extract CPU s':>14} {'wall ratio':>11} {'CPU ratio':>10}"
    )
    for n in args.sizes:
        best = (float("inf"), float("inf"))
        for _ in range(args.repeat if n < 100_000 else 1):
            with tempfile.TemporaryDirectory() as home:
                os.environ["MEDIAMON_HOME"] = home
                build_warehouse(n, texts)
                start, cpu = time.perf_counter(), time.process_time()
                counts = run_gate(get_engine(), "bench", get_settings())
                took = (time.perf_counter() - start, time.process_time() - cpu)
                assert counts.published == n, counts
                best = min(best, took)
                get_engine().dispose()
        gate, gate_cpu = best
        ext, ext_cpu = per_page * n, cpu_page * n
        print(
            f"{n:>8} {gate:>8.1f} {gate_cpu:>11.1f} {n / gate:>8.0f} {ext:>10.0f} "
            f"{ext_cpu:>14.0f} {gate / ext:>11.1%} {gate_cpu / ext_cpu:>10.1%}"
        )


if __name__ == "__main__":
    main()
