"""The quality gate on SQLite: suites, quarantine with reasons, held sources and claims, batch
rejection, release, docs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from pipeline import flow
from pipeline.cli import app
from pipeline.config import get_settings
from pipeline.quality import demo_report, docs
from pipeline.quality.gate import BatchRejectedError, run_gate
from pipeline.quality.release import list_quarantine, release
from pipeline.quality.results import Validator
from pipeline.quality.suites import ARTICLE, CLAIM
from pipeline.warehouse import get_engine, make_engine
from pipeline.warehouse.schema import article, pipeline_run
from pipeline.warehouse.schema_claims import claim
from pipeline.warehouse.schema_quality import dq_run, quarantine
from tests.conftest import reachable_ok_articles
from tests.quality_checks import (
    RUN,
    Warehouse,
    check_claim_is_held_not_its_article,
    check_failing_source_is_held,
    check_gate_row_defects,
    plant_claim_defects,
    plant_row_defects,
    text_of,
)

runner = CliRunner()


def _sites(home: Path) -> list[Path]:
    """The Data Docs sites written under ``home``, oldest first."""
    return sorted(p for p in (home / "dq_docs" / "runs").iterdir() if p.is_dir())


def _failing(validator: Validator, suite: str, frame: pd.DataFrame) -> set[tuple[str, str]]:
    out = validator.validate(suite, frame, run_id="suite-test")
    return {(f.entity_id, f.expectation) for f in out.row_failures}


def test_gate_quarantines_exactly_the_planted_rows(home: Path) -> None:
    check_gate_row_defects(get_engine(), get_settings())
    (site,) = _sites(home)
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "article" in html and "feed_poll" in html
    # The run's validation pages render, and through the cached views: compiled templates
    # persist under the home for the next task process.
    pages = list((site / "validations").rglob("*.html"))
    assert pages and any(RUN in p.as_posix() for p in pages)
    with get_engine().connect() as conn:
        docs_paths = set(conn.execute(sa.select(dq_run.c.docs_path)).scalars())
    assert docs_paths == {str(site / "index.html")}, "dq_run rows point at the run's own site"
    assert any((home / "cache" / "jinja").iterdir())


def test_failing_source_is_held_and_the_healthy_one_publishes(home: Path) -> None:
    check_failing_source_is_held(get_engine(), get_settings())


def test_stage_fails_with_batch_rejected_and_records_it(home: Path) -> None:
    wh = Warehouse(get_engine())
    wh.article("waiting-1")  # no feed poll recorded for the run
    with pytest.raises(BatchRejectedError, match="no feed polls"):
        flow.gate_articles("run-without-polls")
    assert wh.statuses() == {"waiting-1": "analysed"}
    with get_engine().connect() as conn:
        status, error = conn.execute(
            sa.select(pipeline_run.c.status, pipeline_run.c.error).where(
                pipeline_run.c.stage == "gate"
            )
        ).one()
    assert status == "failed" and error.startswith("BatchRejectedError")


def test_article_suite_checks_not_plantable_in_the_warehouse(home: Path) -> None:
    # url is NOT NULL and the key in the warehouse, and the batch holds one status: check the
    # suite itself on frames with those defects.
    validator = Validator(get_settings())
    ts = pd.Timestamp(datetime(2026, 11, 1, tzinfo=UTC))
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "url": ["http://x/1", None, "http://x/3", "http://x/3"],
            "url_hash": ["h1", "h2", None, "h4"],
            "canonical_hash": ["c1", "c2", "c3", None],
            "canonical_duplicate_of": [None, None, None, None],
            "title": ["t"] * 4,
            "text": [text_of(100)] * 4,
            "word_count": [100] * 4,
            "language": ["en"] * 4,
            "published_at": [ts] * 4,
            "published_at_max": [ts] * 4,
            "status": ["analysed", "analysed", "bogus", "analysed"],
        }
    )
    assert _failing(validator, ARTICLE, frame) == {
        ("b", "article.url_not_null"),
        ("c", "article.url_unique"),
        ("d", "article.url_unique"),
        ("c", "article.url_hash_not_null"),
        ("d", "article.canonical_hash_not_null"),
        ("c", "article.status_valid"),
    }


def _claims(**changes: dict[str, object]) -> pd.DataFrame:
    text = "The ministry said 40 to 60 soldiers left. “We will stay,” the mayor said."
    base = {
        "article_id": "art-1",
        "kind": "numeric",
        "text": "40 to 60 soldiers left",
        "start_offset": 18,
        "end_offset": 40,
        "speaker": "The ministry",
        "speaker_end": 12,
        "value_end": 26,
        "value_low": 40.0,
        "value_high": 60.0,
        "qualifier": "range",
        "rate_per": None,
        "article_length": len(text),
        "evidence_slice": text[18:40],
    }
    rows = [dict(base, id=claim_id, **values) for claim_id, values in changes.items()]
    return pd.DataFrame(rows)


def test_claim_suite_flags_each_planted_defect(home: Path) -> None:
    validator = Validator(get_settings())
    frame = _claims(
        ok={},
        ok_quote={"kind": "quote", "value_low": None, "value_high": None, "qualifier": None},
        reversed={"value_low": 70.0},
        qualifier={"qualifier": "roughly"},
        rate={"rate_per": "fortnight"},
        kind={"kind": "rumour"},
        negative={"start_offset": -3},
        backwards={"start_offset": 41},
        past_end={"end_offset": 500},
        speaker_far={"speaker_end": 500},
        value_far={"value_end": 501},
        mismatch={"evidence_slice": "40 to 60 sailors left"},
        mute_quote={"kind": "quote", "speaker": None},
    )
    assert _failing(validator, CLAIM, frame) == {
        ("reversed", "claim.value_range_ordered"),
        ("qualifier", "claim.qualifier_valid"),
        ("rate", "claim.rate_per_valid"),
        ("kind", "claim.kind_valid"),
        ("negative", "claim.span_start_in_text"),
        ("backwards", "claim.span_not_empty"),
        ("past_end", "claim.span_end_in_text"),
        ("speaker_far", "claim.speaker_span_in_text"),
        ("value_far", "claim.value_span_in_text"),
        ("mismatch", "claim.evidence_matches_text"),
        ("mute_quote", "claim.quote_has_speaker"),
    }


def test_a_bad_claim_is_held_and_its_article_published(home: Path) -> None:
    check_claim_is_held_not_its_article(get_engine(), get_settings())


def test_a_held_claim_stays_held_when_its_article_is_gated_again(home: Path) -> None:
    # art-3 has no title and a quote without a speaker: both are held. Release only the title
    # row after fixing the title: the article publishes, the claim stays held with its one row.
    engine = get_engine()
    wh = Warehouse(engine)
    c = plant_claim_defects(wh)
    run_gate(engine, RUN, get_settings())
    title = list_quarantine(engine, expectation="article.title_not_null")
    with engine.begin() as conn:
        conn.execute(sa.update(article).where(article.c.id == "art-3").values(title="Fixed"))
    result = release(engine, ids=[r.id for r in title])
    assert (result.articles_requeued, result.claims_unheld) == (1, 0)
    wh.poll("Eastern Wire", run_id="gate-run-2")
    counts = run_gate(engine, "gate-run-2", get_settings())
    assert (counts.published, counts.claims_held) == (1, 0)
    assert wh.statuses()["art-3"] == "published"
    assert c["art3_mute"] in wh.held_claims()
    assert c["art3_numeric_ok"] in wh.view_claims()
    assert c["art3_mute"] not in wh.view_claims()
    rows = [
        r
        for r in list_quarantine(engine, include_released=True)
        if r.entity_id == str(c["art3_mute"])
    ]
    assert [(r.run_id, r.released_at) for r in rows] == [(RUN, None)]

    # Releasing every claim row un-holds the claims; their articles stay as they are.
    out = runner.invoke(app, ["quarantine", "release", "--all"])
    assert out.exit_code == 0, out.output
    assert wh.held_claims() == set()
    assert wh.statuses() == {a: "published" for a in ("art-1", "art-2", "art-3")}
    assert c["art3_mute"] in wh.view_claims()


def test_migration_holds_claims_quarantined_before_it(tmp_path: Path) -> None:
    # Before 0012 a bad claim quarantined its article; its open row now holds the claim, so
    # releasing it means the same as for a claim the gate holds today.
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    wh = Warehouse(engine, revision="20261206_0011")
    wh.article("old-1", status="quarantined")
    body = text_of(300)
    old = {"via": [], "cites": [], "hedges": [], "hedged": False, "extractor_version": "t"}
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ids = [
            conn.execute(
                claim.insert()
                .values(
                    article_id="old-1",
                    claim_index=i,
                    kind="numeric",
                    text=body[8:40],
                    start_offset=8,
                    end_offset=40,
                    created_at=now,
                    **old,
                )
                .returning(claim.c.id)
            ).scalar_one()
            for i in range(3)
        ]
        for cid, released in ((ids[0], None), (ids[1], now)):
            conn.execute(
                quarantine.insert().values(
                    entity="claim",
                    entity_id=str(cid),
                    article_id="old-1",
                    expectation="claim.qualifier_valid",
                    reason="qualifier outside its vocabulary",
                    run_id="old-run",
                    created_at=now,
                    released_at=released,
                )
            )
    wh = Warehouse(engine)  # upgrades to head
    assert wh.held_claims() == {ids[0]}
    # Only a claim row held the old article: releasing it un-holds the claim and sends the
    # article back through the gate.
    result = release(engine, release_all=True, now=now)
    assert (result.rows_released, result.claims_unheld, result.articles_requeued) == (1, 1, 1)
    assert wh.statuses() == {"old-1": "analysed"}
    engine.dispose()


def test_many_failures_across_batches_are_all_quarantined(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More failing rows than a SUMMARY result lists (50) and several batches.
    monkeypatch.setenv("MEDIAMON_DQ_BATCH_SIZE", "70")
    get_settings.cache_clear()
    wh = Warehouse(get_engine())
    german = {wh.article(f"de-{i:03}", language="de") for i in range(120)}
    good = {wh.article(f"en-{i:03}") for i in range(20)}
    wh.poll("Eastern Wire")
    counts = run_gate(get_engine(), RUN, get_settings())
    assert counts.batches == 2
    statuses = wh.statuses()
    assert {a for a in german | good if statuses[a] == "quarantined"} == german
    assert {a for a in german | good if statuses[a] == "published"} == good
    assert wh.quarantine_keys() == {("article", a, "article.language_allowed") for a in german}


def test_release_sends_articles_back_through_the_gate(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine()
    wh = Warehouse(engine)
    plant_row_defects(wh)
    run_gate(engine, RUN, get_settings())

    listed = runner.invoke(app, ["quarantine", "list", "--expectation", "article.language_allowed"])
    assert listed.exit_code == 0, listed.output
    assert "french" in listed.output and "two-defects" in listed.output
    assert "language not in the configured set" in listed.output

    # French is now welcome: release every language hold.
    out = runner.invoke(
        app, ["quarantine", "release", "--all", "--expectation", "article.language_allowed"]
    )
    assert out.exit_code == 0, out.output
    assert "released 2 row(s); 1 article(s) back to analysed" in out.output
    assert "1 still held" in out.output
    statuses = wh.statuses()
    assert statuses["french"] == "analysed", "release re-queues, never publishes"
    assert statuses["two-defects"] == "quarantined", "its missing title still holds it"

    monkeypatch.setenv("MEDIAMON_LANGUAGES", '["en", "fr", "de"]')
    get_settings.cache_clear()
    wh.poll("Eastern Wire", run_id="gate-run-2")
    counts = run_gate(engine, "gate-run-2", get_settings())
    assert (counts.articles, counts.published) == (1, 1)
    assert wh.statuses()["french"] == "published"

    title_rows = list_quarantine(engine, expectation="article.title_not_null")
    held = next(r for r in title_rows if r.entity_id == "two-defects")
    result = release(engine, ids=[held.id])
    assert (result.rows_released, result.articles_requeued) == (1, 1)
    # Nothing was fixed: the next gate run quarantines it again, with the same reason.
    wh.poll("Eastern Wire", run_id="gate-run-3")
    counts = run_gate(engine, "gate-run-3", get_settings())
    assert (counts.articles, counts.quarantined) == (1, 1)
    assert wh.statuses()["two-defects"] == "quarantined"
    assert any(
        r.run_id == "gate-run-3" and r.entity_id == "two-defects"
        for r in list_quarantine(engine, expectation="article.title_not_null")
    )


def test_release_needs_ids_or_all(home: Path) -> None:
    Warehouse(get_engine())
    out = runner.invoke(app, ["quarantine", "release"])
    assert out.exit_code == 2
    with pytest.raises(ValueError, match="quarantine ids"):
        release(get_engine())


def test_demo_report_shows_suites_and_reasons(home: Path) -> None:
    engine = get_engine()
    wh = Warehouse(engine)
    assert "has not run" in demo_report(engine)
    plant_row_defects(wh)
    run_gate(engine, RUN, get_settings())
    report = demo_report(engine)
    assert "article_source" in report and "feed_poll" in report
    line = next(x for x in report.splitlines() if x.startswith("article.title_not_null"))
    assert "no title was extracted" in line and line.rstrip().endswith("2")


def test_gate_publishes_the_ingested_sample_corpus(
    sample_feeds: Path, manifest: dict[str, object]
) -> None:
    # Real pages through poll/fetch/extract; dedupe and NLP are stood in for by a status update.
    engine = get_engine()
    Warehouse(engine)
    # The stages up to extraction (run_ingest would go on through dedupe, NLP and the gate).
    flow.poll_feeds(RUN)
    flow.fetch_articles(RUN)
    flow.extract_articles(RUN)
    with engine.begin() as conn:
        conn.execute(
            sa.update(article).where(article.c.status == "extracted").values(status="analysed")
        )
    counts = flow.gate_articles(RUN)
    assert counts["articles"] == len(reachable_ok_articles(manifest)) > 0
    assert (counts["published"], counts["quarantined"]) == (counts["articles"], 0)
    with engine.connect() as conn:
        in_view = conn.execute(sa.text("select count(*) from v_articles")).scalar_one()
    assert in_view == counts["published"]


class _Assets(HTMLParser):
    """The stylesheets, scripts, icons and images a page loads, and url(...) in its inline
    styles."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link" and {"stylesheet", "icon"} & set((a.get("rel") or "").split()):
            self.refs.append(a.get("href") or "")
        elif tag in ("script", "img") and a.get("src"):
            self.refs.append(a["src"] or "")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.refs += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)


