"""Dedupe cost per article as the stored LSH index grows: PostgreSQL warehouse vs in-memory.

    .venv/bin/python bench/bench_dedupe.py [--sizes 10000,100000,1000000] [--sample 400]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--procs 2]
        [--warm-up 200] [--check 300] [--cache-dir DIR] [--memory-max 1000000]
        [--memory-budget-mb MB]

For each size N the warehouse first holds N stored articles made from generated texts (a Zipf
vocabulary with news-like function words) published over 89 days, i.e. most of the 90-day
retention window. They are bulk-loaded with COPY, not timed: the rows are built with the index
module's own row builders and are what ``run_dedupe`` at NOW would have left (band keys in
publication order; story bands only for articles inside the story-band window, as the prune at
NOW leaves them). ``--check`` articles are first deduped by ``run_dedupe`` itself, then wiped and
bulk-loaded, and the bench stops unless both give the same rows in every dedupe table. Loads
above 200k articles build the band indexes after the COPY; every load ends with VACUUM ANALYZE
(what autovacuum does to a long-lived table).

After a CHECKPOINT (the load's write-back) and ``--warm-up`` untimed-in-the-ratio articles (their
time is printed: the first dedupes after a bulk load meet cold buffers), ``--sample`` new
articles (half edited copies of random stored articles, half fresh, all
published on the last day) are deduped with the pipeline's ``run_dedupe`` in batches of 50, and
timed: per-article milliseconds for features (shingles, MinHash, bands; no database) and for the
rest of run_dedupe (load, lock, index queries, verification, inserts, story reassignment).

The same sample is also run against datasketch's in-memory ``MinHashLSH`` (42x6, the
near-duplicate index) holding the same N signatures: query + Jaccard verification + insert per
article, and the resident memory the index took. It is skipped when its memory, projected from
the previous size, exceeds --memory-budget-mb (default: three quarters of the memory available
at start; 1M signatures take ~15 GB in it).

The warehouse is set up by the migrations, as deployed: lsh_band is UNLOGGED (20261130_0009).

Prints one line per size and the ratio of per-article time at the largest size to the smallest
(goal: <= 1.5). A throwaway database is created on --pg-url's server and dropped at the end.
Generated features can be kept in --cache-dir (they depend only on the generator and settings).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import pickle
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
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
from pipeline.dedupe.cluster import Member  # noqa: E402
from pipeline.dedupe.documents import doc_id  # noqa: E402
from pipeline.dedupe.features import Features  # noqa: E402
from pipeline.dedupe.index import (  # noqa: E402
    band_rows,
    prune_bands,
    prune_cutoffs,
    signature_row,
)
from pipeline.dedupe.minhash import SCHEME, SEED, band_hashes, jaccard  # noqa: E402
from pipeline.warehouse import make_engine  # noqa: E402
from pipeline.warehouse.migrate import upgrade  # noqa: E402
from pipeline.warehouse.schema import article  # noqa: E402
from pipeline.warehouse.schema_dedupe import (  # noqa: E402
    article_dedupe,
    article_signature,
    dedupe_link,
    lsh_band,
    story,
)

CFG = DedupeConfig.from_settings(Settings())
NOW = datetime(2026, 11, 22, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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
# What Generator.choice(p=WEIGHTS) computes on every call, computed once: same draws, 3x faster.
CDF = WEIGHTS.cumsum()
CDF /= CDF[-1]


def gen_text(i: int) -> str:
    """Generated article text number ``i`` (deterministic)."""
    rng = np.random.default_rng(i)
    n = int(rng.integers(250, 450))
    words = VOCAB[CDF.searchsorted(rng.random(n), side="right")]
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
class Chunk:
    """Features of generated articles ``start..stop`` (what the pipeline stores per article)."""

    ids: list[str]
    seen_us: npt.NDArray[np.int64]  # seen_at as microseconds since 1970 UTC
    content_hash: list[str]
    shingle_count: npt.NDArray[np.int32]
    signature: npt.NDArray[np.uint32]  # one row per article
    agency: list[str | None]

    def seen_at(self, k: int) -> datetime:
        """seen_at of article ``k`` of the chunk."""
        return EPOCH + timedelta(microseconds=int(self.seen_us[k]))


def _stored_input(i: int) -> DedupeInput:
    return DedupeInput(
        article_id=doc_id(f"bench:{i}"),
        source_id=1,
        outlet="Bench",
        title=None,
        text=gen_text(i),
        seen_at=gen_seen_at(i),
    )


def _features_chunk(bounds: tuple[int, int]) -> Chunk:
    feats = [features(_stored_input(i), CFG) for i in range(*bounds)]
    return Chunk(
        ids=[f.member.article_id for f in feats],
        seen_us=np.array(
            [(f.member.seen_at - EPOCH) // timedelta(microseconds=1) for f in feats],
            dtype=np.int64,
        ),
        content_hash=[f.member.content_hash for f in feats],
        shingle_count=np.array([f.shingle_count for f in feats], dtype=np.int32),
        signature=np.stack([f.signature for f in feats]).astype(np.uint32),
        agency=[f.member.agency for f in feats],
    )


def _cache_path(cache_dir: Path, bounds: tuple[int, int]) -> Path:
    # The features depend on the generator and on these settings only.
    tag = f"v1-p{CFG.lsh.num_perm}-w{CFG.shingle_words}"
    return cache_dir / tag / f"{bounds[0]:08d}-{bounds[1]:08d}.pkl"


def _slice(chunk: Chunk, a: int, b: int) -> Chunk:
    return Chunk(
        chunk.ids[a:b],
        chunk.seen_us[a:b],
        chunk.content_hash[a:b],
        chunk.shingle_count[a:b],
        chunk.signature[a:b],
        chunk.agency[a:b],
    )


class _Unpickler(pickle.Unpickler):
    """Reads a cached Chunk whether it was written by this file run as a script or imported."""

    def find_class(self, module: str, name: str) -> Any:
        return Chunk if name == "Chunk" else super().find_class(module, name)


def _cached_chunk(job: tuple[Path | None, tuple[int, int]]) -> Chunk:
    """Features of ``bounds`` (inside one CHUNK-aligned block), via the cache when given."""
    cache_dir, (start, stop) = job
    block = (start - start % CHUNK, start - start % CHUNK + CHUNK)
    if cache_dir is None:
        return _features_chunk((start, stop))
    path = _cache_path(cache_dir, block)
    if path.exists():
        with path.open("rb") as fh:
            chunk: Chunk = _Unpickler(fh).load()  # our own cache file
    else:
        chunk = _features_chunk(block)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(chunk, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    return _slice(chunk, start - block[0], stop - block[0])


CHUNK = 2000


def split(start: int, stop: int) -> list[tuple[int, int]]:
    """``start..stop`` cut at multiples of CHUNK (the cache's blocks)."""
    out, a = [], start
    while a < stop:
        b = min(a - a % CHUNK + CHUNK, stop)
        out.append((a, b))
        a = b
    return out


def feature_chunks(start: int, stop: int, procs: int, cache_dir: Path | None) -> Iterator[Chunk]:
    """Features of generated articles ``start..stop`` in chunks, computed in ``procs`` processes
    (or read from ``cache_dir``, where they are kept for the next run)."""
    with ProcessPoolExecutor(procs) as pool:
        yield from pool.map(_cached_chunk, [(cache_dir, b) for b in split(start, stop)])


@dataclass(frozen=True)
class LoadJob:
    """One chunk of the bulk pre-load: which articles, their band keys, the ids they refer to."""

    cache_dir: Path | None
    bounds: tuple[int, int]
    band_keys: list[int]
    source_id: int
    feed_id: int


NULL = "\\N"  # COPY text format


def _ts(when: datetime) -> str:
    return when.isoformat()


def _features_of(chunk: Chunk, k: int, source_id: int) -> Features:
    sig = chunk.signature[k]
    member = Member(
        article_id=chunk.ids[k],
        source_id=source_id,
        seen_at=chunk.seen_at(k),
        content_hash=chunk.content_hash[k],
        title_hash=None,
        agency=chunk.agency[k],
    )
    return Features(
        member,
        int(chunk.shingle_count[k]),
        sig,
        band_hashes(sig, CFG.lsh),
        band_hashes(sig, CFG.story_lsh),
    )


def _copy_payload(job: LoadJob) -> dict[str, str]:
    """COPY text for one chunk: the rows dedupe would have written for these articles at NOW.

    Built with the index module's own row builders (``signature_row``, ``band_rows``), and
    without the story bands a prune at NOW would delete (see ``check_preload``).
    """
    chunk = _cached_chunk((job.cache_dir, job.bounds))
    _, keep_story_day = prune_cutoffs(CFG, NOW)
    now = _ts(NOW)
    out: dict[str, list[str]] = {t: [] for t in PRELOAD_TABLES}
    feats = [_features_of(chunk, k, job.source_id) for k in range(len(chunk.ids))]
    for f, key in zip(feats, job.band_keys, strict=True):
        aid, seen = f.member.article_id, _ts(f.member.seen_at)
        out["article"].append(
            f"{aid}\tbench:{aid[:16]}\t{job.source_id}\t{job.feed_id}\t{seen}\tbench\tdeduped"
            f"\t0\t{seen}\t{f.member.content_hash}\t{now}\n"
        )
        row = signature_row(f, key, NOW)
        agency = row["agency"] or NULL
        out["article_signature"].append(
            f"{aid}\t{key}\t{row['source_id']}\t{seen}\t{row['content_hash']}\t\\N"
            f"\t{row['shingle_count']}\t\\\\x{row['signature'].hex()}"
            f"\t{agency}\t{now}\n"
        )
        out["lsh_band"].extend(
            f"{k}\t{day}\t{a}\t{band}\n"
            for k, day, a, band in band_rows([(f, key)])
            if band < CFG.lsh.bands or day >= keep_story_day
        )
        # No stored article links to another (check_preload verifies it on a sample): each is
        # the original of its own one-article story, whose size (published articles) is 0.
        out["story"].append(f"{aid}\t{aid}\t{seen}\t{job.source_id}\t0\t0\t{seen}\t{now}\n")
        out["article_dedupe"].append(
            f"{aid}\t{aid}\t{NULL}\t{NULL}\toriginal\t{NULL}\t{NULL}\t{NULL}\t{agency}\t{now}\n"
        )
    return {t: "".join(lines) for t, lines in out.items()}


PRELOAD_TABLES = {
    "article": "article (id, url, source_id, feed_id, discovered_at, discovered_run_id, status,"
    " attempts, published_at, content_hash, updated_at)",
    "article_signature": "article_signature (article_id, band_key, source_id, seen_at,"
    " content_hash, title_hash, shingle_count, signature, agency, created_at)",
    "lsh_band": "lsh_band (key, day, article_key, band)",
    "story": "story (id, first_article_id, first_seen_at, first_source_id, article_count,"
    " outlet_count, last_seen_at, updated_at)",
    "article_dedupe": "article_dedupe (article_id, story_id, duplicate_of, duplicate_kind, label,"
    " copied_from, overlap, similarity, agency, deduped_at)",
}
BAND_INDEXES = (
    (
        "pk_lsh_band",
        "alter table lsh_band add constraint pk_lsh_band primary key (key, day, article_key)",
    ),
    (
        "ix_lsh_band_band_day_article_key",
        "create index ix_lsh_band_band_day_article_key on lsh_band (band, day, article_key)",
    ),
)


def _bench_ids(engine: sa.Engine) -> tuple[int, int, int]:
    """(Bench source id, its feed id, largest band key so far)."""
    with engine.connect() as conn:
        source_id = conn.execute(sa.text("select id from source where name = 'Bench'")).scalar_one()
        feed_id = conn.execute(
            sa.text("select id from feed where source_id = :s"), {"s": source_id}
        ).scalar_one()
        last = conn.execute(sa.text("select coalesce(max(band_key), 0) from article_signature"))
        return source_id, feed_id, int(last.scalar_one())


def bulk_load(
    engine: sa.Engine, start: int, stop: int, procs: int, cache_dir: Path | None
) -> float:
    """COPY generated articles ``start..stop`` in; return the seconds spent rebuilding indexes.

    Band keys follow publication order within the range, as ``run_dedupe`` over a queue of these
    articles would assign them. Ranges above 200k load the band table without its indexes and
    build them once at the end (what an operator would do for a backfill).
    """
    source_id, feed_id, last = _bench_ids(engine)
    order = sorted(range(start, stop), key=lambda i: (gen_seen_at(i), doc_id(f"bench:{i}")))
    key = np.empty(stop - start, dtype=np.int64)
    key[np.array(order) - start] = np.arange(last + 1, last + 1 + len(order))
    jobs = [
        LoadJob(cache_dir, (a, b), key[a - start : b - start].tolist(), source_id, feed_id)
        for a, b in split(start, stop)
    ]
    rebuild = stop - start > 200_000
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if rebuild:
            cur.execute("alter table lsh_band drop constraint pk_lsh_band")
            cur.execute("drop index ix_lsh_band_band_day_article_key")
            raw.commit()
        with ProcessPoolExecutor(procs) as pool:
            for payload in pool.map(_copy_payload, jobs):
                for table, text in payload.items():
                    with cur.copy(f"copy {PRELOAD_TABLES[table]} from stdin") as copy:
                        copy.write(text)
                raw.commit()
        t1 = time.monotonic()
        if rebuild:
            cur.execute("set maintenance_work_mem = '2GB'")
            for _, ddl in BAND_INDEXES:
                cur.execute(ddl)
            raw.commit()
        rebuilt = time.monotonic() - t1
    finally:
        raw.close()
    # A long-lived table has been vacuumed and analysed by autovacuum; a fresh load has not.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in PRELOAD_TABLES:
            conn.execute(sa.text(f"vacuum analyze {table}"))
    return rebuilt


def _dedupe_rows(engine: sa.Engine) -> dict[str, set[tuple[object, ...]]]:
    tables = {
        "article_signature": article_signature,
        "lsh_band": lsh_band,
        "story": story,
        "article_dedupe": article_dedupe,
        "dedupe_link": dedupe_link,
    }
    with engine.connect() as conn:
        out = {name: set(conn.execute(sa.select(t)).tuples()) for name, t in tables.items()}
        out["article.status"] = set(
            conn.execute(
                sa.select(article.c.id, article.c.status).where(
                    article.c.id.like("%") & (article.c.status != "extracted")
                )
            ).tuples()
        )
    return out


def _wipe(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for t in (article_dedupe, story, dedupe_link, lsh_band, article_signature):
            conn.execute(sa.delete(t))
        conn.execute(sa.delete(article).where(article.c.url.like("bench:%")))


def check_preload(engine: sa.Engine, n: int, procs: int, cache_dir: Path | None) -> str:
    """Dedupe articles 0..n with the pipeline, then bulk-load them; the rows must be identical.

    The pipeline run is ``run_dedupe`` at NOW followed by the prune the next run would do at NOW.
    """
    docs = [Document(f"bench:{i}", "Bench", None, gen_text(i), gen_seen_at(i)) for i in range(n)]
    store_documents(engine, docs)
    # From the queue (publication order), as the pipeline's stage takes them.
    run_dedupe(engine, CFG, batch_size=50, now=NOW)
    with engine.begin() as conn:
        prune_bands(conn, CFG, now=NOW)
    piped = _dedupe_rows(engine)
    _wipe(engine)
    bulk_load(engine, 0, n, procs, cache_dir)
    loaded = _dedupe_rows(engine)
    diff = {name: len(rows ^ loaded[name]) for name, rows in piped.items()}
    if any(diff.values()):
        raise SystemExit(f"pre-load rows differ from the pipeline's (rows in one only): {diff}")
    counts = ", ".join(f"{name} {len(rows)}" for name, rows in piped.items())
    return (
        f"pre-load check: {n} articles deduped by run_dedupe == bulk-loaded, row for row ({counts})"
    )


def sample_docs(stored: int, n: int, tag: str) -> list[Document]:
    """Half edited copies of random stored articles, half fresh articles, all published today."""
    rng = np.random.default_rng(stored)
    docs = []
    for k in range(n):
        when = NOW - timedelta(minutes=int(rng.integers(0, 24 * 60)))
        if k % 2 == 0:
            i = int(rng.integers(stored))
            docs.append(
                Document(
                    f"bench:{tag}:copy:{k}", "Bench Copies", None, edited(gen_text(i), seed=k), when
                )
            )
        else:
            i = 10**9 + stored + k
            docs.append(Document(f"bench:{tag}:new:{k}", "Bench Copies", None, gen_text(i), when))
    return docs


def time_warehouse(engine: sa.Engine, docs: list[Document]) -> tuple[float, float, int]:
    """(features ms/article, rest of run_dedupe ms/article, copies linked) for deduping ``docs``."""
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
            sa.select(sa.func.count()).where(
                article_dedupe.c.article_id.in_(ids[::2]),
                article_dedupe.c.duplicate_of.is_not(None),
            )
        ).scalar_one()
    return feat, total - feat, int(linked)


@contextlib.contextmanager
def throwaway_database(pg_url: str, prefix: str) -> Iterator[str]:
    """A new database on ``pg_url``'s server for one bench run, dropped at the end; yields its URL.

    Engines on it must be disposed of before the block ends (the drop forces them off anyway).
    """
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'create database "{name}"'))
        yield pg_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def _available_mb() -> float:
    """MemAvailable of /proc/meminfo, in MB (what can be allocated without swapping)."""
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return 8000.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_memory(
    stored: int, docs: list[Document], procs: int, cache_dir: Path | None
) -> tuple[float, float, int]:
    """(ms/article, index MB, copies found) for datasketch MinHashLSH holding ``stored`` sigs."""
    from datasketch import MinHash, MinHashLSH

    from pipeline.dedupe.minhash import _permutations

    perms = _permutations(CFG.lsh.num_perm)
    gc.collect()
    before = _rss_mb()
    lsh = MinHashLSH(num_perm=CFG.lsh.num_perm, params=(CFG.lsh.bands, CFG.lsh.rows))
    sigs: dict[str, npt.NDArray[np.uint32]] = {}
    with lsh.insertion_session() as session:
        for chunk in feature_chunks(0, stored, procs, cache_dir):
            for aid, sig in zip(chunk.ids, chunk.signature, strict=True):
                sigs[aid] = sig
                session.insert(
                    aid, MinHash(hashvalues=sig, permutations=perms, scheme=SCHEME, seed=SEED)
                )
    gc.collect()
    index_mb = _rss_mb() - before
    mhs = []
    for d in docs:
        f = features(DedupeInput(doc_id(d.key), 1, None, None, d.text, d.published_at), CFG)
        mh = MinHash(hashvalues=f.signature, permutations=perms, scheme=SCHEME, seed=SEED)
        mhs.append((f.member.article_id, f.signature, mh))
    found = 0
    t0 = time.perf_counter()
    for k, (aid, sig, mh) in enumerate(mhs):
        hits = [c for c in lsh.query(mh) if jaccard(sig, sigs[c]) >= CFG.near_threshold]
        found += bool(hits) and k % 2 == 0
        lsh.insert(aid, mh)
        sigs[aid] = sig
    per = (time.perf_counter() - t0) / len(docs) * 1000
    del lsh, sigs
    gc.collect()
    return per, index_mb, found


