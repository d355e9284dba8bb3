"""Load what the gate validates from the warehouse into pandas frames, one batch at a time.

Derived columns are computed here, where a check needs a second table or arithmetic:
``canonical_hash`` / ``canonical_duplicate_of`` (against the batch and already published rows),
``published_at_max`` (fetched_at + 1 day), ``article_length`` / ``evidence_slice`` (the article
text a claim points at), ``failed_share`` (per source, over the recent window).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.urls import url_key
from pipeline.warehouse.schema import article, feed_poll, metadata, source

GATE_INPUT_STATUS = "analysed"
FAILED_STATUSES = ("fetch_failed", "extract_failed")
# A page may be stamped with tomorrow's date by a site in a time zone ahead of ours.
PUBLISHED_SLACK = timedelta(days=1)
# Columns of issue 6's claim table that the claim suite reads.
CLAIM_COLUMNS = (
    "id",
    "article_id",
    "kind",
    "text",
    "start_offset",
    "end_offset",
    "speaker",
    "speaker_end",
    "value_end",
    "value_low",
    "value_high",
    "qualifier",
    "rate_per",
)
ARTICLE_COLUMNS = (
    "id",
    "url",
    "canonical_url",
    "title",
    "text",
    "word_count",
    "language",
    "published_at",
    "fetched_at",
    "status",
    "source_id",
    "discovered_at",
)


def _utc(series: pd.Series) -> pd.Series:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return pd.to_datetime(series, utc=True)


def _frame(conn: Connection, query: sa.Select[Any], columns: Sequence[str]) -> pd.DataFrame:
    """A query's rows as a frame, built column-wise.

    ``DataFrame.from_records`` on SQLAlchemy rows probes every row for attributes (two
    failing key lookups per row), which took longer than the query on a 200k-claim batch.
    """
    rows = conn.execute(query).all()
    if not rows:
        return pd.DataFrame(columns=list(columns))
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)))


def canonical_hash(article_id: str, canonical_url: object) -> str:
    """The key two copies of one page share: hash of rel=canonical, else the article's own key."""
    # pandas turns a missing value into NaN, hence the type test rather than truthiness.
    return (
        url_key(canonical_url) if isinstance(canonical_url, str) and canonical_url else article_id
    )


def article_frame(conn: Connection, ids: Sequence[str]) -> pd.DataFrame:
    """The articles ``ids`` with the derived columns of the article suite."""
    cols = [article.c[name] for name in ARTICLE_COLUMNS]
    df = _frame(conn, sa.select(*cols).where(article.c.id.in_(ids)), ARTICLE_COLUMNS)
    for col in ("published_at", "fetched_at", "discovered_at"):
        df[col] = _utc(df[col])
    df = df.sort_values(["discovered_at", "id"], kind="stable").reset_index(drop=True)
    df["url_hash"] = df["id"]
    df["canonical_hash"] = [
        canonical_hash(i, c) for i, c in zip(df["id"], df["canonical_url"], strict=True)
    ]
    df["canonical_duplicate_of"] = _duplicates(conn, df)
    df["published_at_max"] = df["fetched_at"] + PUBLISHED_SLACK
    return df


def _duplicates(conn: Connection, df: pd.DataFrame) -> list[str | None]:
    """For each row: the published article, or earlier batch row, with its canonical hash."""
    hashes = set(df["canonical_hash"])
    urls = {u for u in df["canonical_url"] if isinstance(u, str) and u}
    owner: dict[str, str] = {}
    if hashes:
        # Two lookups, each on its own index (the key; canonical_url), and the status test in
        # Python: with the status in the query or an OR of both, planners may walk the status
        # index instead, i.e. every published row, once per batch.
        cols = (article.c.id, article.c.canonical_url, article.c.status)
        found = {
            *conn.execute(sa.select(*cols).where(article.c.id.in_(hashes))).tuples(),
            *conn.execute(sa.select(*cols).where(article.c.canonical_url.in_(urls))).tuples(),
        }
        for pid, purl, status in sorted(found):
            if status == "published":
                owner.setdefault(canonical_hash(pid, purl), pid)
    out: list[str | None] = []
    for aid, key in zip(df["id"], df["canonical_hash"], strict=True):
        first = owner.setdefault(key, aid)
        out.append(None if first == aid else first)
    return out


def claim_frame(
    conn: Connection, article_ids: Sequence[str], texts: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The claims of ``article_ids`` with their article's length and evidence slice.

    Claims already held back (``claim.held``) are left out: their open quarantine row stands
    until it is released, so an article that comes back through the gate does not quarantine
    them a second time. ``texts`` (article id -> text) saves re-reading texts the caller already
    holds; each text is read once per article, not once per claim (a claim-dense article has
    dozens).
    """
    claim = metadata.tables.get("claim")
    if claim is None or not article_ids:
        return pd.DataFrame(columns=[*CLAIM_COLUMNS, "article_length", "evidence_slice"])
    df = _frame(
        conn,
        sa.select(*(claim.c[c] for c in CLAIM_COLUMNS)).where(
            claim.c.article_id.in_(article_ids), claim.c.held == sa.false()
        ),
        CLAIM_COLUMNS,
    )
    if texts is None:
        texts = dict(
            conn.execute(
                sa.select(article.c.id, article.c.text).where(article.c.id.in_(article_ids))
            ).tuples()
        )
    article_text = [texts.get(a) for a in df["article_id"]]
    df["speaker"] = df["speaker"].where(df["speaker"].fillna("").str.strip() != "", None)
    df["article_length"] = [len(t) if isinstance(t, str) else 0 for t in article_text]
    df["evidence_slice"] = [
        _slice(t, s, e)
        for t, s, e in zip(article_text, df["start_offset"], df["end_offset"], strict=True)
    ]
    return df


def _slice(text: Any, start: Any, end: Any) -> str | None:
    if not isinstance(text, str) or pd.isna(start) or pd.isna(end):
        return None
    return text[int(start) : int(end)]


def feed_poll_frame(conn: Connection, run_id: str) -> pd.DataFrame:
    """The feed polls recorded by ``run_id``."""
    cols = ["id", "feed_id", "status", "duration_ms"]
    return _frame(
        conn, sa.select(*(feed_poll.c[c] for c in cols)).where(feed_poll.c.run_id == run_id), cols
    )


def source_frame(conn: Connection, *, since: datetime, min_articles: int) -> pd.DataFrame:
    """Per source with articles waiting at the gate: recent articles, failures, failed share.

    ``failed_share`` is null when the source has fewer than ``min_articles`` recent articles.
    """
    waiting = sa.select(article.c.source_id).where(article.c.status == GATE_INPUT_STATUS)
    failed = sa.func.sum(sa.case((article.c.status.in_(FAILED_STATUSES), 1), else_=0))
    query = (
        sa.select(
            source.c.id,
            source.c.name,
            sa.func.count().label("articles"),
            failed.label("failed"),
        )
        .join(article, article.c.source_id == source.c.id)
        .where(article.c.discovered_at >= since, source.c.id.in_(waiting.distinct()))
        .group_by(source.c.id, source.c.name)
        .order_by(source.c.id)
    )
    df = _frame(conn, query, ["id", "source", "articles", "failed"])
    share = df["failed"].astype(float) / df["articles"].where(df["articles"] > 0)
    df["failed_share"] = share.where(df["articles"] >= min_articles)
    return df
