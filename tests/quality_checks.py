"""A warehouse with planted defects for the quality gate; shared by the SQLite and PG tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import Settings
from pipeline.quality.gate import run_gate
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema import article, feed_poll
from pipeline.warehouse.schema_claims import claim
from pipeline.warehouse.schema_quality import dq_result, dq_run, quarantine
from tests.seed import add_source_and_feed

NOW = datetime.now(UTC).replace(microsecond=0)
RUN = "gate-run-1"
WORDS = ("council", "budget", "ministry", "harbour", "report", "figures", "district", "official")


def text_of(words: int) -> str:
    """Generated article text with exactly ``words`` words."""
    return " ".join(WORDS[i % len(WORDS)] + ("." if i % 12 == 11 else "") for i in range(words))


@dataclass
class Planted:
    """A warehouse state plus what the gate must do with it."""

    analysed: list[str] = field(default_factory=list)
    published_before: list[str] = field(default_factory=list)
    expect_published: set[str] = field(default_factory=set)
    expect_held: set[str] = field(default_factory=set)
    # (entity, entity_id, expectation) of every quarantine row the gate must write, no more.
    expect_quarantine: set[tuple[str, str, str]] = field(default_factory=set)


class Warehouse:
    """Builds sources, feeds, polls and article rows with sensible defaults."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        upgrade(engine)
        self.sources: dict[str, tuple[int, int]] = {}

    def source(self, name: str) -> tuple[int, int]:
        if name not in self.sources:
            with self.engine.begin() as conn:
                sid, fid = add_source_and_feed(
                    conn,
                    name=name,
                    feed_url=f"http://127.0.0.1/feeds/{len(self.sources)}.xml",
                    now=NOW,
                    language="en",
                )
            self.sources[name] = (sid, fid)
        return self.sources[name]

    def poll(
        self, src: str, *, run_id: str = RUN, status: str = "ok", duration_ms: int = 40
    ) -> int:
        _, fid = self.source(src)
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    feed_poll.insert()
                    .values(
                        feed_id=fid,
                        run_id=run_id,
                        started_at=NOW,
                        duration_ms=duration_ms,
                        status=status,
                        bytes=100,
                        entries_seen=1,
                        entries_new=1,
                    )
                    .returning(feed_poll.c.id)
                ).scalar_one()
            )

    def article(self, aid: str, src: str = "Eastern Wire", **values: Any) -> str:
        sid, fid = self.source(src)
        words = values.pop("words", 300)
        fetched = NOW - timedelta(hours=1)
        row: dict[str, Any] = {
            "id": aid,
            "url": f"http://127.0.0.1/{sid}/{aid}.html",
            "source_id": sid,
            "feed_id": fid,
            "discovered_at": values.pop("discovered_at", NOW - timedelta(hours=2)),
            "discovered_run_id": "earlier-run",
            "status": "analysed",
            "attempts": 1,
            "fetched_at": fetched,
            "title": f"Headline {aid}",
            "text": text_of(words),
            "word_count": words,
            "language": "en",
            "published_at": fetched - timedelta(hours=5),
            "canonical_url": None,
            "updated_at": NOW,
        }
        row.update(values)
        with self.engine.begin() as conn:
            conn.execute(article.insert().values(**row))
        return aid

    def claim(self, aid: str, index: int, body: str, start: int, end: int, **values: Any) -> int:
        """A claim of article ``aid`` (whose text is ``body``) spanning body[start:end]."""
        row: dict[str, Any] = {
            "article_id": aid,
            "claim_index": index,
            "kind": "numeric",
            "text": body[start:end],
            "start_offset": start,
            "end_offset": end,
            "via": [],
            "cites": [],
            "hedges": [],
            "hedged": False,
            "value_low": 40.0,
            "value_high": 60.0,
            "qualifier": "range",
            "extractor_version": "test",
            "created_at": NOW,
        }
        row.update(values)
        with self.engine.begin() as conn:
            return int(
                conn.execute(claim.insert().values(**row).returning(claim.c.id)).scalar_one()
            )

    def statuses(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(article.c.id, article.c.status)).tuples().all())

    def quarantine_keys(self) -> set[tuple[str, str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(quarantine.c.entity, quarantine.c.entity_id, quarantine.c.expectation)
            ).tuples()
            return set(rows)

    def published_view(self) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text("select * from v_articles order by 1"))]