def _table_mb(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select count(*) as n, pg_total_relation_size('lsh_band') / 1048576.0 as mb"
                " from lsh_band"
            )
        ).one()
    return f"lsh_band {rows.n:,} rows, {rows.mb:,.0f} MB with indexes"


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--sample", type=int, default=400)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "MEDIAMON_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--memory-max", type=int, default=1_000_000)
    parser.add_argument("--memory-budget-mb", type=float, default=None)
    parser.add_argument("--check", type=int, default=300, help="articles of the pre-load check")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.memory_budget_mb is None:
        args.memory_budget_mb = 0.75 * _available_mb()
    started = time.monotonic()
    with throwaway_database(args.pg_url, "mediamon_bench") as url:
        engine = make_engine(url)
        try:
            run(engine, args, sizes, started)
        finally:
            engine.dispose()


def run(engine: sa.Engine, args: argparse.Namespace, sizes: list[int], started: float) -> None:
    """The bench proper, on an empty database."""
    with engine.connect() as conn:
        pg = conn.execute(sa.text("select version()")).scalar_one().split(",")[0]
        buffers = conn.execute(sa.text("show shared_buffers")).scalar_one()
    print(f"$ {' '.join(sys.argv)}")
    print(
        f"{pg}, shared_buffers {buffers}; {os.cpu_count()} CPUs, load average"
        f" {os.getloadavg()[0]:.1f} at start (other work on the machine makes times noisy)"
    )
    print(
        f"near index {CFG.lsh.bands}x{CFG.lsh.rows}, story index {CFG.story_lsh.bands}x"
        f"{CFG.story_lsh.rows} (+/-{CFG.story_window.days + 1} days, kept"
        f" {CFG.story_band_keep.days} days); stored articles spread over"
        f" {WINDOW_S // 86400} days; sample {args.sample} new articles per size, batches of 50"
    )
    results: dict[int, tuple[float, float]] = {}
    memory: dict[int, float] = {}
    upgrade(engine)
    print(check_preload(engine, args.check, args.procs, args.cache_dir), flush=True)
    stored = args.check
    # Warm-up, not counted: imports, connection pool, first plans.
    time_warehouse(engine, sample_docs(stored, 50, tag="warm-up"))
    mb_per_article = 0.0
    for size in sizes:
        t0 = time.monotonic()
        rebuilt = bulk_load(engine, stored, size, args.procs, args.cache_dir)
        stored = size
        load_s = time.monotonic() - t0
        # The bulk load leaves checkpoint work and cold buffers that a warehouse in steady
        # use does not have: flush it, and dedupe a first sample (shown, not in the ratio).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("checkpoint"))
        cf, cd, _ = time_warehouse(engine, sample_docs(stored, args.warm_up, tag=f"w{size}"))
        docs = sample_docs(stored, args.sample, tag=str(size))
        feat, db, linked = time_warehouse(engine, docs)
        results[stored] = (feat, db)
        print(
            f"stored {stored:>9,}: pre-load {load_s:6.0f}s (index build {rebuilt:.0f}s),"
            f" {_table_mb(engine)}\n"
            f"  PostgreSQL  first {args.warm_up} after the load {cf + cd:6.2f} ms/article;"
            f" next {args.sample}: {feat + db:6.2f} ms/article = features {feat:.2f} +"
            f" run_dedupe rest {db:.2f}; copies linked {linked}/{(args.sample + 1) // 2}",
            flush=True,
        )
        projected = mb_per_article * stored
        if stored > args.memory_max or projected > args.memory_budget_mb:
            print(
                f"  in-memory   skipped: projected {projected:,.0f} MB for its index"
                f" (--memory-budget-mb {args.memory_budget_mb:,.0f}, --memory-max"
                f" {args.memory_max:,})",
                flush=True,
            )
            continue
        mem_ms, mem_mb, found = time_memory(stored, docs, args.procs, args.cache_dir)
        memory[stored] = feat + mem_ms
        mb_per_article = max(mb_per_article, mem_mb / stored)
        print(
            f"  in-memory   {feat + mem_ms:6.2f} ms/article = features {feat:.2f} +"
            f" query/verify/insert {mem_ms:.3f}; MinHashLSH {CFG.lsh.bands}x{CFG.lsh.rows}"
            f" index ~{mem_mb:,.0f} MB RSS; copies found {found}",
            flush=True,
        )
    first, last = min(results), max(results)
    (f0, d0), (f1, d1) = results[first], results[last]
    print(
        f"ratio {last:,} / {first:,} stored, PostgreSQL: per article"
        f" {(f1 + d1) / (f0 + d0):.2f}"
        f" (goal <= 1.5); run_dedupe without features {d1 / d0:.2f}"
    )
    if len(memory) > 1:
        m0, m1 = min(memory), max(memory)
        print(f"ratio {m1:,} / {m0:,} stored, in-memory: per article {memory[m1] / memory[m0]:.2f}")
    print(f"wall time {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
