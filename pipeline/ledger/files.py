"""The ledger of a few files alone (``mediamon ledger PATH...``): the files' claims go through the
same analyse and ledger code as the pipeline, in a throwaway SQLite warehouse, and come back as
one record per measure."""

from __future__ import annotations

import hashlib
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.ledger.stage import link_pending
from pipeline.nlp.claims import ClaimExtractor
from pipeline.nlp.store import store_analysis
from pipeline.warehouse.engine import make_engine
from pipeline.warehouse.migrate import create_views
from pipeline.warehouse.queries import add_source_and_feed
from pipeline.warehouse.schema import article, metadata
from pipeline.warehouse.schema_claims import claim
from pipeline.warehouse.schema_ledger import actor, claim_measure, claim_relation, measure


@dataclass(frozen=True)
class FileClaim:
    """One linked numeric claim of an input file."""

    claim_id: int
    input: str
    start: int
    end: int
    value_start: int
    value_end: int
    text: str
    value_low: float | None
    value_high: float | None
    speaker: str | None
    measure_id: int | None


@dataclass
class FileLedger:
    """Measures, their claims and the relations between them, for a set of files."""

    measures: dict[int, dict[str, Any]] = field(default_factory=dict)
    claims: list[FileClaim] = field(default_factory=list)
    # (claim_a, claim_b) -> (relation, ratio), claim_a < claim_b
    relations: dict[tuple[int, int], tuple[str, float | None]] = field(default_factory=dict)

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready object per measure, in the CLI contract's shape."""
        by_measure: dict[int, list[FileClaim]] = defaultdict(list)
        for c in self.claims:
            if c.measure_id is not None:
                by_measure[c.measure_id].append(c)
        by_id = {c.claim_id: c for c in self.claims}
        out = []
        for mid, m in sorted(self.measures.items()):
            members = by_measure.get(mid, [])
            if not members:
                continue
            rels = [
                {
                    "a": {"input": by_id[a].input, "start": by_id[a].start},
                    "b": {"input": by_id[b].input, "start": by_id[b].start},
                    "relation": rel,
                    "ratio": None if ratio is None else round(ratio, 4),
                }
                for (a, b), (rel, ratio) in sorted(self.relations.items())
                if a in by_id and b in by_id and by_id[a].measure_id == mid
            ]
            out.append(
                {
                    "measure": m["label"],
                    "event": m["event"],
                    "unit_norm": m["population"],
                    "place": m["place"],
                    "claims": [
                        {
                            "input": c.input,
                            "start": c.start,
                            "end": c.end,
                            "text": c.text,
                            "value_low": c.value_low,
                            "value_high": c.value_high,
                            "speaker": c.speaker,
                        }
                        for c in members
                    ],
                    "relations": rels,
                }
            )
        return out


def build_file_ledger(
    inputs: Sequence[tuple[str, str, date | None]],
    extractor: ClaimExtractor,
    *,
    published: date | None = None,
    window: int = 200,
) -> FileLedger:
    """Analyse (label, text, publication date) inputs and link their claims, in a throwaway
    warehouse. An input's own date wins over ``published`` (default: today)."""
    default_day = published or datetime.now(UTC).date()
    with tempfile.TemporaryDirectory(prefix="mediamon-ledger-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'ledger.sqlite'}")
        try:
            metadata.create_all(engine)
            with engine.begin() as conn:
                create_views(conn)
            items = [(text, day or default_day) for _, text, day in inputs]
            analyses = list(extractor.analyse_many(items))
            now = datetime.now(UTC)
            ids: dict[str, str] = {}
            with engine.begin() as conn:
                for k, ((label, text, _), (_, day), analysis) in enumerate(
                    zip(inputs, items, analyses, strict=True)
                ):
                    article_id = hashlib.sha256(f"{k}:{label}".encode()).hexdigest()
                    ids[article_id] = label
                    src, fid = add_source_and_feed(
                        conn, name=f"{k}:{label}"[:200], feed_url=f"file:{k}:{label}", now=now
                    )
                    # Files given in order count as published in that order within their day.
                    when = datetime.combine(day, time(12, 0), UTC).replace(second=k % 60)
                    conn.execute(
                        sa.insert(article).values(
                            id=article_id,
                            url=f"file:{k}:{label}",
                            source_id=src,
                            feed_id=fid,
                            discovered_at=when,
                            discovered_run_id="ledger-files",
                            status="published",
                            attempts=0,
                            text=text,
                            published_at=when,
                            updated_at=now,
                        )
                    )
                    store_analysis(conn, article_id, analysis, now=now)
            link_pending(engine, window=window)
            return _read(engine, ids)
        finally:
            engine.dispose()


def _read(engine: sa.engine.Engine, labels: dict[str, str]) -> FileLedger:
    out = FileLedger()
    with engine.connect() as conn:
        for m in conn.execute(sa.select(measure)).mappings():
            out.measures[m["id"]] = dict(m)
        rows = conn.execute(
            sa.select(claim, claim_measure.c.measure_id, actor.c.name.label("actor_name"))
            .join(claim_measure, claim_measure.c.claim_id == claim.c.id)
            .outerjoin(actor, actor.c.id == claim.c.speaker_actor_id)
            .order_by(claim.c.article_id, claim.c.claim_index)
        )
        for r in rows:
            out.claims.append(
                FileClaim(
                    claim_id=r.id,
                    input=labels[r.article_id],
                    start=r.start_offset,
                    end=r.end_offset,
                    value_start=r.value_start,
                    value_end=r.value_end,
                    text=r.text,
                    value_low=r.value_low,
                    value_high=r.value_high,
                    speaker=r.actor_name or r.speaker,
                    measure_id=r.measure_id,
                )
            )
        order = {label: k for k, label in enumerate(dict.fromkeys(labels.values()))}
        out.claims.sort(key=lambda c: (order[c.input], c.value_start, c.claim_id))
        for r in conn.execute(sa.select(claim_relation)):
            out.relations[(r.claim_a, r.claim_b)] = (r.relation, r.ratio)
    return out


__all__ = ["FileClaim", "FileLedger", "build_file_ledger"]
