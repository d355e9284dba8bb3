"""Story assignment from verified links: a pure function of the story's members and links.

Because the result depends only on the set of members and links (never on arrival order), any
batch order and any number of workers give the same duplicate_of, labels and story rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

# Links that may merge two stories: the same text (exact), most of it (near), or a same-outlet
# re-publication under a specific headline with content support (title). A "story" link (same
# event, some shared wording) is weak: it lets an article join a story, never merge two.
STRONG_KINDS = frozenset({"exact", "near", "title"})


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


def split_stories(members: Iterable[Member], links: Iterable[Link]) -> list[list[str]]:
    """Stories of a set of linked articles, each sorted, sorted by first id.

    Articles are taken in canonical order (first seen, then id), so the result depends only on
    the members and links, never on arrival order. Each article looks at its links to earlier
    ones: strong links put it in the story of those articles, merging their stories if there are
    several (strong evidence that they are one); with weak links only, it joins the one story it
    matches best (highest similarity, then the earlier article) and merges nothing. So a chain of
    weak links (A-B, B-C with A and C unrelated) never fuses two stories formed on their own.
    """
    ordered = sorted(members, key=lambda m: m.order)
    rank = {m.article_id: i for i, m in enumerate(ordered)}
    earlier: dict[str, list[tuple[str, Link]]] = {m.article_id: [] for m in ordered}
    for link in links:
        if link.a in rank and link.b in rank and link.a != link.b:
            first, later = sorted((link.a, link.b), key=rank.__getitem__)
            earlier[later].append((first, link))
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m in ordered:
        mine = earlier[m.article_id]
        strong = {find(e) for e, link in mine if link.kind in STRONG_KINDS}
        if strong:
            # The story founded first absorbs the others: its founder stays the story id.
            root = min(strong, key=rank.__getitem__)
            for r in strong:
                parent[r] = root
            parent[m.article_id] = root
        elif mine:
            best, _ = max(mine, key=lambda el: (el[1].similarity, -rank[el[0]]))
            parent[m.article_id] = find(best)
        else:
            parent[m.article_id] = m.article_id
    groups: dict[str, list[str]] = {}
    for m in ordered:
        groups.setdefault(find(m.article_id), []).append(m.article_id)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def _duplicate(
    member: Member, earlier: list[Member], links: Mapping[str, Link], th: Thresholds
) -> tuple[str | None, str | None, float | None]:
    for e in earlier:
        if e.content_hash == member.content_hash:
            return e.article_id, "exact", 1.0
    for e in earlier:
        # Only through a title link: it carries the content support and the generic-title check
        # (index._reassign drops the link when the headline recurs on unrelated articles).
        link = links.get(e.article_id)
        if link is not None and link.kind == "title":
            return e.article_id, "title", link.similarity
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
    members: list[Member], links: list[Link], th: Thresholds, *, published: Collection[str]
) -> tuple[StoryRow, list[Assignment]]:
    """Story row and per-article assignment for the members of one story.

    The story's size (``article_count``, ``outlet_count``) counts its ``published`` members only:
    what analysts see in v_story_spread, which counts the same way.
    """
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
        article_count=sum(m.article_id in published for m in ordered),
        outlet_count=len({m.source_id for m in ordered if m.article_id in published}),
        last_seen_at=max(m.seen_at for m in ordered),
    )
    return row, out
