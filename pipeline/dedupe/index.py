"""The warehouse side of dedupe: the lock, the persistent LSH index, links and story rows.

One call of ``dedupe_batch`` runs inside ONE transaction that first takes the dedupe lock
(PostgreSQL advisory transaction lock; SQLite ``BEGIN IMMEDIATE``). Holding it while querying the
index and writing the results means two workers can never both miss each other's articles (which
would split a story) or both link the same article (the second sees it already indexed and
skips it). Signatures are computed before the lock, so the locked part is only index lookups and
inserts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from pipeline.dates import as_utc
from pipeline.dedupe.cluster import Link, Member, assign_story, split_stories
from pipeline.dedupe.features import DedupeConfig, Features
from pipeline.dedupe.minhash import (
    Signature,
    band_hashes,
    containment,
    from_bytes,
    jaccard,
    to_bytes,
)
from pipeline.warehouse.engine import write_lock
from pipeline.warehouse.schema import article
from pipeline.warehouse.schema_dedupe import (
    article_dedupe,
    article_signature,
    dedupe_link,
    lsh_band,
    story,
)
from pipeline.warehouse.upsert import upsert

log = logging.getLogger(__name__)

# Advisory lock key: "dedupe" as a number, so it cannot collide with another stage's key by luck.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ADVISORY_LOCK_KEY = int.from_bytes(b"mm:dedup", "big") & 0x7FFFFFFFFFFFFFFF
# lsh_band.key = band hash XOR (band number << BAND_SHIFT); the migration that introduced the key
# (20261130_0007) repeats this constant.
BAND_SHIFT = 56
_MASK64 = (1 << 64) - 1
# Values per IN list on SQLite (its limit on bound variables is 32766 since 3.32).
_SQLITE_CHUNK = 5000


@dataclass(frozen=True)
class BatchResult:
    """What one batch did."""

    processed: list[str]
    skipped: int
    links: int
    stories_touched: int


def lock(conn: Connection) -> None:
    """Take the dedupe write lock for the rest of this transaction (must be its first statement)."""
    write_lock(conn, ADVISORY_LOCK_KEY)


def _member(row: Any) -> Member:
    return Member(
        article_id=row.article_id,
        source_id=row.source_id,
        seen_at=as_utc(row.seen_at),
        content_hash=row.content_hash,
        title_hash=row.title_hash,
        agency=row.agency,
    )


def band_key(band: int, value: int) -> int:
    """The ``lsh_band.key`` of band number ``band`` whose rows hash to ``value``.

    The band number is XORed into the top byte, so (band, hash) fits one signed bigint and equal
    keys mean the same band with the same hash (up to 64-bit collisions, which verification
    catches). Bands must be numbered below 256.
    """
    raw = (value ^ (band << BAND_SHIFT)) & _MASK64
    return raw - (1 << 64) if raw >= (1 << 63) else raw


def day_number(when: datetime) -> int:
    """Whole days since 1970-01-01 UTC: the time bucket of story bands."""
    return (as_utc(when) - EPOCH).days


@dataclass(frozen=True)
class _Known:
    """An indexed article as verification needs it."""

    member: Member
    signature: Signature
    shingle_count: int


def _known(row: Any) -> _Known:
    return _Known(_member(row), from_bytes(row.signature), row.shingle_count)


@dataclass(frozen=True)
class _Probe:
    """One batch article with its lsh_band keys."""

    f: Features
    day: int
    near: list[int]
    story: list[int]

    @classmethod
    def of(cls, f: Features) -> _Probe:
        return cls(f, day_number(f.member.seen_at), *band_keys(f.near_bands, f.story_bands))


def band_keys(near: Sequence[int], story: Sequence[int]) -> tuple[list[int], list[int]]:
    """The lsh_band keys of an article's near and story band hashes (the story bands are
    numbered after the near ones)."""
    n = len(near)
    return (
        [band_key(i, h) for i, h in enumerate(near)],
        [band_key(n + i, h) for i, h in enumerate(story)],
    )


def _in(conn: Connection, column: sa.ColumnElement[Any], values: list[Any]) -> Any:
    """``column IN values``: one array parameter on PostgreSQL (one plan whatever the count)."""
    if conn.dialect.name == "postgresql":
        array = sa.bindparam(
            f"{column.key}_values", value=values, type_=postgresql.ARRAY(column.type), unique=True
        )
        return column == sa.any_(array)
    return column.in_(values)


def _select_in(
    conn: Connection, query: sa.Select[Any], column: sa.ColumnElement[Any], values: list[Any]
) -> list[Any]:
    """Rows of ``query`` where ``column`` is one of ``values`` (chunked under SQLite's limit)."""
    if not values:
        return []
    step = len(values) if conn.dialect.name == "postgresql" else _SQLITE_CHUNK
    rows: list[Any] = []
    for i in range(0, len(values), step):
        rows.extend(conn.execute(query.where(_in(conn, column, values[i : i + step]))))
    return rows


class _Candidates:
    """Candidates for one batch: what indexing its articles one by one would have found.

    Stored articles are looked up once for the whole batch (one statement for the band hits, one
    for their signatures and the exact/title layers); earlier articles of the same batch are
    matched in memory by the same rules, as if each had been indexed before the next was asked.
    """

    def __init__(self, conn: Connection, probes: list[_Probe], cfg: DedupeConfig) -> None:
        self.cfg = cfg
        self.days = cfg.story_window.days + 1
        near_keys = sorted({k for p in probes for k in p.near})
        story_keys = sorted({k for p in probes for k in p.story})
        cols = sa.select(lsh_band.c.key, lsh_band.c.day, lsh_band.c.article_key)
        self.near_hits: dict[int, list[int]] = defaultdict(list)
        for r in _select_in(conn, cols, lsh_band.c.key, near_keys):
            self.near_hits[r.key].append(r.article_key)
        self.story_hits: dict[int, list[tuple[int, int]]] = defaultdict(list)
        if probes:
            lo = min(p.day for p in probes) - self.days
            hi = max(p.day for p in probes) + self.days
            story_query = cols.where(lsh_band.c.day.between(lo, hi))
            for r in _select_in(conn, story_query, lsh_band.c.key, story_keys):
                self.story_hits[r.key].append((r.day, r.article_key))
        band_keys = sorted(
            {k for ks in self.near_hits.values() for k in ks}
            | {k for hits in self.story_hits.values() for _, k in hits}
        )
        sigs = sa.select(article_signature)
        hashes = sorted({p.f.member.content_hash for p in probes})
        titles = sorted({t for p in probes if (t := p.f.member.title_hash) is not None})
        rows = {
            r.article_id: r
            for column, values in (
                (article_signature.c.band_key, band_keys),
                (article_signature.c.content_hash, hashes),
                (article_signature.c.title_hash, titles),
            )
            for r in _select_in(conn, sigs, column, values)
        }
        known = {r.article_id: _known(r) for r in rows.values()}
        self.by_key = {r.band_key: known[r.article_id] for r in rows.values()}
        self.by_hash: dict[str, list[_Known]] = defaultdict(list)
        self.by_title: dict[tuple[int, str], list[_Known]] = defaultdict(list)
        for k in known.values():
            self._add(k)
        # Earlier articles of this batch, by band key (stored ones come from the hits above).
        self.batch_near: dict[int, list[_Known]] = defaultdict(list)
        self.batch_story: dict[int, list[tuple[int, _Known]]] = defaultdict(list)

    def _add(self, k: _Known) -> None:
        self.by_hash[k.member.content_hash].append(k)
        if k.member.title_hash is not None:
            self.by_title[(k.member.source_id, k.member.title_hash)].append(k)

    def find(self, p: _Probe) -> list[_Known]:
        """Candidates of ``p`` among stored and earlier batch articles, ordered by article id."""
        m, days = p.f.member, self.days
        found: dict[str, _Known] = {}
        for key in p.near:
            for article_key in self.near_hits.get(key, ()):
                if (k := self.by_key.get(article_key)) is not None:
                    found[k.member.article_id] = k
            for k in self.batch_near.get(key, ()):
                found[k.member.article_id] = k
        for key in p.story:
            for day, article_key in self.story_hits.get(key, ()):
                if abs(day - p.day) <= days and (k := self.by_key.get(article_key)) is not None:
                    found[k.member.article_id] = k
            for day, k in self.batch_story.get(key, ()):
                if abs(day - p.day) <= days:
                    found[k.member.article_id] = k
        for k in self.by_hash.get(m.content_hash, ()):
            found[k.member.article_id] = k
        if m.title_hash is not None:
            for k in self.by_title.get((m.source_id, m.title_hash), ()):
                if abs(k.member.seen_at - m.seen_at) <= self.cfg.title_window:
                    found[k.member.article_id] = k
        found.pop(m.article_id, None)
        return [found[i] for i in sorted(found)]

    def indexed(self, p: _Probe) -> None:
        """``p`` is now in the index: later articles of the batch can find it."""
        k = _Known(p.f.member, p.f.signature, p.f.shingle_count)
        for key in p.near:
            self.batch_near[key].append(k)
        for key in p.story:
            self.batch_story[key].append((p.day, k))
        self._add(k)


def _verify(f: Features, other: _Known, cfg: DedupeConfig) -> Link | None:
    m, o = f.member, other.member
    if not f.shingle_count or not other.shingle_count:
        # An empty text's hash and signature equal every other empty one's: no evidence.
        return None
    sim = jaccard(f.signature, other.signature)
    gap = abs(m.seen_at - o.seen_at)
    if m.content_hash == o.content_hash:
        kind, sim = "exact", 1.0
    elif (
        m.title_hash is not None
        and m.source_id == o.source_id
        and m.title_hash == o.title_hash
        and gap <= cfg.title_window
        and sim >= cfg.title_min_similarity
    ):
        kind = "title"
    elif sim >= cfg.near_threshold:
        kind = "near"
    elif sim >= cfg.story_threshold and gap <= cfg.story_window:
        kind = "story"
    else:
        return None
    mine = containment(sim, f.shingle_count, other.shingle_count)
    theirs = containment(sim, other.shingle_count, f.shingle_count)
    if m.article_id < o.article_id:
        return Link(m.article_id, o.article_id, kind, sim, mine, theirs)
    return Link(o.article_id, m.article_id, kind, sim, theirs, mine)


def band_rows(probe_keys: Sequence[tuple[Features, int]]) -> list[tuple[int, int, int, int]]:
    """The lsh_band rows (key, day, article_key, band) of articles with their band keys."""
    rows: list[tuple[int, int, int, int]] = []
    for f, article_key in probe_keys:
        day = day_number(f.member.seen_at)
        rows.extend(_article_band_rows(day, article_key, f.near_bands, f.story_bands))
    return rows


def _article_band_rows(
    day: int, article_key: int, near: Sequence[int], story: Sequence[int]
) -> list[tuple[int, int, int, int]]:
    """One article's lsh_band rows from its near and story band hashes."""
    near_keys, story_keys = band_keys(near, story)
    return [(key, day, article_key, band) for band, key in enumerate(near_keys + story_keys)]


def _write_bands(conn: Connection, rows: list[tuple[int, int, int, int]]) -> None:
    """Insert lsh_band rows (key, day, article_key, band): one binary COPY on PostgreSQL."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        # One COPY instead of ~127 row inserts per article; same transaction (same connection).
        driver = conn.connection.driver_connection
        with (
            driver.cursor() as cur,  # type: ignore[union-attr]
            cur.copy(
                "copy lsh_band (key, day, article_key, band) from stdin (format binary)"
            ) as copy,
        ):
            copy.set_types(["int8", "int4", "int8", "int2"])
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(
            sa.insert(lsh_band),
            [{"key": k, "day": d, "article_key": a, "band": b} for k, d, a, b in rows],
        )


def signature_row(f: Features, band_key: int, now: datetime) -> dict[str, Any]:
    """The article_signature row of ``f``."""
    m = f.member
    return {
        "article_id": m.article_id,
        "band_key": band_key,
        "source_id": m.source_id,
        "seen_at": m.seen_at,
        "content_hash": m.content_hash,
        "title_hash": m.title_hash,
        "shingle_count": f.shingle_count,
        "signature": to_bytes(f.signature),
        "agency": m.agency,
        "created_at": now,
    }


def _index(conn: Connection, todo: list[Features], now: datetime) -> None:
    """Write the batch's signatures and band rows (COPY on PostgreSQL)."""
    if not todo:
        return
    first = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(article_signature.c.band_key), 0))
    ).scalar_one()
    keys = list(range(first + 1, first + 1 + len(todo)))
    conn.execute(
        sa.insert(article_signature),
        [signature_row(f, k, now) for f, k in zip(todo, keys, strict=True)],
    )
    # In key order: consecutive rows then often land on the same index page.
    _write_bands(conn, sorted(band_rows(list(zip(todo, keys, strict=True)))))


