"""Benchmark: words/s of the whole claims stage vs bare ``nlp.pipe`` on the same texts.

The texts are the bundled sample corpus (extracted from samples/site/*/2026/*/*.html) repeated
until there are at least --min-words words. The stage figure is the real stage's batch step
(``analyse_ids``: select the articles from a throwaway SQLite warehouse, parse, extract claims
and entities, write them and advance the status in one transaction). Peak memory is the
process's maximum resident set size.

The two are timed slice by slice (--slice articles), in alternating order, so that both sides
of each comparison run within seconds of each other: on a shared virtual machine the CPU's
speed drifts by 10-20 % within a minute, which made whole 25-second runs incomparable. A slice
is one stage batch, so one transaction: smaller slices than the stage's batches (200) add
commits the stage does not make, larger ones let the drift back in.

Run: .venv/bin/python bench/bench_claims.py [--min-words 60000] [--rounds 3] [--slice 40]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import Settings  # noqa: E402
from pipeline.extract import extract  # noqa: E402
from pipeline.nlp.loading import get_nlp  # noqa: E402
from pipeline.nlp.stage import analyse_ids, extractor_for, resolver_for  # noqa: E402
from pipeline.warehouse import make_engine  # noqa: E402
from pipeline.warehouse.migrate import upgrade  # noqa: E402
from pipeline.warehouse.schema import article  # noqa: E402
from tests.claims_scoring import seed_articles  # noqa: E402


def corpus_texts() -> list[str]:
    """Extracted texts of the sample corpus pages that have text."""
    texts = []
    for path in sorted(REPO.glob("samples/site/*/2026/*/*.html")):
        result = extract(
            path.read_bytes(),
            url="http://127.0.0.1/" + path.name,
            content_type="text/html",
            fetched_at=datetime.now(UTC),
        )
        if result.article is not None:
            texts.append(result.article.text)
    return texts


def peak_mb() -> float:
    """Maximum resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-words", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3, help="passes over all the slices")
    parser.add_argument("--slice", type=int, default=40, help="articles per timed slice")
    args = parser.parse_args()

    base = corpus_texts()
    texts: list[str] = []
    while sum(len(t.split()) for t in texts) < args.min_words:
        texts += base
    words = sum(len(t.split()) for t in texts)
    ids = [f"bench{i:06d}" for i in range(len(texts))]
    slices = [range(k, min(k + args.slice, len(texts))) for k in range(0, len(texts), args.slice)]
    bare: list[tuple[float, float]] = []  # (wall, cpu) per slice and round
    stage: list[tuple[float, float]] = []
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp))
        extractor = extractor_for(settings)
        resolve = resolver_for(settings)
        nlp = get_nlp(settings.spacy_model)
        list(nlp.pipe(base[:4]))  # warm-up: first-call allocations are not throughput
        rss_loaded = peak_mb()
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        upgrade(engine)
        seed_articles(engine, dict(zip(ids, texts, strict=True)), published=datetime.now(UTC))

        def run_bare(part: range) -> None:
            for _doc in nlp.pipe([texts[i] for i in part], batch_size=settings.nlp_pipe_batch):
                pass

        def run_stage(part: range) -> None:
            counts.update(analyse_ids(engine, [ids[i] for i in part], extractor, resolve=resolve))

        for r in range(args.rounds):
            with engine.begin() as conn:  # re-analyse: the stage replaces its rows
                conn.execute(sa.update(article).values(status="deduped"))
            gc.collect()
            for k, part in enumerate(slices):
                pair = [("bare", run_bare), ("stage", run_stage)]
                for side, run in pair if (r + k) % 2 == 0 else pair[::-1]:
                    w0, c0 = time.perf_counter(), time.process_time()
                    run(part)
                    took = (time.perf_counter() - w0, time.process_time() - c0)
                    (bare if side == "bare" else stage).append(took)
        rss_end = peak_mb()

    n = len(slices)
    print(
        f"command: .venv/bin/python bench/bench_claims.py --min-words {args.min_words} "
        f"--rounds {args.rounds} --slice {args.slice}"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"texts: {len(texts)} ({len(base)} corpus articles repeated), {words} words")
    print(
        f"model: {settings.spacy_model}, pipe batch {settings.nlp_pipe_batch}; "
        f"{n} slices of {args.slice} articles, {args.rounds} rounds, order alternating"
    )
    per_round = []
    for r in range(args.rounds):
        bw = sum(w for w, _ in bare[r * n : (r + 1) * n])
        sw = sum(w for w, _ in stage[r * n : (r + 1) * n])
        per_round.append(sw / bw)
        print(f"round {r + 1}: bare {bw:6.2f} s, stage {sw:6.2f} s, stage/bare {sw / bw:.3f}")
    bw, bc = sum(w for w, _ in bare), sum(c for _, c in bare)
    sw, sc = sum(w for w, _ in stage), sum(c for _, c in stage)
    rounds = args.rounds
    print(
        f"bare nlp.pipe: wall {bw / rounds:6.2f} s a round = {words * rounds / bw:7.0f} words/s; "
        f"cpu {words * rounds / bc:7.0f} words/s"
    )
    print(
        f"claims stage:  wall {sw / rounds:6.2f} s a round = {words * rounds / sw:7.0f} words/s; "
        f"cpu {words * rounds / sc:7.0f} words/s"
    )
    total = {k: v // rounds for k, v in sorted(counts.items())}
    print(f"  (stage = select + parse + rules + warehouse writes + status; per round {total})")
    slice_ratios = sorted(s[0] / b[0] for s, b in zip(stage, bare, strict=True))
    print(
        f"the stage takes {sw / bw:.3f}x the bare parse's wall time ({sc / bc:.3f}x its cpu "
        f"time); median slice {statistics.median(slice_ratios):.3f}, rounds "
        f"{[round(x, 3) for x in per_round]} (goal, issue 16: <= 1.1x)"
    )
    print(f"peak RSS: after model load {rss_loaded:.0f} MiB, whole run {rss_end:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
