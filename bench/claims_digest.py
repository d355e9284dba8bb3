"""Digest of every claim and entity the extractor gives on the repo's texts: a speed change to
the rules must leave it unchanged.

The texts are the gold tuning set, the held-out set 5 and the sample corpus (300 texts), all
analysed with the publication date 2026-11-01. The digest is the md5 of their JSON; --out also
writes the JSON, so two checkouts' outputs can be diffed when the digests differ.

Run: .venv/bin/python bench/claims_digest.py [--out claims.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_claims import corpus_texts  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.nlp.claims import analyse_docs  # noqa: E402
from pipeline.nlp.loading import pipe_chunks  # noqa: E402
from pipeline.nlp.stage import extractor_for  # noqa: E402

SETS = ("tests/gold/claims", "tests/gold/claims_holdout_5")


def main() -> int:
    """Analyse the texts and print the digest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the claims and entities as JSON")
    args = parser.parse_args()

    extractor = extractor_for(Settings())
    texts = [p.read_text() for d in SETS for p in sorted((REPO / d).glob("*.txt"))]
    texts += corpus_texts()
    published = date(2026, 11, 1)
    chunks = pipe_chunks(
        extractor.nlp, texts, max_chars=extractor.max_chars, batch_size=extractor.batch_size
    )
    out = []
    for text, docs in zip(texts, chunks, strict=True):
        analysis = analyse_docs(text, docs, published, rules=extractor.rules)
        out.append(
            {
                "claims": [dataclasses.asdict(c) for c in analysis.claims],
                "entities": [dataclasses.asdict(e) for e in analysis.entities],
            }
        )
    blob = json.dumps(out, sort_keys=True, default=str).encode()
    print(f"{len(texts)} texts; md5 {hashlib.md5(blob).hexdigest()}")
    if args.out:
        args.out.write_text(json.dumps(out, sort_keys=True, default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
