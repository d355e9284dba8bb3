"""Dedupe a list of documents (pages or text files) through the same warehouse code path.

Used by ``mediamon dedupe PATH...`` and by the evaluation set: each document becomes an
``extracted`` article of its outlet, then ``run_dedupe`` handles it exactly as the pipeline would.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.dedupe.features import DedupeConfig
from pipeline.dedupe.stage import run_dedupe
from pipeline.warehouse.schema import article, feed, source
from pipeline.warehouse.schema_dedupe import article_dedupe
from pipeline.warehouse.upsert import upsert


@dataclass(frozen=True)
class Document:
    """One input: a key (path or URL) naming it, its outlet, title, text and publication time."""

    key: str
    outlet: str
    title: str | None
    text: str
    published_at: datetime


@dataclass(frozen=True)
class DocumentResult:
    """Where one document landed, with other documents named by their keys."""

    input: str
    story: str
    duplicate_of: str | None
    duplicate_kind: str | None
    label: str
    copied_from: str | None
    similarity: float | None
    overlap: float | None
    agency: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.__dict__)


def doc_id(key: str) -> str:
    """The article id a document gets: SHA-256 of its key, like an entry's canonical URL.

    Not ``url_key``: canonicalising would merge keys that differ only in a fragment or query.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _ensure_sources(conn: sa.Connection, outlets: set[str], now: datetime) -> dict[str, int]:
    upsert(
        conn,
        source,
        [{"name": o, "homepage": None, "language": None, "created_at": now} for o in outlets],
        key=["name"],
    )
    ids = dict(
        conn.execute(sa.select(source.c.name, source.c.id).where(source.c.name.in_(outlets)))
        .tuples()
        .all()
    )
    upsert(
        conn,
        feed,
        [
            {
                "source_id": sid,
                "url": f"mediamon-documents:{name}",
                "language": None,
                "tags": [],
                "interval_s": None,
                "enabled": False,
                "status": "disabled",
                "failures": 0.0,
                "created_at": now,
                "updated_at": now,
            }
            for name, sid in ids.items()
        ],
        key=["url"],
    )
    return ids


def store_documents(engine: Engine, docs: list[Document]) -> list[str]:
    """Insert ``docs`` as extracted articles (known ones are left as they are); return their ids."""
    from pipeline.extract import words_and_hash  # loads trafilatura: only when storing documents

    now = datetime.now(UTC)
    ids = [doc_id(d.key) for d in docs]
    with engine.begin() as conn:
        source_ids = _ensure_sources(conn, {d.outlet for d in docs}, now)
        feed_ids = dict(
            conn.execute(
                sa.select(feed.c.source_id, feed.c.id).where(
                    feed.c.url.in_([f"mediamon-documents:{o}" for o in source_ids])
                )
            )
            .tuples()
            .all()
        )
        rows = [
            {
                "id": aid,
                "url": d.key,
                "source_id": source_ids[d.outlet],
                "feed_id": feed_ids[source_ids[d.outlet]],
                "discovered_at": d.published_at,
                "discovered_run_id": "mediamon-documents",
                "status": "extracted",
                "attempts": 0,
                "title": d.title,
                "text": d.text,
                "published_at": d.published_at,
                "word_count": words,
                "content_hash": text_hash,
                "extracted_at": now,
                "updated_at": now,
            }
            for aid, d in zip(ids, docs, strict=True)
            for words, text_hash in [words_and_hash(d.text)]
        ]
        upsert(conn, article, rows, key=["id"])
    return ids


def document_results(engine: Engine, docs: list[Document]) -> list[DocumentResult]:
    """Each document's story, duplicate and provenance, naming other documents by their keys."""
    ids = [doc_id(d.key) for d in docs]
    with engine.connect() as conn:
        found = {
            r.article_id: r
            for r in conn.execute(
                sa.select(article_dedupe).where(article_dedupe.c.article_id.in_(ids))
            )
        }
    name = dict(zip(ids, (d.key for d in docs), strict=True))

    def named(article_id: str | None) -> str | None:
        return None if article_id is None else name.get(article_id, article_id)

    results = []
    for aid, d in zip(ids, docs, strict=True):
        r = found[aid]
        results.append(
            DocumentResult(
                input=d.key,
                story=named(r.story_id) or r.story_id,
                duplicate_of=named(r.duplicate_of),
                duplicate_kind=r.duplicate_kind,
                label=r.label,
                copied_from=named(r.copied_from),
                similarity=r.similarity,
                overlap=r.overlap,
                agency=r.agency,
            )
        )
    return results


def dedupe_documents(
    engine: Engine, docs: list[Document], cfg: DedupeConfig, *, batch_size: int = 200
) -> list[DocumentResult]:
    """Store ``docs`` as extracted articles (unless already there), dedupe, report each."""
    ids = store_documents(engine, docs)
    run_dedupe(engine, cfg, batch_size=batch_size, ids=ids)
    return document_results(engine, docs)