def _assets(page: Path) -> list[str]:
    parser = _Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.refs


def test_data_docs_load_every_asset_from_local_files(home: Path) -> None:
    engine = get_engine()
    plant_row_defects(Warehouse(engine))
    run_gate(engine, RUN, get_settings())
    (site,) = _sites(home)
    validation = next((site / "validations" / "article").rglob("*.html"))
    for page in (site / "index.html", validation):
        refs = _assets(page)
        remote = [r for r in refs if re.match(r"(?i)https?:|//", r)]
        assert not remote, f"{page.name} loads from the network: {remote}"
        missing = [r for r in refs if not (page.parent / r.split("?")[0]).is_file()]
        assert not missing, f"{page.name} names assets that were not written: {missing}"
        names = {Path(r).name for r in refs}
        # What makes the pages render at all offline: the index's run list is drawn by the
        # bootstrap-table stand-in, on jQuery, styled by Bootstrap.
        assert {"jquery.min.js", "bootstrap-table-lite.js", "bootstrap.min.css"} <= names
    assert not (site / "static").exists(), "the per-run copy of GX's static files is dropped"
    root_index = (home / "dq_docs" / "index.html").read_text(encoding="utf-8")
    assert f"runs/{site.name}/index.html" in root_index and RUN in root_index


def test_each_gate_run_keeps_its_docs_until_the_retention_window_ends(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine()
    wh = Warehouse(engine)
    plant_row_defects(wh)
    run_gate(engine, RUN, get_settings())
    run_gate(engine, RUN, get_settings())  # a rerun of the run that published
    first, second = _sites(home)
    for site in (first, second):
        pages = list((site / "validations").rglob("*.html"))
        assert any("/feed_poll/" in p.as_posix() for p in pages), site
    assert list((first / "validations" / "article").rglob("*.html")), (
        "the rerun left the validations of the run that published"
    )

    first_started, second_started = (docs.site_started(s) for s in (first, second))
    assert first_started is not None and second_started is not None
    assert first_started < second_started
    retention = get_settings().dq_docs_retention_days
    # At the end of the second run's window, only the first run is older than it.
    now = second_started + timedelta(days=retention)
    assert docs.prune(home / "dq_docs", retention, now) == [first]
    assert _sites(home) == [second]

    # Through the setting, in a gate run: a site 30 days old goes, one 3 days old stays.
    monkeypatch.setenv("MEDIAMON_DQ_DOCS_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    root = home / "dq_docs"
    old, recent = (
        docs.run_site_dir(root, "old-run", datetime.now(UTC) - timedelta(days=d)) for d in (30, 3)
    )
    for site in (old, recent):
        site.mkdir(parents=True)
        (site / "index.html").write_text("<html></html>", encoding="utf-8")
    wh.poll("Eastern Wire", run_id="gate-run-later")
    run_gate(engine, "gate-run-later", get_settings())
    kept = _sites(home)
    assert old not in kept and recent in kept and second in kept and len(kept) == 3
    listed = (root / "index.html").read_text(encoding="utf-8")
    assert recent.name in listed and old.name not in listed


def test_data_docs_go_to_the_shared_store_and_another_machine_reads_them(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: with MEDIAMON_DQ_DOCS_URL the gate worker keeps no site of its own; a reader
    with another home (the api-server on another machine) serves it from the store."""
    store = tmp_path / "object-store" / "dq_docs"
    monkeypatch.setenv("MEDIAMON_DQ_DOCS_URL", f"file://{store}")
    get_settings.cache_clear()
    engine = get_engine()
    wh = Warehouse(engine)
    plant_row_defects(wh)
    run_gate(engine, RUN, get_settings())
    assert _sites(home) == [], "the worker kept its site"
    (site,) = sorted((store / "runs").iterdir())
    assert (site / "index.html").is_file() and (site / docs.RUN_ID_FILE).is_file()
    assert (store / "static" / docs.VENDOR_DIR / "jquery.min.js").is_file()

    monkeypatch.setenv("MEDIAMON_HOME", str(tmp_path / "api-server-home"))
    get_settings.cache_clear()
    name, index = docs.read_docs_file("") or ("", b"")
    assert name == "index.html" and f"runs/{site.name}/index.html".encode() in index
    assert RUN.encode() in index
    page = docs.read_docs_file(f"runs/{site.name}/")
    assert page is not None and page[1] == (site / "index.html").read_bytes()
    # Every asset the page names resolves in the store, as the browser will ask for it.
    for ref in _assets(site / "index.html"):
        target = (Path("runs") / site.name / ref.split("?")[0]).as_posix()
        parts: list[str] = []
        for part in target.split("/"):
            if part == "..":
                parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        assert docs.read_docs_file("/".join(parts)) is not None, ref
    for bad in ("../secret.txt", f"runs/{site.name}/../../../x", "/etc/passwd", "runs/none.html"):
        assert docs.read_docs_file(bad) is None, bad

    # Retention applies in the store: a site 30 days old goes at the next gate run.
    monkeypatch.setenv("MEDIAMON_HOME", str(home))
    monkeypatch.setenv("MEDIAMON_DQ_DOCS_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    old = docs.run_site_dir(store, "old-run", datetime.now(UTC) - timedelta(days=30))
    old.mkdir(parents=True)
    (old / "index.html").write_text("<html></html>", encoding="utf-8")
    (old / docs.RUN_ID_FILE).write_text("old-run", encoding="utf-8")
    wh.poll("Eastern Wire", run_id="gate-run-later")
    run_gate(engine, "gate-run-later", get_settings())
    kept = sorted(p.name for p in (store / "runs").iterdir())
    assert old.name not in kept and site.name in kept and len(kept) == 2
    listed = (store / "index.html").read_text(encoding="utf-8")
    assert "gate-run-later" in listed and "old-run" not in listed


def test_docs_file_serves_only_files_inside_the_docs_directory(home: Path) -> None:
    root = home / "dq_docs"
    site = root / "runs" / "20261207T000000000000Z_run"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html></html>", encoding="utf-8")
    (root / "index.html").write_text("<html></html>", encoding="utf-8")
    (home / "secret.txt").write_text("not for the web", encoding="utf-8")
    (root / "escape").symlink_to(home / "secret.txt")

    assert docs.docs_file(f"runs/{site.name}/index.html") == (site / "index.html").resolve()
    assert docs.docs_file(f"runs/{site.name}/") == (site / "index.html").resolve()
    assert docs.docs_file("") == (root / "index.html").resolve()
    for bad in (
        "../secret.txt",
        "runs/../../secret.txt",
        f"runs/{site.name}/../../../secret.txt",
        "..\\secret.txt",
        str(home / "secret.txt"),
        "escape",
        "runs/missing.html",
    ):
        assert docs.docs_file(bad) is None, bad
