"""A warehouse with planted defects for the quality gate; shared by the SQLite and PG tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import Settings
from pipeline.quality.gate import run_gate
from pipeline.quality.release import list_quarantine, release
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
    # Claims held back while their article publishes; claims that stay in v_claims.
    expect_claims_held: set[int] = field(default_factory=set)
    expect_claims_shown: set[int] = field(default_factory=set)


class Warehouse:
    """Builds sources, feeds, polls and article rows with sensible defaults."""

    def __init__(self, engine: Engine, revision: str = "head") -> None:
        self.engine = engine
        upgrade(engine, revision)
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

    def held_claims(self) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(claim.c.id).where(claim.c.held)).scalars())

    def view_claims(self) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(sa.text("select claim_id from v_claims")).scalars())

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
    # Claims: a sound one on a good article; a reversed range on an otherwise fine article holds
    # back that claim only, and the article publishes with its sound claim.
    p.expect_claims_shown.add(wh.claim("good-0", 0, text_of(300), 8, 40))
    wh.article("bad-claim")
    bad = wh.claim("bad-claim", 0, text_of(300), 8, 40, value_low=90.0)
    p.expect_claims_shown.add(wh.claim("bad-claim", 1, text_of(300), 50, 90))
    p.expect_quarantine.add(("claim", str(bad), "claim.value_range_ordered"))
    p.expect_claims_held.add(bad)
    p.expect_published.add("bad-claim")
    # A couple of failures: well under the source failure bound.
    wh.article("failed-1", status="fetch_failed", title=None, text=None)
    wh.article("failed-2", status="extract_failed", title=None, text=None)
    # Polls of the run: one fine, one with a negative duration. (A status outside the vocabulary
    # never gets this far: the warehouse refuses the row, ck_feed_poll_status.)
    wh.poll("Eastern Wire")
    bad = wh.poll("Second Outlet", duration_ms=-5)
    p.expect_quarantine.add(("feed_poll", str(bad), "feed_poll.duration_non_negative"))
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
    assert wh.held_claims() == planted.expect_claims_held
    assert wh.view_claims() == planted.expect_claims_shown
    assert counts.claims_held == len(planted.expect_claims_held)
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


def check_failing_source_is_held(engine: Engine, settings: Settings) -> None:
    """A source failing beyond the bound holds back its own waiting articles, with the reason;
    a healthy source in the same run publishes. Released, they go back through the gate."""
    wh = Warehouse(engine)
    healthy = {wh.article("keep-1"), wh.article("keep-2")}
    wh.article("pub-0", status="published")
    wh.poll("Eastern Wire")
    for i in range(8):
        wh.article(f"broken-{i}", src="Drifting Daily", status="extract_failed", text=None)
    drifting = {wh.article("broken-ok-1", src="Drifting Daily")}
    drifting.add(wh.article("broken-ok-2", src="Drifting Daily"))
    before = wh.statuses()

    counts = run_gate(engine, RUN, settings)
    after = wh.statuses()
    assert {a: after[a] for a in healthy | drifting} == {
        "keep-1": "published",
        "keep-2": "published",
        "broken-ok-1": "quarantined",
        "broken-ok-2": "quarantined",
    }
    # Nothing else moved: the failed rows stay failed, the published one published.
    assert {a: s for a, s in after.items() if a not in healthy | drifting} == {
        a: s for a, s in before.items() if a not in healthy | drifting
    }
    assert {r[0] for r in wh.published_view()} == healthy | {"pub-0"}
    assert (counts.published, counts.quarantined, counts.sources_held) == (2, 2, 1)
    assert counts.quarantine_rows == {"article_source.source_failure_share": 2}
    share = "article_source.source_failure_share"
    assert wh.quarantine_keys() == {("article", a, share) for a in drifting}
    held = list_quarantine(engine, expectation=share)
    assert {(r.article_id, r.observed_value) for r in held} == {
        (a, "Drifting Daily 8/10 failed (80%)") for a in drifting
    }
    assert {r.reason for r in held} == {"share of failed fetches/extractions above 50%"}
    with engine.connect() as conn:
        runs = conn.execute(
            sa.select(dq_run.c.suite, dq_run.c.outcome, dq_run.c.rows_quarantined)
        ).all()
    assert ("article_source", "quarantined", 2) in runs
    assert ("article", "passed", 0) in runs
    assert not any(outcome == "rejected" for _, outcome, _ in runs)

    # Released while the source still fails: back to analysed, held again by the next run.
    result = release(engine, release_all=True, expectation=share)
    assert (result.rows_released, result.articles_requeued) == (2, 2)
    assert {wh.statuses()[a] for a in drifting} == {"analysed"}
    wh.poll("Eastern Wire", run_id="gate-run-2")
    again = run_gate(engine, "gate-run-2", settings)
    assert (again.published, again.quarantined) == (0, 2)
    assert len(list_quarantine(engine, expectation=share)) == 2

    # The failures age out of the window: released once more, the source's articles publish.
    with engine.begin() as conn:
        conn.execute(
            sa.update(article)
            .where(article.c.status == "extract_failed")
            .values(discovered_at=NOW - timedelta(hours=settings.dq_source_window_hours + 1))
        )
    release(engine, release_all=True, expectation=share)
    wh.poll("Eastern Wire", run_id="gate-run-3")
    last = run_gate(engine, "gate-run-3", settings)
    assert (last.published, last.quarantined, last.sources_held) == (2, 0, 0)
    assert {wh.statuses()[a] for a in drifting} == {"published"}


def plant_claim_defects(wh: Warehouse) -> dict[str, int]:
    """Articles whose claims fail claim checks, one also failing an article check.

    Returns the claim ids by name: ``*_ok`` claims are sound.
    """
    for aid in ("art-1", "art-2"):
        wh.article(aid)
    wh.article("art-3", title=None)
    wh.poll("Eastern Wire")
    body = text_of(300)
    quote = {"kind": "quote", "speaker": "the mayor", "qualifier": None}
    return {
        "art1_numeric_ok": wh.claim("art-1", 0, body, 8, 40),
        "art1_quote_ok": wh.claim("art-1", 1, body, 50, 90, **quote),
        "art1_mute": wh.claim("art-1", 2, body, 100, 140, **(quote | {"speaker": None})),
        "art2_roughly": wh.claim("art-2", 0, body, 8, 40, qualifier="roughly"),
        "art2_numeric_ok": wh.claim("art-2", 1, body, 50, 90),
        "art3_numeric_ok": wh.claim("art-3", 0, body, 8, 40),
        "art3_mute": wh.claim("art-3", 1, body, 50, 90, **(quote | {"speaker": None})),
    }


def check_claim_is_held_not_its_article(engine: Engine, settings: Settings) -> None:
    """A failing claim is held on its own: its article publishes with the other claims, the
    claim stays out of v_claims and the ledger's queue until its quarantine row is released."""
    from pipeline.ledger.stage import link_pending

    wh = Warehouse(engine)
    c = plant_claim_defects(wh)
    counts = run_gate(engine, RUN, settings)
    assert wh.statuses() == {"art-1": "published", "art-2": "published", "art-3": "quarantined"}
    assert (counts.published, counts.quarantined, counts.claims_held) == (2, 1, 3)
    held = {c["art1_mute"], c["art2_roughly"], c["art3_mute"]}
    assert wh.held_claims() == held
    assert wh.quarantine_keys() == {
        ("claim", str(c["art1_mute"]), "claim.quote_has_speaker"),
        ("claim", str(c["art2_roughly"]), "claim.qualifier_valid"),
        ("claim", str(c["art3_mute"]), "claim.quote_has_speaker"),
        ("article", "art-3", "article.title_not_null"),
    }
    mute = list_quarantine(engine, expectation="claim.quote_has_speaker")
    assert {(r.entity_id, r.article_id, r.reason) for r in mute} == {
        (str(c["art1_mute"]), "art-1", "quote without a speaker"),
        (str(c["art3_mute"]), "art-3", "quote without a speaker"),
    }
    # The published articles' other claims are there; art-3 is not published at all.
    shown = {c["art1_numeric_ok"], c["art1_quote_ok"], c["art2_numeric_ok"]}
    assert wh.view_claims() == shown

    # The ledger takes the sound numeric claims of published articles, never a held one.
    assert link_pending(engine).claims == 2
    with engine.connect() as conn:
        linked = set(conn.execute(sa.select(claim.c.id).where(claim.c.linked)).scalars())
    assert linked == {c["art1_numeric_ok"], c["art2_numeric_ok"]}

    # Releasing a held claim of a published article lets it in: views now, ledger next run.
    roughly = next(r.id for r in list_quarantine(engine) if r.entity_id == str(c["art2_roughly"]))
    result = release(engine, ids=[roughly])
    assert (result.rows_released, result.claims_unheld, result.articles_requeued) == (1, 1, 0)
    assert wh.statuses()["art-2"] == "published", "its article was never held back"
    assert wh.held_claims() == held - {c["art2_roughly"]}
    assert wh.view_claims() == shown | {c["art2_roughly"]}
    assert link_pending(engine).claims == 1
    with engine.connect() as conn:
        in_ledger = conn.execute(
            sa.text("select count(*) from claim_measure where claim_id = :c"),
            {"c": c["art2_roughly"]},
        ).scalar_one()
    assert in_ledger == 1
