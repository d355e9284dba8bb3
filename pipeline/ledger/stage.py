"""The ledger stage (issue 15): link numeric claims of published articles to measures, relate them
to the other claims of their measure, and group repeats of one figure into clusters.

Incremental: a claim is linked once (its ``claim_measure`` row is the mark), batch by batch, each
batch in ONE transaction under the ledger lock, so a re-run changes nothing and a crash leaves no
half-linked batch. Re-analysing an article forgets its claims' ledger rows first
(:func:`forget_claims`), and the next run links the new claims.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.dates import as_utc
from pipeline.ledger.actors import ActorResolver, actor_kind, article_aliases
from pipeline.ledger.compare import Figure, interval, per_day, relate
from pipeline.ledger.measures import measure_key
from pipeline.nlp.comparable import bare_name, place_matches
from pipeline.warehouse.engine import write_lock
from pipeline.warehouse.schema import article, source
from pipeline.warehouse.schema_claims import UNLINKED, article_entity, claim, entity
from pipeline.warehouse.schema_dedupe import article_dedupe, article_signature
from pipeline.warehouse.schema_ledger import (
    claim_cluster,
    claim_cluster_member,
    claim_measure,
    claim_relation,
    measure,
)
from pipeline.warehouse.upsert import upsert

# Distinct from the dedupe stage's key: the two stages never wait for each other.
ADVISORY_LOCK_KEY = 0x4C45444745  # "LEDGE"
DEFAULT_BATCH = 500
# A new claim is compared with at most this many other claims of its measure, the most recently
# seen first: linking cost stays flat as the warehouse grows (bench/bench_ledger.py).
DEFAULT_WINDOW = 200


@dataclass
class LedgerCounts:
    """What one ledger run did."""

    claims: int = 0
    linked: int = 0
    unlinked: int = 0
    measures: int = 0
    relations: int = 0
    clusters: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def add(self, batch: LedgerCounts) -> None:
        """Add one batch's counts (measures are counted apart: distinct over the run)."""
        for name in ("claims", "linked", "unlinked", "relations", "clusters"):
            setattr(self, name, getattr(self, name) + getattr(batch, name))
        self.batches += 1


def lock(conn: Connection) -> None:
    """Take the ledger write lock for the rest of this transaction (its first statement)."""
    write_lock(conn, ADVISORY_LOCK_KEY)


def _seen_at() -> Any:
    return sa.func.coalesce(
        article_signature.c.seen_at, article.c.published_at, article.c.discovered_at
    )


def _pending(conn: Connection, limit: int) -> list[Any]:
    """Numeric claims of published articles that the ledger has not handled yet.

    Claims the quality gate holds back wait outside the queue; releasing one clears ``held``
    and it is linked on the next run (``linked`` is still false).
    """
    return list(
        conn.execute(
            sa.select(
                claim,
                article.c.source_id,
                source.c.name.label("outlet"),
                _seen_at().label("seen_at"),
            )
            .join(article, article.c.id == claim.c.article_id)
            .join(source, source.c.id == article.c.source_id)
            .outerjoin(article_signature, article_signature.c.article_id == article.c.id)
            .where(UNLINKED, claim.c.held == sa.false(), article.c.status == "published")
            .order_by(claim.c.id)
            .limit(limit)
        )
    )


def figure_of(row: Any) -> Figure:
    """The comparable figure of a claim row."""
    return Figure(
        low=float(row.value_low if row.value_low is not None else 0.0),
        high=float(row.value_high if row.value_high is not None else 0.0),
        qualifier=row.qualifier or "exact",
        figure_kind=row.figure_kind or "total",
        rate_per=row.rate_per,
        period=row.period,
        period_start=row.period_start,
        period_end=row.period_end,
    )


def figure_signature(row: Any) -> str:
    """What makes two claims "the same figure": kind, values and rate (not the wording)."""
    parts = [row.figure_kind or "total", f"{row.value_low:g}", f"{row.value_high:g}"]
    parts.append(row.rate_per or "")
    if row.value_from is not None:
        parts.append(f"from {row.value_from:g}")
    return "|".join(parts)[:200]


def _finite(x: float) -> float | None:
    return None if math.isinf(x) or math.isnan(x) else x


