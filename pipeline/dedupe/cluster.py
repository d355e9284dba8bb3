"""Story assignment from verified links: a pure function of the story's members and links.

Because the result depends only on the set of members and links (never on arrival order), any
batch order and any number of workers give the same duplicate_of, labels and story rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Member:
    """What story assignment needs to know about one article."""

    article_id: str
    source_id: int
    seen_at: datetime
    content_hash: str
    title_hash: str | None
    agency: str | None

    @property
    def order(self) -> tuple[datetime, str]:
        """Canonical order: first seen, then id (a total order, so ties cannot flip)."""
        return (self.seen_at, self.article_id)


@dataclass(frozen=True)
class Link:
    """A verified link between two articles; overlaps are each side's share found in the other."""

    a: str
    b: str
    kind: str
    similarity: float
    overlap_a: float
    overlap_b: float

    def overlap_of(self, article_id: str) -> float:
        """Share of ``article_id``'s shingles found in the other article of the link."""
        return self.overlap_a if article_id == self.a else self.overlap_b

    def other(self, article_id: str) -> str:
        """The other end of the link."""
        return self.b if article_id == self.a else self.a


@dataclass(frozen=True)
class Thresholds:
    """The settings story assignment uses."""

    near: float
    wire_overlap: float
    rewrite_overlap: float
    title_window: timedelta


@dataclass(frozen=True)
class Assignment:
    """One article's place in its story."""

    article_id: str
    story_id: str
    duplicate_of: str | None
    duplicate_kind: str | None
    label: str
    copied_from: str | None
    overlap: float | None
    similarity: float | None
    agency: str | None


@dataclass(frozen=True)
class StoryRow:
    """The story table row of one component."""

    id: str
    first_article_id: str
    first_seen_at: datetime
    first_source_id: int
    article_count: int
    outlet_count: int
    last_seen_at: datetime


def components(nodes: Iterable[str], links: Iterable[Link]) -> list[list[str]]:
    """Connected components (union-find, smallest id as root), each sorted, sorted by first id."""
    parent: dict[str, str] = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for link in links:
        if link.a not in parent or link.b not in parent:
            continue
        ra, rb = find(link.a), find(link.b)
        if ra != rb:
            # Deterministic union: the smaller id becomes the root, whatever the link order.
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for node in parent:
        groups.setdefault(find(node), []).append(node)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def _duplicate(
    member: Member, earlier: list[Member], links: Mapping[str, Link], th: Thresholds
) -> tuple[str | None, str | None, float | None]:
    for e in earlier:
        if e.content_hash == member.content_hash:
            return e.article_id, "exact", 1.0
    for e in earlier:
        if (
            member.title_hash is not None
            and e.source_id == member.source_id
            and e.title_hash == member.title_hash
            and member.seen_at - e.seen_at <= th.title_window
        ):
            link = links.get(e.article_id)
            return e.article_id, "title", link.similarity if link else None
    best: tuple[float, str] | None = None
    for e in earlier:
        link = links.get(e.article_id)
        if link and link.similarity >= th.near and (best is None or link.similarity > best[0]):
            best = (link.similarity, e.article_id)
    if best:
        return best[1], "near", best[0]
    return None, None, None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def assign_story(
    members: list[Member], links: list[Link], th: Thresholds
) -> tuple[StoryRow, list[Assignment]]:
    """Story row and per-article assignment for one connected component."""
    ordered = sorted(members, key=lambda m: m.order)
    first = ordered[0]
    by_article: dict[str, dict[str, Link]] = {m.article_id: {} for m in ordered}
    for link in links:
        if link.a in by_article and link.b in by_article:
            by_article[link.a][link.b] = link
            by_article[link.b][link.a] = link
    out = []
    for i, member in enumerate(ordered):
        earlier = ordered[:i]
        mine = by_article[member.article_id]
        dup, dup_kind, dup_sim = _duplicate(member, earlier, mine, th)
        # Where this article's text most likely came from: the earlier article, preferably of
        # another outlet, holding the largest share of it.
        source, overlap, sim = None, None, None
        candidates = [
            (e.source_id == member.source_id, -mine[e.article_id].overlap_of(member.article_id), e)
            for e in earlier
            if e.article_id in mine
        ]
        if candidates:
            _, neg_overlap, best = min(candidates, key=lambda c: (c[0], c[1], c[2].order))
            source, overlap = best.article_id, -neg_overlap
            sim = mine[best.article_id].similarity
        if i == 0:
            label = "wire_copy" if member.agency else "original"
        elif member.agency or (overlap is not None and overlap >= th.wire_overlap):
            label = "wire_copy"
        elif overlap is not None and overlap >= th.rewrite_overlap:
            label = "rewrite"
        else:
            label = "independent"
        out.append(
            Assignment(
                article_id=member.article_id,
                story_id=first.article_id,
                duplicate_of=dup,
                duplicate_kind=dup_kind,
                label=label,
                copied_from=source,
                overlap=_rounded(overlap),
                similarity=_rounded(dup_sim if dup_sim is not None else sim),
                agency=member.agency,
            )
        )
    row = StoryRow(
        id=first.article_id,
        first_article_id=first.article_id,
        first_seen_at=first.seen_at,
        first_source_id=first.source_id,
        article_count=len(ordered),
        outlet_count=len({m.source_id for m in ordered}),
        last_seen_at=max(m.seen_at for m in ordered),
    )
    return row, out