def plant_row_defects(wh: Warehouse) -> Planted:
    """One good source with every row-level article defect the suite knows, plus bad polls."""
    p = Planted()
    good = [wh.article(f"good-{i}") for i in range(6)]
    p.expect_published.update(good)
    # Already published: a later copy of its canonical URL must be held back.
    wh.article("pub-1", status="published", canonical_url="http://127.0.0.1/canon/one.html")
    p.published_before.append("pub-1")
    defects = {
        "no-title": ({"title": None}, ["title_not_null"]),
        "no-text": ({"text": None, "word_count": None}, ["text_not_null"]),
        "too-short": ({"words": 12}, ["word_count_in_bounds"]),
        "too-long": ({"word_count": 45_000}, ["word_count_in_bounds"]),
        "french": ({"language": "fr"}, ["language_allowed"]),
        "ancient": (
            {"published_at": datetime(1985, 5, 1, tzinfo=UTC)},
            ["published_at_not_too_early"],
        ),
        "future": ({"published_at": NOW + timedelta(days=3)}, ["published_at_not_future"]),
        "copy-of-pub": (
            {"canonical_url": "http://127.0.0.1/canon/one.html"},
            ["canonical_url_unique"],
        ),
        "two-defects": ({"title": None, "language": "de"}, ["title_not_null", "language_allowed"]),
    }
    for aid, (values, checks) in defects.items():
        wh.article(aid, **values)
        p.expect_quarantine.update(("article", aid, f"article.{c}") for c in checks)
    # Two copies of one page in the batch: the first discovered is published, the second held.
    wh.article(
        "dup-first",
        canonical_url="http://127.0.0.1/canon/two.html",
        discovered_at=NOW - timedelta(hours=3),
    )
    wh.article("dup-second", canonical_url="http://127.0.0.1/canon/two.html")
    p.expect_published.add("dup-first")
    p.expect_quarantine.add(("article", "dup-second", "article.canonical_url_unique"))
    # Claims: a sound one on a good article, a reversed range on an otherwise fine article.
    wh.claim("good-0", 0, text_of(300), 8, 40)
    wh.article("bad-claim")
    bad = wh.claim("bad-claim", 0, text_of(300), 8, 40, value_low=90.0)
    p.expect_quarantine.add(("claim", str(bad), "claim.value_range_ordered"))
    p.expect_held.add("bad-claim")
    # A couple of failures: well under the source failure bound.
    wh.article("failed-1", status="fetch_failed", title=None, text=None)
    wh.article("failed-2", status="extract_failed", title=None, text=None)
    # Polls of the run: one fine, one with a bad status and a negative duration.
    wh.poll("Eastern Wire")
    bad = wh.poll("Second Outlet", status="exploded", duration_ms=-5)
    p.expect_quarantine.update(
        {
            ("feed_poll", str(bad), "feed_poll.status_valid"),
            ("feed_poll", str(bad), "feed_poll.duration_non_negative"),
        }
    )
    p.analysed = [a for a, s in wh.statuses().items() if s == "analysed"]
    p.expect_held.update(e for kind, e, _ in p.expect_quarantine if kind == "article")
    return p


def check_gate_row_defects(engine: Engine, settings: Settings) -> None:
    """Exactly the planted rows are quarantined, the rest published, nothing lost."""
    wh = Warehouse(engine)
    planted = plant_row_defects(wh)
    counts = run_gate(engine, RUN, settings)
    after = wh.statuses()
    published = {a for a in planted.analysed if after[a] == "published"}
    held = {a for a in planted.analysed if after[a] == "quarantined"}
    assert published == planted.expect_published
    assert held == planted.expect_held
    assert len(published) + len(held) == len(planted.analysed) == counts.articles
    assert (counts.published, counts.quarantined) == (len(published), len(held))
    assert wh.quarantine_keys() == planted.expect_quarantine
    assert after["failed-1"] == "fetch_failed" and after["pub-1"] == "published"
    view_ids = {r[0] for r in wh.published_view()}
    assert view_ids == published | {"pub-1"}
    with engine.connect() as conn:
        reasons = dict(
            conn.execute(
                sa.select(quarantine.c.entity_id, quarantine.c.observed_value).where(
                    quarantine.c.expectation.in_(
                        ["article.canonical_url_unique", "article.word_count_in_bounds"]
                    )
                )
            )
            .tuples()
            .all()
        )
        assert reasons == {
            "copy-of-pub": "pub-1",
            "dup-second": "dup-first",
            "too-short": "12",
            "too-long": "45000",
        }, reasons
        runs = conn.execute(sa.select(dq_run.c.suite, dq_run.c.outcome)).tuples().all()
        assert ("article", "quarantined") in runs and ("article_source", "passed") in runs
        failed = set(
            conn.execute(
                sa.select(dq_result.c.expectation).where(dq_result.c.success.is_(False))
            ).scalars()
        )
        assert failed == {e for _, _, e in planted.expect_quarantine}
        summary = conn.execute(
            sa.text(
                "select expectation, unexpected_rows, quarantined_open from v_dq_summary "
                "where run_id = :r and expectation = 'article.title_not_null'"
            ),
            {"r": RUN},
        ).one()
        assert tuple(summary) == ("article.title_not_null", 2, 2)


def check_source_failure_rejects(engine: Engine, settings: Settings) -> None:
    """A source failing beyond the bound rejects the run: nothing published, results kept."""
    wh = Warehouse(engine)
    wh.article("keep-1")
    wh.article("pub-0", status="published")
    wh.poll("Eastern Wire")
    for i in range(8):
        wh.article(f"broken-{i}", src="Drifting Daily", status="extract_failed", text=None)
    wh.article("broken-ok-1", src="Drifting Daily")
    wh.article("broken-ok-2", src="Drifting Daily")
    before_view, before = wh.published_view(), wh.statuses()
    from pipeline.quality.gate import BatchRejectedError

    try:
        run_gate(engine, RUN, settings)
    except BatchRejectedError as exc:
        assert "Drifting Daily 8/10 failed" in str(exc)
        assert "Eastern Wire" not in str(exc)
    else:
        raise AssertionError("the gate published a batch with a drifting source")
    assert wh.statuses() == before
    assert wh.published_view() == before_view
    with engine.connect() as conn:
        outcomes = conn.execute(sa.select(dq_run.c.suite, dq_run.c.outcome)).tuples().all()
        assert ("article_source", "rejected") in outcomes
        assert not any(suite == "article" for suite, _ in outcomes)
