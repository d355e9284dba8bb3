"""How long dedupe takes to rebuild an emptied band index (an UNLOGGED table after a crash).

    .venv/bin/python bench/bench_band_restore.py [--articles 100000] [--cache-dir DIR]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Bulk-loads ``--articles`` generated articles the way bench_dedupe.py does (same generator, same
row builders, same feature cache), prunes at the bench's NOW, empties lsh_band, and times
``restore_bands`` under the dedupe lock, as the first ``run_dedupe`` after a crash runs it. Prints
the rows before and after (they must match) and the seconds. A throwaway database is used.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_dedupe as bench  # noqa: E402 - after the path set-up above

from pipeline.dedupe.index import lock, prune_bands, restore_bands  # noqa: E402
from pipeline.warehouse import make_engine  # noqa: E402
from pipeline.warehouse.migrate import upgrade  # noqa: E402


def _band_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("select count(*) from lsh_band")).scalar_one())


def main() -> None:
    """Load, empty, restore, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "MEDIAMON_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    with bench.throwaway_database(args.pg_url, "mediamon_restore") as url:
        engine = make_engine(url)
        try:
            restore(engine, args)
        finally:
            engine.dispose()


def restore(engine: sa.Engine, args: argparse.Namespace) -> None:
    """Load, empty, time the rebuild, print."""
    upgrade(engine)
    print(bench.check_preload(engine, 300, args.procs, args.cache_dir), flush=True)
    bench.bulk_load(engine, 300, args.articles, args.procs, args.cache_dir)
    with engine.begin() as conn:
        lock(conn)
        prune_bands(conn, bench.CFG, now=bench.NOW)
    before = _band_rows(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("truncate lsh_band"))
    started = time.monotonic()
    with engine.begin() as conn:
        lock(conn)
        restored = restore_bands(conn, bench.CFG, now=bench.NOW)
    seconds = time.monotonic() - started
    after = _band_rows(engine)
    print(
        f"{args.articles:,} articles: {before:,} band rows before, {restored:,} restored"
        f" ({after:,} after) in {seconds:.0f}s"
    )


if __name__ == "__main__":
    main()
