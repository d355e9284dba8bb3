"""Fetching article pages over real loopback HTTP, the raw archive, and the fetch stage."""

from __future__ import annotations

import gzip
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpcore
import pytest
import sqlalchemy as sa

from pipeline import flow
from pipeline.config import Settings, get_settings
from pipeline.dates import as_utc
from pipeline.fetch import (
    ArchiveMissingError,
    ArchiveUnavailableError,
    RawArchive,
    charset_from_content_type,
    fetch_page,
)
from pipeline.http import SafeClient
from pipeline.samples import serving
from pipeline.stages import fetch as fetch_stage
from pipeline.stages import runs
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema import article, pipeline_run
from tests.conftest import SAMPLES, free_port
from tests.test_extract import _seed

PAGE = "eastern-wire/2026/09/korvanets-detentions.html"


# --- raw archive ----------------------------------------------------------------------------


def test_archive_is_content_addressed_compressed_and_idempotent(tmp_path: Path) -> None:
    archive = RawArchive(str(tmp_path / "raw"))
    body = b"<html><body><p>" + b"Lock gates reopened. " * 200 + b"</p></body></html>"
    key = archive.put(body)
    assert key == hashlib.sha256(body).hexdigest()
    files = list((tmp_path / "raw").rglob("*.gz"))
    assert [p.name for p in files] == [f"{key}.gz"]
    stored = files[0].read_bytes()
    assert gzip.decompress(stored) == body and len(stored) < len(body) // 5
    mtime = files[0].stat().st_mtime_ns
    assert archive.put(body) == key  # same body: same key, file untouched
    assert files[0].stat().st_mtime_ns == mtime
    assert archive.get(key) == body
    other = archive.put(body + b"\n")
    assert other != key and archive.get(other) == body + b"\n"


def test_two_writers_of_one_body_do_not_trip_over_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two processes archiving the same body at once (two runs, or two pages with equal bytes):
    # both see no file, both write a temporary one, then both move it into place. With one
    # shared temporary name the second move found nothing to move (FileNotFoundError).
    archive = RawArchive(str(tmp_path / "raw"))
    both_written = threading.Barrier(2)
    move = archive.fs.mv

    def mv_when_both_wrote(src: str, dst: str, **kwargs: Any) -> None:
        both_written.wait(timeout=10)
        move(src, dst, **kwargs)

    monkeypatch.setattr(archive.fs, "exists", lambda path: False)
    monkeypatch.setattr(archive.fs, "mv", mv_when_both_wrote)
    body = b"<html><body>one page, two writers</body></html>"
    with ThreadPoolExecutor(2) as pool:
        keys = list(pool.map(lambda _: archive.put(body), range(2)))
    monkeypatch.undo()
    assert keys == [hashlib.sha256(body).hexdigest()] * 2
    assert archive.get(keys[0]) == body
    assert [p.name for p in (tmp_path / "raw").rglob("*") if p.is_file()] == [f"{keys[0]}.gz"]


def test_archive_works_on_any_fsspec_target() -> None:
    archive = RawArchive("memory://mediamon-test-raw")
    key = archive.put(b"<html>in memory</html>")
    assert RawArchive("memory://mediamon-test-raw").get(key) == b"<html>in memory</html>"


# --- fetch_page -----------------------------------------------------------------------------


def test_charset_from_content_type() -> None:
    assert charset_from_content_type("text/html; charset=Windows-1251") == "windows-1251"
    assert charset_from_content_type('text/html;charset="utf-8"; q=1') == "utf-8"
    assert charset_from_content_type("text/html") is None
    assert charset_from_content_type(None) is None