def dedupe_batch(
    conn: Connection, batch: Sequence[Features], cfg: DedupeConfig, *, now: datetime
) -> BatchResult:
    """Index, link and assign a batch inside the caller's transaction (takes the lock first).

    The result is what indexing the batch's articles one by one, in publication order, would
    give: each article is compared with every stored article and with the batch articles before
    it. Lookups and writes are done once per batch, not per article.
    """
    lock(conn)
    if conn.dialect.name == "postgresql":
        # The band lookups probe a few thousand keys of an index that stays cached. With the
        # default random_page_cost (4, a spinning disk) the planner scanned the whole band table
        # in parallel instead while it was small (10k articles: 58 ms a batch vs 17 ms).
        conn.execute(sa.text("set local random_page_cost = 1.1"))
    ids = [f.member.article_id for f in batch]
    # Under the lock, the status says what is left: a concurrent worker that got here first has
    # already moved its articles on, in the same transaction as its results.
    pending = set(
        conn.execute(
            sa.select(article.c.id).where(article.c.id.in_(ids), article.c.status == "extracted")
        ).scalars()
    )
    todo = sorted(
        (f for f in batch if f.member.article_id in pending), key=lambda f: f.member.order
    )
    # Articles sent back to ``extracted`` (re-extraction changed their text) leave the index
    # first; the stories they were in are recomputed below without their old links.
    old_stories = _forget(conn, [f.member.article_id for f in todo], cfg)
    probes = [_Probe.of(f) for f in todo]
    candidates = _Candidates(conn, probes, cfg)
    links: list[Link] = []
    for p in probes:
        links.extend(link for k in candidates.find(p) if (link := _verify(p.f, k, cfg)))
        candidates.indexed(p)
    _index(conn, todo, now)
    if links:
        conn.execute(
            sa.insert(dedupe_link),
            [
                {
                    "article_id": link.a,
                    "other_id": link.b,
                    "kind": link.kind,
                    "similarity": link.similarity,
                    "overlap_article": link.overlap_a,
                    "overlap_other": link.overlap_b,
                    "created_at": now,
                }
                for link in links
            ],
        )
    touched = _reassign(
        conn, [f.member.article_id for f in todo], cfg, now=now, old_stories=old_stories
    )
    return BatchResult(
        processed=[f.member.article_id for f in todo],
        skipped=len(batch) - len(todo),
        links=len(links),
        stories_touched=touched,
    )


