"""Dedupe cost per article as the stored LSH index grows: PostgreSQL warehouse vs in-memory.

    .venv/bin/python bench/bench_dedupe.py [--sizes 10000,100000,1000000] [--sample 200]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--procs 2]
        [--memory-max 100000] [--load-budget 1200]

For each size N the warehouse first holds N stored articles (signatures, near and story bands,
story assignments) made from generated texts: a Zipf vocabulary with news-like function words,
published over the 90-day retention window. They are bulk-loaded with COPY (the index is built
the way a backfill would build it, not timed). Then a sample of new articles (half edited copies
of stored ones, half fresh) is deduped with the pipeline's own ``run_dedupe`` in batches of 50,
and timed: per-article milliseconds for features (shingles, MinHash, bands; no database) and for
the locked warehouse part (index queries, verification, inserts, story reassignment).

The same sample is also run against datasketch's in-memory ``MinHashLSH`` (42x6, the
near-duplicate index) holding the same N signatures: query + insert + Jaccard verification per
article, and the resident memory the index took. Sizes above --memory-max are skipped for it.

Prints one line per size and the ratio of per-article time at the largest size to 10k (goal:
<= 1.5). A throwaway database is created on --pg-url's server and dropped at the end. If a load
exceeds --load-budget seconds the bench stops there and reports the largest size reached.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import Settings  # noqa: E402 - after the path set-up above
from pipeline.dedupe import (  # noqa: E402
    DedupeConfig,
    DedupeInput,
    Document,
    features,
    run_dedupe,
    store_documents,
)
from pipeline.dedupe.documents import doc_id  # noqa: E402
from pipeline.dedupe.index import day_number  # noqa: E402
from pipeline.dedupe.minhash import SCHEME, SEED, jaccard, to_bytes  # noqa: E402
from pipeline.warehouse import make_engine  # noqa: E402
from pipeline.warehouse.migrate import upgrade  # noqa: E402

CFG = DedupeConfig.from_settings(Settings())
NOW = datetime(2026, 11, 22, tzinfo=UTC)
WINDOW_S = 89 * 86400  # stored articles are spread over (almost) the retention window
FUNCTION_WORDS = [
    "the",
    "of",
    "to",
    "in",
    "and",
    "a",
    "said",
    "on",
    "for",
    "that",
    "with",
    "by",
    "was",
    "as",
    "at",
    "from",
    "is",
    "it",
    "his",
    "her",
    "they",
    "were",
    "have",
    "has",
    "had",
    "be",
    "been",
    "are",
    "not",
    "but",
    "which",
    "who",
    "will",
    "after",
    "its",
    "also",
    "their",
    "more",
    "than",
    "over",
    "about",
    "two",
    "three",
    "this",
    "an",
    "or",
    "officials",
    "ministry",
    "government",
]
SYLLABLES = ("ka", "lo", "ve", "ri", "tan", "mor", "sel", "du", "pa", "gri", "on", "ez", "ul")


def _vocabulary(size: int = 30_000) -> list[str]:
    words = list(FUNCTION_WORDS)
    n = 0
    while len(words) < size:
        # Base-13 digits of n spell a unique pseudo-word.
        digits, k = [], n + 13
        while k:
            k, d = divmod(k, len(SYLLABLES))
            digits.append(SYLLABLES[d])
        words.append("".join(digits))
        n += 1
    return words


VOCAB = np.array(_vocabulary())
WEIGHTS = 1.0 / np.arange(1, len(VOCAB) + 1) ** 1.0
WEIGHTS /= WEIGHTS.sum()


def gen_text(i: int) -> str:
    """Generated article text number ``i`` (deterministic)."""
    rng = np.random.default_rng(i)
    n = int(rng.integers(250, 450))
    idx = rng.choice(len(VOCAB), n, p=WEIGHTS)
    words = VOCAB[idx]
    # Sentences of 12-25 words, paragraphs of 3 sentences.
    out, pos = [], 0
    while pos < n:
        k = int(rng.integers(12, 26))
        out.append(" ".join(words[pos : pos + k]).capitalize() + ".")
        pos += k
    return "\n".join(" ".join(out[j : j + 3]) for j in range(0, len(out), 3))


def gen_seen_at(i: int) -> datetime:
    """Publication time of generated article ``i``: spread over the retention window."""
    return NOW - timedelta(seconds=(i * 7919) % WINDOW_S)


def edited(text: str, seed: int, rate: float = 0.1) -> str:
    """A copy of ``text`` with ``rate`` of its words replaced."""
    rng = np.random.default_rng(seed)
    words = text.split(" ")
    for j in np.flatnonzero(rng.random(len(words)) < rate):
        words[j] = str(VOCAB[rng.integers(len(VOCAB))])
    return " ".join(words)


@dataclass(frozen=True)
class Row:
    """A stored background article, ready for COPY."""

    article_id: str
    seen_at: datetime
    content_hash: str
    shingle_count: int
    signature: bytes
    bands: list[int]


def _features_chunk(bounds: tuple[int, int]) -> list[Row]:
    rows = []
    for i in range(*bounds):
        f = features(
            DedupeInput(
                article_id=doc_id(f"bench:{i}"),
                source_id=1,
                outlet="Bench",
                title=None,
                text=gen_text(i),
                seen_at=gen_seen_at(i),
            ),
            CFG,
        )
        rows.append(
            Row(
                f.member.article_id,
                f.member.seen_at,
                f.member.content_hash,
                f.shingle_count,
                to_bytes(f.signature),
                [*f.near_bands, *f.story_bands],
            )
        )
    return rows


def _copy(cur: object, sql: str, lines: Iterator[str]) -> None:
    buf = io.StringIO()
    for line in lines:
        buf.write(line)
    with cur.copy(sql) as copy:  # type: ignore[attr-defined]
        copy.write(buf.getvalue())


def bulk_load(engine: sa.Engine, start: int, stop: int, procs: int, budget: float) -> int:
    """COPY generated articles ``start..stop`` into the warehouse; return how many got in."""
    t0 = time.monotonic()
    chunk = 2000
    bounds = [(a, min(a + chunk, stop)) for a in range(start, stop, chunk)]
    loaded = start
    raw = engine.raw_connection()
    # A big backfill loads the band table without its indexes and builds them once at the end
    # (what an operator would do); small top-ups keep them.
    rebuild = stop - start > 200_000
    try:
        cur = raw.cursor()
        if rebuild:
            cur.execute("alter table lsh_band drop constraint pk_lsh_band")
            cur.execute("drop index ix_lsh_band_article_id")
            raw.commit()
        cur.execute("select id from source where name = 'Bench'")
        source_id = cur.fetchone()[0]  # type: ignore[index]  # the seed row made it
        cur.execute("select id from feed where source_id = %s", (source_id,))
        feed_id = cur.fetchone()[0]  # type: ignore[index]
        with ProcessPoolExecutor(procs) as pool:
            for rows in pool.map(_features_chunk, bounds):
                ts = [r.seen_at.isoformat() for r in rows]
                _copy(
                    cur,
                    "copy article (id, url, source_id, feed_id, discovered_at, discovered_run_id,"
                    " status, attempts, published_at, content_hash, updated_at) from stdin",
                    (
                        f"{r.article_id}\tbench:{r.article_id[:12]}\t{source_id}\t{feed_id}\t{t}"
                        f"\tbench\tdeduped\t0\t{t}\t{r.content_hash}\t{t}\n"
                        for r, t in zip(rows, ts, strict=True)
                    ),
                )
                _copy(
                    cur,
                    "copy article_signature (article_id, source_id, seen_at, content_hash,"
                    " shingle_count, signature, created_at) from stdin",
                    (
                        f"{r.article_id}\t{source_id}\t{t}\t{r.content_hash}\t{r.shingle_count}"
                        f"\t\\\\x{r.signature.hex()}\t{t}\n"
                        for r, t in zip(rows, ts, strict=True)
                    ),
                )
                _copy(
                    cur,
                    "copy lsh_band (band, hash, day, article_id) from stdin",
                    (
                        f"{b}\t{h}\t{day_number(r.seen_at)}\t{r.article_id}\n"
                        for r in rows
                        for b, h in enumerate(r.bands)
                    ),
                )
                _copy(
                    cur,
                    "copy story (id, first_article_id, first_seen_at, first_source_id,"
                    " article_count, outlet_count, last_seen_at, updated_at) from stdin",
                    (
                        f"{r.article_id}\t{r.article_id}\t{t}\t{source_id}\t1\t1\t{t}\t{t}\n"
                        for r, t in zip(rows, ts, strict=True)
                    ),
                )
                _copy(
                    cur,
                    "copy article_dedupe (article_id, story_id, label, deduped_at) from stdin",
                    (
                        f"{r.article_id}\t{r.article_id}\toriginal\t{t}\n"
                        for r, t in zip(rows, ts, strict=True)
                    ),
                )
                raw.commit()
                loaded += len(rows)
                if time.monotonic() - t0 > budget:
                    print(f"  load budget {budget:.0f}s spent at {loaded} stored articles")
                    break
        if rebuild:
            t1 = time.monotonic()
            cur.execute("set maintenance_work_mem = '1GB'")
            cur.execute(
                "alter table lsh_band add constraint pk_lsh_band"
                " primary key (band, hash, day, article_id)"
            )
            cur.execute("create index ix_lsh_band_article_id on lsh_band (article_id)")
            raw.commit()
            print(f"  band indexes rebuilt in {time.monotonic() - t1:.0f}s")
        cur.execute("analyze")
        raw.commit()
    finally:
        raw.close()
    return loaded


def sample_docs(stored: int, n: int, tag: str) -> list[Document]:
    """Half edited copies of stored articles, half fresh articles, all new."""
    rng = np.random.default_rng(stored)
    docs = []
    for k in range(n):
        if k % 2 == 0:
            i = int(rng.integers(stored))
            docs.append(
                Document(
                    f"bench:{tag}:copy:{k}",
                    "Bench Copies",
                    None,
                    edited(gen_text(i), seed=k),
                    gen_seen_at(i) + timedelta(hours=3),
                )
            )
        else:
            i = 10**9 + stored + k
            docs.append(Document(f"bench:{tag}:new:{k}", "Bench Copies", None, gen_text(i), NOW))
    return docs


def time_warehouse(engine: sa.Engine, docs: list[Document]) -> tuple[float, float, int]:
    """(features ms/article, warehouse ms/article, copies linked) for deduping ``docs``."""
    ids = store_documents(engine, docs)
    t0 = time.perf_counter()
    for d in docs:
        features(DedupeInput(doc_id(d.key), 1, None, None, d.text, d.published_at), CFG)
    feat = (time.perf_counter() - t0) / len(docs) * 1000
    t0 = time.perf_counter()
    run_dedupe(engine, CFG, batch_size=50, ids=ids, now=NOW)
    total = (time.perf_counter() - t0) / len(docs) * 1000
    with engine.connect() as conn:
        linked = conn.execute(
            sa.text(
                "select count(*) from article_dedupe where article_id = any(:ids)"
                " and duplicate_of is not null"
            ),
            {"ids": ids[::2]},
        ).scalar_one()
    return feat, total - feat, int(linked)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_memory(stored: int, docs: list[Document], procs: int) -> tuple[float, float, int]:
    """(ms/article, index MB, copies found) for datasketch MinHashLSH holding ``stored`` sigs."""
    from datasketch import MinHash, MinHashLSH

    from pipeline.dedupe.minhash import _permutations

    perms = _permutations(CFG.lsh.num_perm)
    before = _rss_mb()
    lsh = MinHashLSH(num_perm=CFG.lsh.num_perm, params=(CFG.lsh.bands, CFG.lsh.rows))
    sigs: dict[str, np.ndarray] = {}
    chunk = 2000
    bounds = [(a, min(a + chunk, stored)) for a in range(0, stored, chunk)]
    with ProcessPoolExecutor(procs) as pool, lsh.insertion_session() as session:
        for rows in pool.map(_features_chunk, bounds):
            for r in rows:
                sig = np.frombuffer(r.signature, dtype="<u4").astype(np.uint32)
                sigs[r.article_id] = sig
                session.insert(
                    r.article_id,
                    MinHash(hashvalues=sig, permutations=perms, scheme=SCHEME, seed=SEED),
                )
    index_mb = _rss_mb() - before
    mhs = []
    for d in docs:
        f = features(DedupeInput(doc_id(d.key), 1, None, None, d.text, d.published_at), CFG)
        mhs.append(
            (
                f.member.article_id,
                f.signature,
                MinHash(hashvalues=f.signature, permutations=perms, scheme=SCHEME, seed=SEED),
            )
        )
    found = 0
    t0 = time.perf_counter()
    for k, (aid, sig, mh) in enumerate(mhs):
        hits = [c for c in lsh.query(mh) if jaccard(sig, sigs[c]) >= CFG.near_threshold]
        found += bool(hits) and k % 2 == 0
        lsh.insert(aid, mh)
        sigs[aid] = sig
    per = (time.perf_counter() - t0) / len(docs) * 1000
    return per, index_mb, found


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "MEDIAMON_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--memory-max", type=int, default=100_000)
    parser.add_argument("--load-budget", type=float, default=1200.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    name = f"mediamon_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = args.pg_url.rsplit("/", 1)[0] + "/" + name
    print(f"$ {' '.join(sys.argv)}")
    print(
        f"near index {CFG.lsh.bands}x{CFG.lsh.rows}, story index {CFG.story_lsh.bands}x"
        f"{CFG.story_lsh.rows} (+/-{CFG.story_window.days + 1} days), "
        f"{CFG.bands_per_article} band rows per article; sample {args.sample} articles per size"
    )
    engine = make_engine(url)
    results: dict[int, float] = {}
    try:
        upgrade(engine)
        store_documents(engine, [Document("bench:seed", "Bench", None, gen_text(10**9 - 1), NOW)])
        stored = 0
        for size in sizes:
            t0 = time.monotonic()
            stored = bulk_load(engine, stored, size, args.procs, args.load_budget)
            load_s = time.monotonic() - t0
            docs = sample_docs(stored, args.sample, tag=str(size))
            feat, db, linked = time_warehouse(engine, docs)
            results[stored] = feat + db
            line = (
                f"stored {stored:>9,}: load {load_s:7.1f}s | warehouse {feat + db:6.2f} ms/article"
                f" (features {feat:.2f} + locked db {db:.2f}), copies linked {linked}/"
                f"{(args.sample + 1) // 2}"
            )
            if stored <= args.memory_max:
                mem_ms, mem_mb, found = time_memory(stored, docs, args.procs)
                line += (
                    f" | in-memory MinHashLSH {feat + mem_ms:6.2f} ms/article "
                    f"(features {feat:.2f} + query/insert {mem_ms:.3f}), index ~{mem_mb:.0f} MB,"
                    f" copies found {found}"
                )
            else:
                line += " | in-memory: skipped (above --memory-max)"
            print(line, flush=True)
            if stored < size:
                break
        first, last = min(results), max(results)
        print(
            f"ratio per-article time {last:,} / {first:,} stored: "
            f"{results[last] / results[first]:.2f} (goal <= 1.5)"
        )
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


if __name__ == "__main__":
    main()