def test_fetch_page_ok_and_404(home: Path, samples_base_url: str) -> None:
    with SafeClient(get_settings()) as client:
        page = fetch_page(f"{samples_base_url}/{PAGE}", client)
        missing = fetch_page(f"{samples_base_url}/no/such/page.html", client)
    assert page.reason is None and page.status == 200
    assert page.content_type == "text/html" and page.declared_charset == "utf-8"
    assert page.final_url == f"{samples_base_url}/{PAGE}"
    served = (
        (SAMPLES / "site" / PAGE).read_bytes().replace(b"{{BASE_URL}}", samples_base_url.encode())
    )
    assert page.body == served
    assert abs(page.fetched_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert (missing.reason, missing.status, missing.body) == ("http_404", 404, b"")


def test_fetch_page_honours_robots_txt(home: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "private").mkdir(parents=True)
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    (site / "private" / "a.html").write_text("<html><body><p>Hidden</p></body></html>")
    (site / "public.html").write_text("<html><body><p>Open</p></body></html>")
    with serving(site, 0) as base, SafeClient(get_settings()) as client:
        blocked = fetch_page(f"{base}/private/a.html", client)
        allowed = fetch_page(f"{base}/public.html", client)
    assert blocked.reason == "robots_disallowed" and blocked.body == b""
    assert allowed.reason is None and b"Open" in allowed.body


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a socket is opened to, recorded by the backend under the guard."""
    seen: list[str] = []
    real = httpcore.SyncBackend.connect_tcp

    def spy(self: httpcore.SyncBackend, host: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(host)
        return real(self, host, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", spy)
    return seen


def test_fetch_page_reports_a_guarded_address_as_blocked(
    samples_base_url: str, connects: list[str]
) -> None:
    # The guard's refusal, not robots.txt's: before the fix the refused robots.txt request read
    # as "disallow all" and the page came back robots_disallowed.
    guarded = Settings(allow_private_networks=False, host_min_interval=0)
    with SafeClient(guarded) as client:
        page = fetch_page(f"{samples_base_url}/{PAGE}", client)
    assert (page.reason, page.status, page.body) == ("blocked", None, b"")
    assert "loopback" in (page.error or "")
    assert connects == []


# --- the fetch stage ------------------------------------------------------------------------


def test_fetch_stage_archives_bodies_and_records_failures_for_retry(home: Path) -> None:
    engine = get_engine()
    upgrade(engine)
    with serving(SAMPLES / "site", 0) as base:
        ids = _seed(engine, base, [PAGE, "no/such/page.html"], "Eastern Wire")
        # Nothing listens on this port: a transient failure that must be retried later. The
        # robots.txt check comes first and fails closed (RFC 9309: unreachable = disallow all),
        # reported as the connection failure it is.
        dead = _seed(engine, f"http://127.0.0.1:{free_port()}", ["gone.html"], "Dead Host")
        counts = flow.fetch_articles("run-1")
        assert counts["fetched"] == 1
        assert counts["reasons"] == {"http_404": 1, "connect_error": 1}
        with engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(sa.select(article))}
        ok, missing, down = rows[ids[0]], rows[ids[1]], rows[dead[0]]
        assert (ok.status, ok.http_status, ok.content_type) == ("fetched", 200, "text/html")
        assert ok.final_url == f"{base}/{PAGE}" and ok.declared_charset == "utf-8"
        served = (SAMPLES / "site" / PAGE).read_bytes().replace(b"{{BASE_URL}}", base.encode())
        assert ok.raw_key == hashlib.sha256(served).hexdigest()
        assert flow.raw_archive().get(ok.raw_key) == served
        assert ok.fetched_at is not None and ok.attempts == 1
        # Permanent: recorded, kept, never retried automatically.
        assert (missing.status, missing.failure_reason, missing.http_status) == (
            "fetch_failed",
            "http_404",
            404,
        )
        assert missing.next_attempt_at is None and "HTTP 404" in missing.error
        # Transient: retried after the base backoff (fetch_retry_base), not dropped.
        assert (down.status, down.failure_reason, down.attempts) == (
            "fetch_failed",
            "connect_error",
            1,
        )
        assert "unreachable" in down.error
        delay = down.next_attempt_at - down.fetched_at
        assert delay == timedelta(seconds=get_settings().fetch_retry_base)
        # A second run inside the backoff window touches nothing.
        again = flow.fetch_articles("run-2")
        assert (again["fetched"], again["failed"]) == (0, 0)
        # Once the retry time has come, the row is tried again and backs off twice as long.
        with engine.begin() as conn:
            conn.execute(
                sa.update(article)
                .where(article.c.id == dead[0])
                .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert flow.fetch_articles("run-3")["reasons"] == {"connect_error": 1}
    with engine.connect() as conn:
        retried = conn.execute(sa.select(article).where(article.c.id == dead[0])).one()
    assert retried.attempts == 2
    assert retried.next_attempt_at - retried.fetched_at == timedelta(
        seconds=2 * get_settings().fetch_retry_base
    )


def test_fetch_stage_records_blocked_addresses_permanently(home: Path, connects: list[str]) -> None:
    engine = get_engine()
    upgrade(engine)
    # Link-local (cloud metadata) is refused even though the test home allows private networks.
    ids = _seed(engine, "http://169.254.169.254", ["latest/meta-data/"], "Metadata")
    counts = flow.fetch_articles("run-1")
    assert (counts["fetched"], counts["reasons"]) == (0, {"blocked": 1})
    with engine.connect() as conn:
        row = conn.execute(sa.select(article).where(article.c.id == ids[0])).one()
    assert (row.status, row.failure_reason, row.attempts, row.http_status) == (
        "fetch_failed",
        "blocked",
        1,
        None,
    )
    assert "link-local" in row.error
    # Permanent: no retry is scheduled, so later runs never try it again.
    assert row.next_attempt_at is None
    assert flow.fetch_articles("run-2")["failed"] == 0
    assert connects == []


# --- leases (issue 19: concurrent runs fetched the same pages) ------------------------------


def _row(engine: sa.Engine, article_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(article).where(article.c.id == article_id)).one()


def test_a_leased_page_waits_for_its_lease_and_a_lapsed_one_is_fetched(home: Path) -> None:
    engine = get_engine()
    upgrade(engine)
    with serving(SAMPLES / "site", 0) as base:
        held, lapsed = _seed(
            engine, base, [PAGE, "meridian-post/2026/10/prisoner-exchange-180.html"], "Eastern Wire"
        )
        now = datetime.now(UTC)
        with engine.begin() as conn:
            # Another run holds one page's lease (it is fetching it now); the lease on the other
            # was taken by a run that died, and has lapsed.
            for article_id, until in ((held, now + timedelta(minutes=20)), (lapsed, now)):
                conn.execute(
                    sa.update(article)
                    .where(article.c.id == article_id)
                    .values(next_attempt_at=until - timedelta(seconds=1))
                )
        counts = flow.fetch_articles("run-1")
    assert counts["fetched"] == 1
    assert _row(engine, held).status == "discovered"
    done = _row(engine, lapsed)
    assert (done.status, done.attempts, done.next_attempt_at) == ("fetched", 1, None)


def test_a_result_whose_lease_was_taken_over_is_not_written(home: Path) -> None:
    engine = get_engine()
    upgrade(engine)
    with serving(SAMPLES / "site", 0) as base:
        (article_id,) = _seed(engine, base, [PAGE], "Eastern Wire")

        def due() -> sa.Select[tuple[str]]:
            unleased = runs.unleased(datetime.now(UTC))
            return sa.select(article.c.id).where(article.c.status == "discovered", unleased)

        mine = next(runs.leased_batches(engine, due(), size=10, lease=timedelta(seconds=-1)))
        assert mine.ids == [article_id]
        # Our lease lapsed (negative here) and another run took the row with a lease of its own.
        theirs = next(runs.leased_batches(engine, due(), size=10, lease=timedelta(hours=1)))
        assert theirs.ids == [article_id] and theirs.until > mine.until
        row = _row(engine, article_id)
        with SafeClient(get_settings()) as client:
            page = fetch_page(row.url, client)
        archive = flow.raw_archive()
        with engine.begin() as conn:
            written = fetch_stage._record_fetch(
                conn, row, page, archive, get_settings(), mine.until
            )
            assert not written
        assert _row(engine, article_id).status == "discovered"  # left to the holder
        with engine.begin() as conn:
            assert fetch_stage._record_fetch(conn, row, page, archive, get_settings(), theirs.until)
    after = _row(engine, article_id)
    assert (after.status, after.attempts, after.next_attempt_at) == ("fetched", 1, None)


# --- raw archive location and failures (issue 17) -------------------------------------------


def test_archive_defaults_to_home_and_follows_the_url_setting(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    key = flow.raw_archive().put(b"<html>kept at home</html>")
    assert (home / "raw" / key[:2] / f"{key}.gz").is_file()
    shared = tmp_path_factory.mktemp("shared") / "archive"
    monkeypatch.setenv("MEDIAMON_RAW_ARCHIVE_URL", f"file://{shared}")
    get_settings.cache_clear()
    other = flow.raw_archive().put(b"<html>kept in the shared store</html>")
    assert (shared / other[:2] / f"{other}.gz").is_file()
    assert not (home / "raw" / other[:2]).exists()


def test_a_missing_body_and_an_unreadable_store_are_different_failures(tmp_path: Path) -> None:
    archive = RawArchive(str(tmp_path / "raw"))
    with pytest.raises(ArchiveMissingError, match="not in the raw archive"):
        archive.get("ab" * 32)
    key = archive.put(b"<html>soon damaged</html>")
    (tmp_path / "raw" / key[:2] / f"{key}.gz").write_bytes(b"not gzip")
    with pytest.raises(ArchiveMissingError, match="corrupt"):
        archive.get(key)
    # A store whose root is a file: nothing under it can be read or written.
    (tmp_path / "plain-file").write_text("not a directory")
    broken = RawArchive(str(tmp_path / "plain-file"))
    with pytest.raises(ArchiveUnavailableError, match="cannot be read"):
        broken.get(key)
    with pytest.raises(ArchiveUnavailableError, match="cannot be written"):
        broken.put(b"<html>nowhere to go</html>")


def test_archive_messages_never_show_a_secret_in_its_url() -> None:
    archive = RawArchive("memory://user:hunter2@mediamon-secret-raw")
    assert "hunter2" not in archive.display
    with pytest.raises(ArchiveMissingError) as err:
        archive.get("cd" * 32)
    assert "hunter2" not in str(err.value)


def test_fetch_stage_fails_when_every_page_of_several_hosts_cannot_connect(home: Path) -> None:
    engine = get_engine()
    upgrade(engine)
    port = free_port()
    # Nothing listens there on three loopback addresses: three hosts, one network error.
    hosts = [f"http://127.0.0.{n}:{port}" for n in (2, 3, 4)]
    for n, base in enumerate(hosts):
        _seed(engine, base, ["a.html", "b.html"], f"Cut Off {n}")
    with pytest.raises(flow.StageFailedError, match="connect_error") as err:
        flow.fetch_articles("run-offline")
    assert "can this worker reach the internet" in str(err.value)
    with engine.connect() as conn:
        run = conn.execute(
            sa.select(pipeline_run).where(pipeline_run.c.run_id == "run-offline")
        ).one()
        rows = conn.execute(sa.select(article.c.status, article.c.next_attempt_at)).all()
    assert run.status == "failed" and "connect_error" in run.error
    assert run.counts["reasons"] == {"connect_error": 6}
    # The rows are recorded like any failed fetch, and retried.
    assert {(status, when is not None) for status, when in rows} == {("fetch_failed", True)}


def test_one_unreachable_host_is_a_warning_not_a_failed_stage(home: Path) -> None:
    engine = get_engine()
    upgrade(engine)
    _seed(engine, f"http://127.0.0.2:{free_port()}", ["a.html", "b.html", "c.html"], "Down")
    counts = flow.fetch_articles("run-one-host")
    assert counts["reasons"] == {"connect_error": 3} and counts["fetched"] == 0


def test_fetch_stage_leaves_its_batch_untouched_when_the_archive_cannot_be_written(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine()
    upgrade(engine)
    (home / "plain-file").write_text("not a directory")
    monkeypatch.setenv("MEDIAMON_RAW_ARCHIVE_URL", str(home / "plain-file"))
    get_settings.cache_clear()
    with serving(SAMPLES / "site", 0) as base:
        ids = _seed(engine, base, [PAGE], "Eastern Wire")
        with pytest.raises(flow.StageFailedError, match="archive_unavailable"):
            flow.fetch_articles("run-no-archive")
    with engine.connect() as conn:
        row = conn.execute(sa.select(article).where(article.c.id == ids[0])).one()
        run = conn.execute(
            sa.select(pipeline_run).where(pipeline_run.c.run_id == "run-no-archive")
        ).one()
    # Nothing written, and due again at once (the lease is given back, not left to lapse).
    assert (row.status, row.attempts, row.raw_key) == ("discovered", 0, None)
    assert as_utc(row.next_attempt_at) <= datetime.now(UTC)
    assert run.status == "failed" and "cannot be written" in run.error


def test_an_archive_url_that_cannot_be_used_fails_the_stage_with_it_masked(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine()
    upgrade(engine)
    monkeypatch.setenv("MEDIAMON_RAW_ARCHIVE_URL", "nosuchstore://keeper:s3cr3t@vault/raw")
    get_settings.cache_clear()
    with pytest.raises(flow.StageFailedError, match="cannot be used") as err:
        flow.extract_articles("run-bad-url")
    assert "s3cr3t" not in str(err.value) and "keeper:***@vault" in str(err.value)
    with engine.connect() as conn:
        run = conn.execute(
            sa.select(pipeline_run).where(pipeline_run.c.run_id == "run-bad-url")
        ).one()
    assert run.status == "failed" and "archive_unavailable" in run.error
    assert "s3cr3t" not in run.error