def _forget(conn: Connection, ids: list[str], cfg: DedupeConfig) -> set[str]:
    """Remove what dedupe stored for ``ids``; return the stories they belonged to."""
    known = conn.execute(
        sa.select(
            article_signature.c.article_id,
            article_signature.c.band_key,
            article_signature.c.seen_at,
        ).where(article_signature.c.article_id.in_(ids))
    ).all()
    if not known:
        return set()
    known_ids = [r.article_id for r in known]
    stories = set(
        conn.execute(
            sa.select(article_dedupe.c.story_id).where(article_dedupe.c.article_id.in_(known_ids))
        ).scalars()
    )
    # Through the (band, day, article_key) index: one exact range per band.
    all_bands = _in(conn, lsh_band.c.band, list(range(cfg.bands_per_article)))
    for r in known:
        conn.execute(
            sa.delete(lsh_band).where(
                all_bands,
                lsh_band.c.day == day_number(r.seen_at),
                lsh_band.c.article_key == r.band_key,
            )
        )
    conn.execute(
        sa.delete(dedupe_link).where(
            sa.or_(dedupe_link.c.article_id.in_(known_ids), dedupe_link.c.other_id.in_(known_ids))
        )
    )
    conn.execute(sa.delete(article_dedupe).where(article_dedupe.c.article_id.in_(known_ids)))
    conn.execute(sa.delete(article_signature).where(article_signature.c.article_id.in_(known_ids)))
    return stories


