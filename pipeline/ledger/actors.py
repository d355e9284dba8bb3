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
from pipeline.warehouse.upsert import chunks, upsert

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
    """Resolves names to actor ids inside one ledger transaction, creating actors as needed.

    :meth:`prefetch` loads what a batch's names need in a few statements instead of one lookup
    per name; the resolver then keeps its copy of those rows in step with the actors it creates,
    so every answer is the one a lookup in the warehouse would give at that moment.
    """

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.cache: dict[tuple[str, str], int] = {}
        # Mirrors of actor_alias (alias -> actor ids) and actor (key -> id) for the names looked
        # up so far, complete for every name present (None: no actor has that key).
        self._aliases: dict[str, list[int]] = {}
        self._keys: dict[str, int | None] = {}

    def prefetch(self, names: Iterable[str | None]) -> None:
        """Load the alias and actor rows that resolving ``names`` will look up."""
        keys = sorted({normalize(n) for n in names if n} - {""} - self._aliases.keys())
        for chunk in chunks(keys):
            found: dict[str, list[int]] = {k: [] for k in chunk}
            for alias, actor_id in self.conn.execute(
                sa.select(actor_alias.c.alias, actor_alias.c.actor_id).where(
                    actor_alias.c.alias.in_(chunk)
                )
            ):
                found[alias].append(actor_id)
            self._aliases.update(found)
            own: dict[str, int | None] = dict.fromkeys(chunk)
            for key, actor_id in self.conn.execute(
                sa.select(actor.c.key, actor.c.id).where(actor.c.key.in_(chunk))
            ):
                own[key] = actor_id
            self._keys.update(own)

    def _by_alias(self, alias: str) -> list[int]:
        ids = self._aliases.get(alias)
        if ids is None:
            ids = list(
                self.conn.execute(
                    sa.select(actor_alias.c.actor_id).where(actor_alias.c.alias == alias)
                ).scalars()
            )
            self._aliases[alias] = ids
        return ids

    def _own(self, key: str) -> int | None:
        if key not in self._keys:
            own = self.conn.execute(sa.select(actor.c.id).where(actor.c.key == key)).scalar()
            self._keys[key] = None if own is None else int(own)
        return self._keys[key]

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
            own = self._own(key)
            if own is not None:
                self.cache[(key, kind)] = own
                return own
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
        self._keys[key] = actor_id
        aliases = [key]
        if kind == "person" and len(key.split()) >= 2:
            aliases.append(key.split()[-1])
        upsert(
            self.conn,
            actor_alias,
            [{"alias": a, "actor_id": actor_id} for a in aliases],
            key=["alias", "actor_id"],
        )
        for a in aliases:
            # An alias not loaded yet is read from the warehouse when first needed, new row and all.
            known = self._aliases.get(a)
            if known is not None and actor_id not in known:
                known.append(actor_id)
        self.cache[(key, kind)] = actor_id
        return actor_id


__all__ = ["ActorResolver", "actor_kind", "article_aliases", "normalize"]