class _Linker:
    def __init__(self, conn: Connection, now: datetime, window: int, places: list[str]) -> None:
        self.conn = conn
        self.now = now
        self.window = window
        self.places = places
        self.actors = ActorResolver(conn, now)
        self.counts = LedgerCounts()
        self.measure_ids: set[int] = set()

    # --- actors ---------------------------------------------------------------------------------

    def _article_people(self, article_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        rows = self.conn.execute(
            sa.select(claim.c.article_id, claim.c.speaker)
            .where(claim.c.article_id.in_(list(article_ids)), claim.c.speaker.is_not(None))
            .distinct()
        )
        people: dict[str, list[str]] = defaultdict(list)
        for aid, speaker in rows:
            if actor_kind(speaker) == "person":
                people[aid].append(speaker)
        return {aid: article_aliases(names) for aid, names in people.items()}

    def _actor_ids(self, row: Any, aliases: dict[str, str]) -> dict[str, int | None]:
        speaker = row.speaker
        if speaker:
            speaker = aliases.get(" ".join(speaker.split()), speaker)
        via = (row.via or [None])[0]
        cites = (row.cites or [None])[0]
        return {
            "speaker_actor_id": self.actors.resolve(
                speaker, row.speaker_kind or actor_kind(speaker or "")
            ),
            "via_actor_id": self.actors.resolve(via, "outlet"),
            "cites_actor_id": self.actors.resolve(cites, actor_kind(cites or "", cited=True)),
        }

    def _article_places(self, article_ids: Sequence[str]) -> dict[str, str]:
        """The place most of an article's figures are about: the default for a figure whose own
        sentence names none."""
        rows = self.conn.execute(
            sa.select(claim.c.article_id, claim.c.place, sa.func.count())
            .where(claim.c.article_id.in_(list(article_ids)), claim.c.place.is_not(None))
            .group_by(claim.c.article_id, claim.c.place)
            .order_by(claim.c.article_id, sa.func.count().desc(), claim.c.place)
        )
        out: dict[str, str] = {}
        for aid, place, _ in rows:
            out.setdefault(aid, place)
        # No figure of the article names a place: its most mentioned known place.
        rest = [a for a in article_ids if a not in out]
        if rest and self.places:
            known = {p.lower() for p in self.places}
            mentions = self.conn.execute(
                sa.select(article_entity.c.article_id, entity.c.name, article_entity.c.count)
                .join(entity, entity.c.id == article_entity.c.entity_id)
                .where(article_entity.c.article_id.in_(rest))
                .order_by(article_entity.c.article_id, article_entity.c.count.desc(), entity.c.name)
            )
            for aid, name, _ in mentions:
                if aid not in out and bare_name(name).lower() in known:
                    out[aid] = bare_name(name)
        return out

    # --- measures -------------------------------------------------------------------------------

    def _measure_id(self, key: Any) -> int:
        upsert(
            self.conn,
            measure,
            [
                {
                    "key": key.key,
                    "label": key.label,
                    "event": key.event,
                    "population": key.population,
                    "unit_class": key.unit_class,
                    "currency": key.currency,
                    "place": key.place,
                    "figure_group": key.figure_group,
                    "created_at": self.now,
                }
            ],
            key=["key"],
        )
        return int(
            self.conn.execute(sa.select(measure.c.id).where(measure.c.key == key.key)).scalar_one()
        )

    # --- the batch ------------------------------------------------------------------------------

    def link(self, rows: list[Any]) -> None:
        aliases = self._article_people(sorted({r.article_id for r in rows}))
        article_place = self._article_places(sorted({r.article_id for r in rows}))
        linked: list[tuple[Any, int]] = []
        marks = []
        actor_rows = []
        for row in rows:
            ids = self._actor_ids(row, aliases.get(row.article_id, {}))
            actor_rows.append({"b_id": row.id, **ids})
            key, evidence = measure_key(row, self.places, article_place.get(row.article_id))
            fig = figure_of(row)
            lo, hi = interval(fig)
            daily = per_day(fig)
            measure_id = self._measure_id(key) if key is not None else None
            marks.append(
                {
                    "claim_id": row.id,
                    "measure_id": measure_id,
                    "article_id": row.article_id,
                    "source_id": row.source_id,
                    "seen_at": as_utc(row.seen_at),
                    "reason": evidence.pop("reason", None),
                    "evidence": evidence,
                    "low": _finite(lo),
                    "high": _finite(hi),
                    "per_day_low": _finite(daily[0]) if daily else None,
                    "per_day_high": _finite(daily[1]) if daily else None,
                    "linked_at": self.now,
                }
            )
            if measure_id is not None:
                linked.append((row, measure_id))
        if actor_rows:
            self.conn.execute(
                sa.update(claim)
                .where(claim.c.id == sa.bindparam("b_id"))
                .values(
                    speaker_actor_id=sa.bindparam("speaker_actor_id"),
                    via_actor_id=sa.bindparam("via_actor_id"),
                    cites_actor_id=sa.bindparam("cites_actor_id"),
                    linked=True,
                ),
                actor_rows,
            )
        self.conn.execute(sa.insert(claim_measure), marks)
        self.counts.claims += len(rows)
        self.counts.linked += len(linked)
        self.counts.unlinked += len(rows) - len(linked)
        self.measure_ids = {m for _, m in linked}
        self.counts.measures = len(self.measure_ids)
        self._relate(linked)
        self._cluster(linked)

    def _neighbours(self, measure_id: int, limit: int) -> list[Any]:
        return list(
            self.conn.execute(
                sa.select(claim, claim_measure.c.seen_at)
                .join(claim_measure, claim_measure.c.claim_id == claim.c.id)
                .where(claim_measure.c.measure_id == measure_id)
                .order_by(claim_measure.c.seen_at.desc(), claim_measure.c.claim_id.desc())
                .limit(limit)
            )
        )

    def _relate(self, linked: list[tuple[Any, int]]) -> None:
        by_measure: dict[int, list[Any]] = defaultdict(list)
        for row, m in linked:
            by_measure[m].append(row)
        out = []
        for m, new in by_measure.items():
            others = self._neighbours(m, self.window + len(new))
            seen: set[tuple[int, int]] = set()
            for row in new:
                compared = 0
                for other in others:
                    if other.id == row.id:
                        continue
                    pair = (min(row.id, other.id), max(row.id, other.id))
                    if pair in seen:
                        continue
                    if compared >= self.window:
                        break
                    compared += 1
                    seen.add(pair)
                    a, b = (row, other) if row.id == pair[0] else (other, row)
                    rel = relate(figure_of(a), figure_of(b))
                    out.append(
                        {
                            "claim_a": pair[0],
                            "claim_b": pair[1],
                            "measure_id": m,
                            "relation": rel.relation,
                            "ratio": rel.ratio,
                            "reason": rel.reason,
                            "created_at": self.now,
                        }
                    )
        upsert(self.conn, claim_relation, out, key=["claim_a", "claim_b"])
        self.counts.relations += len(out)

    def _cluster(self, linked: list[tuple[Any, int]]) -> None:
        figures = {(m, figure_signature(row)) for row, m in linked}
        upsert(
            self.conn,
            claim_cluster,
            [{"measure_id": m, "figure": f, "created_at": self.now} for m, f in sorted(figures)],
            key=["measure_id", "figure"],
        )
        ids: dict[tuple[int, str], int] = {}
        for m, f in figures:
            ids[(m, f)] = int(
                self.conn.execute(
                    sa.select(claim_cluster.c.id).where(
                        claim_cluster.c.measure_id == m, claim_cluster.c.figure == f
                    )
                ).scalar_one()
            )
        members = [
            {
                "claim_id": row.id,
                "cluster_id": ids[(m, figure_signature(row))],
                "role": "origin",
                "source_claim_id": None,
            }
            for row, m in linked
        ]
        upsert(self.conn, claim_cluster_member, members, key=["claim_id"])
        for cluster_id in sorted(set(ids.values())):
            assign_roles(self.conn, cluster_id, self.actors)
        self.counts.clusters += len(ids)


def assign_roles(conn: Connection, cluster_id: int, actors: ActorResolver) -> None:
    """Label every member of a cluster: origin (first seen), repeat (same article), copy (dedupe
    says its article copies an earlier member's), attributed (it goes via or cites the origin's
    outlet or channel), independent."""
    rows = list(
        conn.execute(
            sa.select(
                claim.c.id,
                claim.c.article_id,
                claim.c.speaker_actor_id,
                claim.c.via_actor_id,
                claim.c.cites_actor_id,
                claim_measure.c.seen_at,
                source.c.name.label("outlet"),
                article_dedupe.c.duplicate_of,
                article_dedupe.c.copied_from,
                article_dedupe.c.label,
                article_dedupe.c.story_id,
            )
            .join(claim_cluster_member, claim_cluster_member.c.claim_id == claim.c.id)
            .join(claim_measure, claim_measure.c.claim_id == claim.c.id)
            .join(source, source.c.id == claim_measure.c.source_id)
            .outerjoin(article_dedupe, article_dedupe.c.article_id == claim.c.article_id)
            .where(claim_cluster_member.c.cluster_id == cluster_id)
            .order_by(claim_measure.c.seen_at, claim.c.id)
        )
    )
    if not rows:
        return
    origin = rows[0]
    origin_channels = {
        actors.resolve(origin.outlet, "outlet"),
        origin.via_actor_id,
    } - {None}
    updates = [{"b_claim": origin.id, "b_role": "origin", "b_source": None}]
    for k, row in enumerate(rows[1:], start=1):
        earlier = rows[:k]
        role, src = "independent", None
        same = next((e for e in earlier if e.article_id == row.article_id), None)
        copied = next(
            (
                e
                for e in earlier
                if e.article_id in (row.duplicate_of, row.copied_from)
                or (
                    row.label == "wire_copy"
                    and row.story_id is not None
                    and row.story_id == e.story_id
                )
            ),
            None,
        )
        if same is not None:
            role, src = "repeat", same.id
        elif copied is not None:
            role, src = "copy", copied.id
        elif {row.via_actor_id, row.cites_actor_id, row.speaker_actor_id} & origin_channels:
            role, src = "attributed", origin.id
        updates.append({"b_claim": row.id, "b_role": role, "b_source": src})
    conn.execute(
        sa.update(claim_cluster_member)
        .where(claim_cluster_member.c.claim_id == sa.bindparam("b_claim"))
        .values(role=sa.bindparam("b_role"), source_claim_id=sa.bindparam("b_source")),
        updates,
    )


def known_places(conn: Connection) -> list[str]:
    """Every place the warehouse has seen named, for turning "Ostrelian" into Ostrel: GPE
    entities, and one-word names of other labels whose nationality adjective was seen (the model
    often labels a country it does not know as an organisation)."""
    rows = [
        (bare_name(n), label)
        for n, label in conn.execute(
            sa.select(entity.c.name, entity.c.label).where(
                entity.c.label.in_(("GPE", "NORP", "ORG", "PERSON", "LOC"))
            )
        )
    ]
    norps = {n for n, label in rows if label == "NORP"}
    by_prefix: dict[str, set[str]] = defaultdict(set)
    for n in norps:
        by_prefix[n[:4].lower()].add(n)
    names = {n for n, label in rows if label == "GPE"}
    for n, label in rows:
        if (
            label in ("ORG", "PERSON", "LOC")
            and " " not in n.strip()
            and any(place_matches(d, n) and d != n for d in by_prefix.get(n[:4].lower(), ()))
        ):
            names.add(n)
    return sorted(names)


def link_pending(
    engine: Engine,
    *,
    batch_size: int = DEFAULT_BATCH,
    window: int = DEFAULT_WINDOW,
    now: datetime | None = None,
) -> LedgerCounts:
    """Link every numeric claim of a published article not linked yet, batch by batch."""
    total = LedgerCounts()
    with engine.connect() as conn:
        places = known_places(conn)
    touched: set[int] = set()
    while True:
        with engine.begin() as conn:
            lock(conn)
            rows = _pending(conn, batch_size)
            if not rows:
                break
            linker = _Linker(conn, now or datetime.now(UTC), window, places)
            linker.link(rows)
        total.add(linker.counts)
        touched |= linker.measure_ids
    total.measures = len(touched)
    return total


__all__ = [
    "LedgerCounts",
    "assign_roles",
    "figure_of",
    "figure_signature",
    "link_pending",
]