TitleKey = tuple[int, str]


def _is_generic(signatures: list[Signature], cfg: DedupeConfig) -> bool:
    """Whether these articles under one headline hold ``cfg.generic_title_articles`` mutually
    unrelated ones (greedily, in the order given)."""
    if len(signatures) < cfg.generic_title_articles:
        return False
    unrelated: list[Signature] = []
    for sig in signatures:
        if all(jaccard(sig, u) < cfg.story_threshold for u in unrelated):
            unrelated.append(sig)
            if len(unrelated) >= cfg.generic_title_articles:
                return True
    return False


def _generic_titles(
    conn: Connection, keys: set[TitleKey], cfg: DedupeConfig, *, new: Collection[str] = ()
) -> tuple[set[TitleKey], list[str]]:
    """The (outlet, title hash) keys among ``keys`` that are generic, and the articles under
    every key whose answer the ``new`` articles changed.

    Generic: the outlet has put the headline on ``cfg.generic_title_articles`` stored articles no
    two of which are as similar as two reports of one event (``cfg.story_threshold``). Counted
    in article id order, so the answer is a function of what is stored, whatever order it
    arrived in; when new articles change it, every story under the headline is recomputed.
    """
    if not keys:
        return set(), []
    query = sa.select(
        article_signature.c.article_id,
        article_signature.c.source_id,
        article_signature.c.title_hash,
        article_signature.c.signature,
    ).where(_in(conn, article_signature.c.source_id, sorted({k[0] for k in keys})))
    grouped: dict[TitleKey, list[Any]] = defaultdict(list)
    for r in _select_in(conn, query, article_signature.c.title_hash, sorted({k[1] for k in keys})):
        if (r.source_id, r.title_hash) in keys:
            grouped[(r.source_id, r.title_hash)].append(r)
    generic: set[TitleKey] = set()
    changed: list[str] = []
    for key, rows in grouped.items():
        rows.sort(key=lambda r: r.article_id)
        sigs = [from_bytes(r.signature) for r in rows]
        now = _is_generic(sigs, cfg)
        if now:
            generic.add(key)
        if new:
            before = _is_generic(
                [s for r, s in zip(rows, sigs, strict=True) if r.article_id not in new], cfg
            )
            if before != now:
                changed.extend(r.article_id for r in rows)
    return generic, changed


