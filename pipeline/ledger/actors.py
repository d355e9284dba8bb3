"""Canonical actors (issue 15): one row per person, organisation, outlet, anonymous group or
document, with the aliases it has been written as, so "Maria Zakharova", "Zakharova" and a "She"
resolved to her are one actor.

Within an article a surname alone is the full name mentioned there; across articles an alias
resolves only when it names exactly one actor (two people called Valk stay apart).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.nlp.speakers import speaker_kind
from pipeline.warehouse.schema_ledger import actor, actor_alias
from pipeline.warehouse.upsert import upsert

_POSSESSIVE = re.compile(r"['’]s?$")


def normalize(name: str) -> str:
    """Lower case, single spaces, no leading article, possessive or edge punctuation."""
    s = " ".join(name.replace("’", "'").split()).lower().strip(" ,.;:\"'“”‘")
    s = re.sub(r"^(?:the|a|an)\s+", "", s)
    return _POSSESSIVE.sub("", s)[:300]


def actor_kind(name: str, *, channel: bool = False, cited: bool = False) -> str:
    """person, organisation, outlet, anonymous or document, from the words of the name (the
    NLP stage's speaker kinds, plus outlets for channels)."""
    if channel:
        return "outlet"
    kind = speaker_kind(name)
    if kind is None:
        return "anonymous"
    if cited and kind in ("person", "anonymous"):
        return "organisation"  # "citing the Prosecutor General's Office"
    return kind


def article_aliases(people: Iterable[str]) -> dict[str, str]:
    """Within one article: a surname alone -> the full name it shortens ("Valk" -> "Irena
    Valk"), when exactly one full name in the article ends with it."""
    full = {" ".join(p.split()) for p in people if len(p.split()) >= 2}
    out: dict[str, str] = {}
    for name in {" ".join(p.split()) for p in people if len(p.split()) == 1}:
        matches = [f for f in full if f.split()[-1].lower() == name.lower()]
        if len(matches) == 1:
            out[name] = matches[0]
    return out


class ActorResolver:
    """Resolves names to actor ids inside one ledger transaction, creating actors as needed."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.cache: dict[tuple[str, str], int] = {}

    def _by_alias(self, alias: str) -> list[int]:
        return list(
            self.conn.execute(
                sa.select(actor_alias.c.actor_id).where(actor_alias.c.alias == alias)
            ).scalars()
        )

    def resolve(self, name: str | None, kind: str) -> int | None:
        """The actor id for ``name`` (None for no name)."""
        if not name:
            return None
        key = normalize(name)
        if not key:
            return None
        cached = self.cache.get((key, kind))
        if cached is not None:
            return cached
        ids = self._by_alias(key)
        if len(ids) == 1:
            self.cache[(key, kind)] = ids[0]
            return ids[0]
        if len(ids) > 1:
            # An ambiguous alias: the actor whose own key it is, if any.
            own = self.conn.execute(sa.select(actor.c.id).where(actor.c.key == key)).scalar()
            if own is not None:
                self.cache[(key, kind)] = int(own)
                return int(own)
        upsert(
            self.conn,
            actor,
            [
                {
                    "key": key,
                    "name": " ".join(name.split())[:300],
                    "kind": kind,
                    "created_at": self.now,
                }
            ],
            key=["key"],
        )
        actor_id = int(
            self.conn.execute(sa.select(actor.c.id).where(actor.c.key == key)).scalar_one()
        )
        aliases = [key]
        if kind == "person" and len(key.split()) >= 2:
            aliases.append(key.split()[-1])
        upsert(
            self.conn,
            actor_alias,
            [{"alias": a, "actor_id": actor_id} for a in aliases],
            key=["alias", "actor_id"],
        )
        self.cache[(key, kind)] = actor_id
        return actor_id


__all__ = ["ActorResolver", "actor_kind", "article_aliases", "normalize"]
