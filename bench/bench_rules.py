"""Benchmark: CPU time of the claim rules as a share of the parse they follow.

The claims stage is a spaCy parse followed by the rules (pipeline.nlp.claims.analyse_docs);
issue 16 asks the whole stage to stay within 1.1x of the bare parse, so the rules' share of
the parse is the figure to drive down. Each batch of --batch corpus articles is parsed
(``pipe_chunks``, as the stage does), then the rules run on those docs; both are timed in CPU
seconds, batch after batch, so a drift in the machine's speed hits both alike.

Run: .venv/bin/python bench/bench_rules.py [--rounds 3] [--batch 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_claims import corpus_texts  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.nlp.claims import analyse_docs  # noqa: E402
from pipeline.nlp.loading import pipe_chunks  # noqa: E402
from pipeline.nlp.stage import extractor_for  # noqa: E402


def main() -> int:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the corpus")
    parser.add_argument("--batch", type=int, default=8, help="articles parsed at a time")
    args = parser.parse_args()

    extractor = extractor_for(Settings())
    texts = corpus_texts()
    list(extractor.nlp.pipe(texts[:4]))  # warm-up
    published = date(2026, 11, 1)
    parse = rules = 0.0
    claims = 0
    for _ in range(args.rounds):
        for k in range(0, len(texts), args.batch):
            part = texts[k : k + args.batch]
            c0 = time.process_time()
            parsed = list(
                pipe_chunks(
                    extractor.nlp,
                    part,
                    max_chars=extractor.max_chars,
                    batch_size=extractor.batch_size,
                )
            )
            c1 = time.process_time()
            for text, docs in zip(part, parsed, strict=True):
                claims += len(analyse_docs(text, docs, published, rules=extractor.rules).claims)
            parse += c1 - c0
            rules += time.process_time() - c1
    n = len(texts) * args.rounds
    print(
        "command: .venv/bin/python bench/bench_rules.py "
        f"--rounds {args.rounds} --batch {args.batch}"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"{len(texts)} corpus articles x {args.rounds} rounds, "
        f"{claims // args.rounds} claims a round"
    )
    print(f"parse: {parse:.2f} s cpu = {1000 * parse / n:.1f} ms an article")
    print(f"rules: {rules:.2f} s cpu = {1000 * rules / n:.1f} ms an article")
    print(
        f"rules / parse: {rules / parse:.3f} "
        "(the stage's 1.1x goal leaves 0.1 for the rules and the writes together)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