def _without_generic_titles(
    links: list[Link], members: dict[str, Member], generic: set[TitleKey], cfg: DedupeConfig
) -> list[Link]:
    """``links`` with title links under a generic headline judged by their text alone."""
    out = []
    for link in links:
        a = members[link.a]
        if (
            link.kind != "title"
            or a.title_hash is None
            or (a.source_id, a.title_hash) not in generic
        ):
            out.append(link)
            continue
        gap = abs(a.seen_at - members[link.b].seen_at)
        if link.similarity >= cfg.near_threshold:
            out.append(replace(link, kind="near"))
        elif link.similarity >= cfg.story_threshold and gap <= cfg.story_window:
            out.append(replace(link, kind="story"))
    return out


def _linked_closure(
    conn: Connection, seeds: set[str], stories: set[str]
) -> tuple[set[str], list[Link], set[str]]:
    """Every article reachable from ``seeds`` (and the members of ``stories``) through links or
    shared stories, the links among them and the stories they are in now.

    Stories are a function of a whole linked set (see ``split_stories``), so a batch recomputes
    the sets it touches entirely: the result is then the same whatever order articles came in.
    """
    nodes: set[str] = set()
    known_stories: set[str] = set()
    links: dict[tuple[str, str], Link] = {}
    frontier, new_stories = set(seeds), set(stories)
    while frontier or new_stories:
        nodes |= frontier
        new_stories |= {
            r.story_id
            for r in _select_in(
                conn,
                sa.select(article_dedupe.c.story_id),
                article_dedupe.c.article_id,
                sorted(frontier),
            )
        }
        new_stories -= known_stories
        known_stories |= new_stories
        mates = {
            r.article_id
            for r in _select_in(
                conn,
                sa.select(article_dedupe.c.article_id),
                article_dedupe.c.story_id,
                sorted(new_stories),
            )
        } - nodes
        nodes |= mates
        ask = sorted(frontier | mates)
        reached: set[str] = set()
        for column in (dedupe_link.c.article_id, dedupe_link.c.other_id):
            for r in _select_in(conn, sa.select(dedupe_link), column, ask):
                links[(r.article_id, r.other_id)] = Link(
                    r.article_id,
                    r.other_id,
                    r.kind,
                    r.similarity,
                    r.overlap_article,
                    r.overlap_other,
                )
                reached |= {r.article_id, r.other_id}
        frontier, new_stories = reached - nodes, set()
    return nodes, [links[k] for k in sorted(links)], known_stories


