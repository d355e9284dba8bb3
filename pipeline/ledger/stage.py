"""The ledger stage (issue 15): link numeric claims of published articles to measures, relate them
to the other claims of their measure, and group repeats of one figure into clusters.

Incremental: a claim is linked once (its ``claim_measure`` row is the mark), batch by batch, each
batch in ONE transaction under the ledger lock, so a re-run changes nothing and a crash leaves no
half-linked batch. Re-analysing an article forgets its claims' ledger rows first
(:func:`forget_claims`), and the next run links the new claims.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.dates import as_utc
from pipeline.ledger.actors import ActorResolver, actor_kind, article_aliases
from pipeline.ledger.bulk import insert_missing
from pipeline.ledger.compare import Figure, interval, per_day, relate
from pipeline.ledger.measures import MeasureKey, measure_key
from pipeline.ledger.store import forget_claims
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
from pipeline.warehouse.upsert import MAX_BIND_PARAMS, chunks, upsert

# Distinct from the dedupe stage's key: the two stages never wait for each other.
ADVISORY_LOCK_KEY = 0x4C45444745  # "LEDGE"
DEFAULT_BATCH = 500
# A new claim is compared with at most this many other claims of its measure, the most recently
# seen first: linking cost stays flat as the warehouse grows (bench/bench_ledger.py).
DEFAULT_WINDOW = 200
# The linking rules' version, written on every claim_measure row. Bump it with any change to
# measure_key, relate or the clustering that alters stored ledger rows: `mediamon_reprocess`
# (stage ledger) then re-links what older rules linked (unlink_stale), as it re-analyses claims
# of an older extractor version. Without it, links made by old rules would stay silently.
LINKER_VERSION = "mm-ledger-1"


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


# A measure's most recently seen claims, with only the columns figure_of reads (not whole claim
# rows); one statement built once, since the linker runs it for every measure of every batch.
_NEIGHBOURS = (
    sa.select(
        claim.c.id,
        claim.c.value_low,
        claim.c.value_high,
        claim.c.qualifier,
        claim.c.figure_kind,
        claim.c.rate_per,
        claim.c.period,
        claim.c.period_start,
        claim.c.period_end,
    )
    .join(claim_measure, claim_measure.c.claim_id == claim.c.id)
    .where(claim_measure.c.measure_id == sa.bindparam("measure_id"))
    .order_by(claim_measure.c.seen_at.desc(), claim_measure.c.claim_id.desc())
    .limit(sa.bindparam("limit"))
)


_RELATION_COLUMNS = (
    "claim_a",
    "claim_b",
    "measure_id",
    "relation",
    "ratio",
    "reason",
    "created_at",
)


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

    def _measure_ids(self, keys: Sequence[MeasureKey | None]) -> dict[str, int]:
        """Measure id by key for the batch's keys, creating the missing measures: one upsert and
        one lookup per batch, not per claim."""
        # One row per keyed claim, in claim order, duplicates included: the first claim of a key
        # gives its measure's label, and on PostgreSQL every conflicting insert still draws from
        # the id sequence, so measure ids stay those of linking one claim at a time.
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
                for key in keys
                if key is not None
            ],
            key=["key"],
        )
        wanted = list(dict.fromkeys(key.key for key in keys if key is not None))
        ids: dict[str, int] = {}
        for chunk in chunks(wanted):
            for key, measure_id in self.conn.execute(
                sa.select(measure.c.key, measure.c.id).where(measure.c.key.in_(chunk))
            ):
                ids[key] = measure_id
        return ids

    # --- the batch ------------------------------------------------------------------------------

    def link(self, rows: list[Any]) -> None:
        article_ids = sorted({r.article_id for r in rows})
        aliases = self._article_people(article_ids)
        article_place = self._article_places(article_ids)
        self.actors.prefetch(
            name
            for row in rows
            for name in (
                aliases.get(row.article_id, {}).get(" ".join((row.speaker or "").split()))
                or row.speaker,
                (row.via or [None])[0],
                (row.cites or [None])[0],
                row.outlet,
            )
        )
        keys = []
        marks = []
        actor_rows = []
        for row in rows:
            ids = self._actor_ids(row, aliases.get(row.article_id, {}))
            actor_rows.append({"b_id": row.id, **ids})
            key, evidence = measure_key(row, self.places, article_place.get(row.article_id))
            keys.append(key)
            fig = figure_of(row)
            lo, hi = interval(fig)
            daily = per_day(fig)
            marks.append(
                {
                    "claim_id": row.id,
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
                    "linker_version": LINKER_VERSION,
                }
            )
        measure_ids = self._measure_ids(keys)
        linked: list[tuple[Any, int]] = []
        for row, key, mark in zip(rows, keys, marks, strict=True):
            mark["measure_id"] = measure_ids[key.key] if key is not None else None
            if key is not None:
                linked.append((row, measure_ids[key.key]))
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

    def _neighbours(self, measure_id: int, limit: int) -> list[tuple[int, Figure]]:
        """The measure's ``limit`` most recently seen claims (the batch's own included), newest
        first, with their figures."""
        rows = self.conn.execute(_NEIGHBOURS, {"measure_id": measure_id, "limit": limit})
        return [(row.id, figure_of(row)) for row in rows]

    def _relate(self, linked: list[tuple[Any, int]]) -> None:
        by_measure: dict[int, list[Any]] = defaultdict(list)
        for row, m in linked:
            by_measure[m].append(row)
        out = []
        for m, new in by_measure.items():
            others = self._neighbours(m, self.window + len(new))
            new_ids = {row.id for row in new}
            seen: set[tuple[int, int]] = set()
            now = self.now
            for row in new:
                rid = row.id
                fig = figure_of(row)
                compared = 0
                for other_id, other_fig in others:
                    if other_id == rid:
                        continue
                    # The pair is stored with its smaller claim id first, compared in that order.
                    if rid < other_id:
                        pair, first, second = (rid, other_id), fig, other_fig
                    else:
                        pair, first, second = (other_id, rid), other_fig, fig
                    # Only a pair of two new claims can come up twice (once from each side).
                    both_new = other_id in new_ids
                    if both_new and pair in seen:
                        continue
                    if compared >= self.window:
                        break
                    compared += 1
                    if both_new:
                        seen.add(pair)
                    rel = relate(first, second)
                    out.append((pair[0], pair[1], m, rel.relation, rel.ratio, rel.reason, now))
        insert_missing(
            self.conn, claim_relation, _RELATION_COLUMNS, out, key=["claim_a", "claim_b"]
        )
        self.counts.relations += len(out)

    def _cluster_ids(self, figures: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
        """Cluster id by (measure id, figure), in one lookup per chunk of pairs."""
        pairs = sorted(figures)
        ids: dict[tuple[int, str], int] = {}
        for chunk in chunks(pairs, MAX_BIND_PARAMS // 2):
            for cid, m, f in self.conn.execute(
                sa.select(
                    claim_cluster.c.id, claim_cluster.c.measure_id, claim_cluster.c.figure
                ).where(sa.tuple_(claim_cluster.c.measure_id, claim_cluster.c.figure).in_(chunk))
            ):
                ids[(m, f)] = cid
        return ids

    def _cluster(self, linked: list[tuple[Any, int]]) -> None:
        figures = {(m, figure_signature(row)) for row, m in linked}
        upsert(
            self.conn,
            claim_cluster,
            [{"measure_id": m, "figure": f, "created_at": self.now} for m, f in sorted(figures)],
            key=["measure_id", "figure"],
        )
        ids = self._cluster_ids(figures)
        insert_missing(
            self.conn,
            claim_cluster_member,
            ("claim_id", "cluster_id", "role", "source_claim_id"),
            [(row.id, ids[(m, figure_signature(row))], "origin", None) for row, m in linked],
            key=["claim_id"],
        )
        assign_roles_many(self.conn, sorted(set(ids.values())), self.actors)
        self.counts.clusters += len(ids)


def _members(conn: Connection, cluster_ids: Sequence[int]) -> Iterator[Any]:
    """Every member of the clusters, cluster by cluster, each cluster's first seen first."""
    for chunk in chunks(cluster_ids):
        # Fetched whole: labelling a cluster may create an actor on this connection.
        yield from conn.execute(
            sa.select(
                claim_cluster_member.c.cluster_id,
                claim_cluster_member.c.role,
                claim_cluster_member.c.source_claim_id,
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
            .where(claim_cluster_member.c.cluster_id.in_(chunk))
            .order_by(claim_cluster_member.c.cluster_id, claim_measure.c.seen_at, claim.c.id)
        ).all()


def _roles(rows: Sequence[Any], actors: ActorResolver) -> list[tuple[str, int | None]]:
    """(role, source claim id) of each member of one cluster, ``rows`` first seen first."""
    origin = rows[0]
    origin_channels = {
        actors.resolve(origin.outlet, "outlet"),
        origin.via_actor_id,
    } - {None}
    out: list[tuple[str, int | None]] = [("origin", None)]
    # The first earlier member of each article and of each story: what the rules below would
    # find scanning the earlier members in order, without rescanning them for every member.
    first_of_article: dict[str, tuple[int, Any]] = {origin.article_id: (0, origin)}
    first_of_story: dict[Any, tuple[int, Any]] = {}
    if origin.story_id is not None:
        first_of_story[origin.story_id] = (0, origin)
    for k, row in enumerate(rows[1:], start=1):
        role: str = "independent"
        src: int | None = None
        same = first_of_article.get(row.article_id)
        copies = [
            first_of_article.get(row.duplicate_of),
            first_of_article.get(row.copied_from),
        ]
        if row.label == "wire_copy" and row.story_id is not None:
            copies.append(first_of_story.get(row.story_id))
        copied = min((c for c in copies if c is not None), key=lambda c: c[0], default=None)
        if same is not None:
            role, src = "repeat", same[1].id
        elif copied is not None:
            role, src = "copy", copied[1].id
        elif {row.via_actor_id, row.cites_actor_id, row.speaker_actor_id} & origin_channels:
            role, src = "attributed", origin.id
        out.append((role, src))
        first_of_article.setdefault(row.article_id, (k, row))
        if row.story_id is not None:
            first_of_story.setdefault(row.story_id, (k, row))
    return out


def assign_roles_many(conn: Connection, cluster_ids: Sequence[int], actors: ActorResolver) -> None:
    """Label every member of each cluster, as :func:`assign_roles` does one: members are read
    in one statement per chunk of clusters, and only the members whose role changed are
    written."""
    updates = []
    for _, group in itertools.groupby(_members(conn, cluster_ids), key=lambda r: r.cluster_id):
        rows = list(group)
        for row, (role, src) in zip(rows, _roles(rows, actors), strict=True):
            if (row.role, row.source_claim_id) != (role, src):
                updates.append({"b_claim": row.id, "b_role": role, "b_source": src})
    if updates:
        conn.execute(
            sa.update(claim_cluster_member)
            .where(claim_cluster_member.c.claim_id == sa.bindparam("b_claim"))
            .values(role=sa.bindparam("b_role"), source_claim_id=sa.bindparam("b_source")),
            updates,
        )


def assign_roles(conn: Connection, cluster_id: int, actors: ActorResolver) -> None:
    """Label every member of a cluster: origin (first seen), repeat (same article), copy (dedupe
    says its article copies an earlier member's), attributed (it goes via or cites the origin's
    outlet or channel), independent."""
    assign_roles_many(conn, [cluster_id], actors)


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


def unlink_stale(
    engine: Engine,
    where: Sequence[sa.ColumnElement[bool]] = (),
    *,
    batch_size: int = DEFAULT_BATCH,
) -> int:
    """Queue again the numeric claims of the articles (``where``: conditions on ``article``)
    whose ledger rows another linker version wrote, or one not recorded; return how many
    articles. Their ledger rows are forgotten (as when an article is re-analysed), so the next
    :func:`link_pending` links them with today's rules. One transaction per batch of articles,
    under the ledger lock: a crash leaves each article either still stale or queued."""
    stale = sa.select(claim_measure.c.article_id).where(
        sa.or_(
            claim_measure.c.linker_version.is_(None),
            claim_measure.c.linker_version != LINKER_VERSION,
        )
    )
    done = 0
    last = ""
    while True:
        with engine.begin() as conn:
            lock(conn)
            # Keyset paging on the article key: each batch reads only its own rows.
            ids = list(
                conn.execute(
                    sa.select(article.c.id)
                    .where(article.c.id.in_(stale), article.c.id > last, *where)
                    .order_by(article.c.id)
                    .limit(batch_size)
                ).scalars()
            )
            if not ids:
                return done
            forget_claims(conn, ids)
            conn.execute(
                sa.update(claim)
                .where(claim.c.article_id.in_(ids), claim.c.kind == "numeric")
                .values(linked=False)
            )
        done += len(ids)
        last = ids[-1]


__all__ = [
    "LINKER_VERSION",
    "LedgerCounts",
    "assign_roles",
    "assign_roles_many",
    "figure_of",
    "figure_signature",
    "link_pending",
    "unlink_stale",
]