def _reassign(
    conn: Connection,
    new_ids: list[str],
    cfg: DedupeConfig,
    *,
    now: datetime,
    old_stories: set[str],
) -> int:
    """Recompute every story the batch touched, from all its members and links."""
    if not new_ids:
        return 0
    new_keys = {
        (r.source_id, r.title_hash)
        for r in _select_in(
            conn,
            sa.select(article_signature.c.source_id, article_signature.c.title_hash),
            article_signature.c.article_id,
            new_ids,
        )
        if r.title_hash is not None
    }
    # A headline that has just become generic (or stopped being so) changes the stories of every
    # article under it.
    generic, changed = _generic_titles(conn, new_keys, cfg, new=set(new_ids))
    seeds = set(new_ids) | set(changed)
    nodes, all_links, old_stories = _linked_closure(conn, seeds, old_stories)
    ordered = sorted(nodes)
    members = {
        row.article_id: _member(row)
        for row in _select_in(
            conn, sa.select(article_signature), article_signature.c.article_id, ordered
        )
    }
    title_keys = {
        (m.source_id, m.title_hash)
        for link in all_links
        if link.kind == "title" and (m := members[link.a]).title_hash is not None
    }
    generic_keys = generic | _generic_titles(conn, title_keys - new_keys, cfg)[0]
    links = _without_generic_titles(all_links, members, generic_keys, cfg)
    published = {
        r.id
        for r in _select_in(
            conn,
            sa.select(article.c.id).where(article.c.status == "published"),
            article.c.id,
            ordered,
        )
    }
    th = cfg.thresholds
    story_rows, assignments = [], []
    for group in split_stories(members.values(), links):
        row, assigned = assign_story([members[i] for i in group], links, th, published=published)
        story_rows.append(row)
        assignments.extend(assigned)
    new_story_ids = {r.id for r in story_rows}
    stale = sorted(old_stories - new_story_ids)
    if stale:
        conn.execute(sa.delete(story).where(story.c.id.in_(stale)))
    upsert(
        conn,
        story,
        [
            {
                "id": r.id,
                "first_article_id": r.first_article_id,
                "first_seen_at": r.first_seen_at,
                "first_source_id": r.first_source_id,
                "article_count": r.article_count,
                "outlet_count": r.outlet_count,
                "last_seen_at": r.last_seen_at,
                "updated_at": now,
            }
            for r in story_rows
        ],
        key=["id"],
        update=[
            "first_article_id",
            "first_seen_at",
            "first_source_id",
            "article_count",
            "outlet_count",
            "last_seen_at",
            "updated_at",
        ],
    )
    cols = [
        "story_id",
        "duplicate_of",
        "duplicate_kind",
        "label",
        "copied_from",
        "overlap",
        "similarity",
        "agency",
    ]
    # deduped_at is not in the update list: it records when the article was first deduped.
    upsert(
        conn,
        article_dedupe,
        [
            {
                "article_id": a.article_id,
                "story_id": a.story_id,
                "duplicate_of": a.duplicate_of,
                "duplicate_kind": a.duplicate_kind,
                "label": a.label,
                "copied_from": a.copied_from,
                "overlap": a.overlap,
                "similarity": a.similarity,
                "agency": a.agency,
                "deduped_at": now,
            }
            for a in assignments
        ],
        key=["article_id"],
        update=cols,
    )
    return len(story_rows)


def prune_cutoffs(cfg: DedupeConfig, now: datetime) -> tuple[int, int]:
    """(first day whose bands are kept, first day whose story bands are kept) at ``now``."""
    return day_number(now - cfg.retention), day_number(now - cfg.story_band_keep)


def restore_bands(conn: Connection, cfg: DedupeConfig, *, now: datetime, chunk: int = 2000) -> int:
    """Rebuild lsh_band from article_signature if it was emptied; return the rows written.

    On PostgreSQL lsh_band is UNLOGGED (migration 20261130_0009): its writes skip the WAL, whose
    full-page images made band writes and lookups markedly slower at a million stored articles,
    and crash recovery empties it. It is derived data, every row following from an
    article_signature row (the signature gives the band hashes) and the prune rule, so the
    first dedupe run after a recovery rebuilds it, in the caller's transaction (take the dedupe
    lock first), with exactly the rows ``prune_bands`` at ``now`` would have kept. An index
    that is not empty is left alone, and so is one with nothing to restore (every signature
    past retention).
    """
    if conn.execute(sa.select(lsh_band.c.key).limit(1)).first() is not None:
        return 0
    keep_day, keep_story_day = prune_cutoffs(cfg, now)
    since = EPOCH + timedelta(days=keep_day)
    cols = sa.select(
        article_signature.c.band_key, article_signature.c.seen_at, article_signature.c.signature
    ).where(article_signature.c.seen_at >= since)
    written, after = 0, None
    while True:
        query = cols.order_by(article_signature.c.band_key).limit(chunk)
        if after is not None:
            query = query.where(article_signature.c.band_key > after)
        page = conn.execute(query).all()
        if not page:
            break
        rows: list[tuple[int, int, int, int]] = []
        for r in page:
            day = day_number(r.seen_at)
            if day < keep_day:
                continue  # the query's bound is that day's midnight: a stored naive time
            sig = from_bytes(r.signature)
            story = band_hashes(sig, cfg.story_lsh) if day >= keep_story_day else []
            rows.extend(_article_band_rows(day, r.band_key, band_hashes(sig, cfg.lsh), story))
        _write_bands(conn, sorted(rows))
        written += len(rows)
        after = page[-1].band_key
    if written:
        log.warning("lsh_band was empty (crash recovery?): rebuilt %d rows", written)
    return written


def prune_bands(conn: Connection, cfg: DedupeConfig, *, now: datetime) -> int:
    """Delete band rows no search can need any more; return how many.

    All bands of articles seen before the retention window's first day, and the story bands of
    articles seen before the story-band window's first day (story bands are only searched within
    the story window of a new article, and are two thirds of the rows). Day granularity: an
    article is kept until the end of the day it crosses the cutoff.
    """
    keep_day, keep_story_day = prune_cutoffs(cfg, now)
    if conn.dialect.name == "postgresql":
        # The planner sees "story band" (2/3 of rows) and "day before the cutoff" (most days) as
        # independent and expects millions of rows, so it scans the whole table (~3 s at 1M
        # articles) on every run; in fact earlier runs already pruned nearly all of them, and the
        # index finds the few left in a millisecond.
        conn.execute(sa.text("set local enable_seqscan = off"))
    # Band by band through the (band, day, article_key) index, so each delete reads only the
    # rows it removes, however large the index.
    every_band = _in(conn, lsh_band.c.band, list(range(cfg.bands_per_article)))
    story_bands = _in(conn, lsh_band.c.band, list(range(cfg.lsh.bands, cfg.bands_per_article)))
    old = conn.execute(sa.delete(lsh_band).where(every_band, lsh_band.c.day < keep_day))
    story_rows = conn.execute(
        sa.delete(lsh_band).where(story_bands, lsh_band.c.day < keep_story_day)
    )
    return (old.rowcount or 0) + (story_rows.rowcount or 0)


def refresh_story_counts(conn: Connection, article_ids: Sequence[str]) -> int:
    """Recount ``story.article_count`` and ``outlet_count`` of the stories of ``article_ids``.

    A story's size is its published articles (the one definition, shared with v_story_spread):
    dedupe writes it from the statuses it sees, and whatever publishes articles calls this in
    the same transaction, so the stored counts and the view agree. Returns the stories updated.
    """
    if not article_ids:
        return 0
    stories = sorted(
        {
            r.story_id
            for r in _select_in(
                conn,
                sa.select(article_dedupe.c.story_id),
                article_dedupe.c.article_id,
                list(article_ids),
            )
        }
    )
    members = (
        sa.select()
        .select_from(article_dedupe.join(article, article.c.id == article_dedupe.c.article_id))
        .where(article_dedupe.c.story_id == story.c.id, article.c.status == "published")
    )
    article_count = members.add_columns(sa.func.count()).scalar_subquery()
    outlet_count = members.add_columns(
        sa.func.count(sa.distinct(article.c.source_id))
    ).scalar_subquery()
    if not stories:  # articles that were never deduped (no story to count for)
        return 0
    updated = 0
    step = len(stories) if conn.dialect.name == "postgresql" else _SQLITE_CHUNK
    for i in range(0, len(stories), step):
        result = conn.execute(
            sa.update(story)
            .where(_in(conn, story.c.id, stories[i : i + step]))
            .values(article_count=article_count, outlet_count=outlet_count)
        )
        updated += result.rowcount or 0
    return updated
