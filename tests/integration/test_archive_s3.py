"""The raw archive on a real S3 API (moto's server on loopback), shared by two workers (issue 17).

Two "workers" are two settings with different MEDIAMON_HOME that share only the warehouse and the
archive URL, as two machines would: one fetches, the other extracts, and nothing depends on a
worker's own disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from moto.server import ThreadedMotoServer

from pipeline import flow
from pipeline.config import get_settings
from pipeline.fetch import ArchiveMissingError, RawArchive
from pipeline.warehouse import engine as engine_mod
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema import article
from tests.conftest import free_port, import_feeds

BUCKET = "mediamon-raw"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 API on a free loopback port, with one empty bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Credentials in the standard AWS variables, a fresh bucket; the options JSON to use it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mediamon-test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mediamon-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    options = json.dumps({"client_kwargs": {"endpoint_url": s3_endpoint}})
    yield {"url": f"s3://{BUCKET}/raw", "options": options, "endpoint": s3_endpoint}
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _objects(endpoint: str) -> dict[str, object]:
    client = boto3.client("s3", endpoint_url=endpoint)
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {obj["Key"]: obj["LastModified"] for obj in listed}


def _become(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Become another worker: other settings, same process (caches dropped)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    engine_mod._cached_engine.cache_clear()


def test_archive_on_s3_is_content_addressed_and_idempotent(s3: dict[str, str]) -> None:
    archive = RawArchive(s3["url"], storage_options=json.loads(s3["options"]))
    body = b"<html><body><p>" + b"The ferry resumed its winter timetable. " * 50 + b"</p></html>"
    key = archive.put(body)
    stored = _objects(s3["endpoint"])
    # One object, under its key, with no temporary object left behind.
    assert list(stored) == [f"raw/{key[:2]}/{key}.gz"]
    assert archive.put(body) == key
    assert _objects(s3["endpoint"]) == stored  # not written again
    fresh = RawArchive(s3["url"], storage_options=json.loads(s3["options"]))
    assert fresh.get(key) == body
    with pytest.raises(ArchiveMissingError, match="not in the raw archive"):
        fresh.get("ef" * 32)


@pytest.mark.postgres
def test_one_worker_fetches_another_extracts_through_s3(
    s3: dict[str, str],
    pg_url: str,
    home: Path,
    sample_feeds: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = {
        "MEDIAMON_WAREHOUSE_URL": pg_url,
        "MEDIAMON_RAW_ARCHIVE_URL": s3["url"],
        "MEDIAMON_RAW_ARCHIVE_OPTIONS": s3["options"],
    }
    worker_a, worker_b = home, tmp_path_factory.mktemp("worker-b")
    _become(monkeypatch, MEDIAMON_HOME=str(worker_a), **shared)
    engine = get_engine()
    try:
        upgrade(engine)
        import_feeds(sample_feeds)  # the fixture registered them in the SQLite default
        flow.poll_feeds("run-1")
        fetched = flow.fetch_articles("run-1")["fetched"]
        assert fetched > 0
    finally:
        engine.dispose()
    _become(monkeypatch, MEDIAMON_HOME=str(worker_b), **shared)
    engine = get_engine()
    try:
        counts = flow.extract_articles("run-1")
        with engine.connect() as conn:
            keys = set(
                conn.execute(
                    sa.select(article.c.raw_key).where(article.c.raw_key.is_not(None))
                ).scalars()
            )
    finally:
        engine.dispose()
    # Every fetched page was read back by the other worker; failures are the pages' own.
    assert counts["extracted"] + counts["failed"] == fetched
    assert counts["extracted"] > 0 and "archive_missing" not in counts["reasons"]
    assert set(_objects(s3["endpoint"])) == {f"raw/{k[:2]}/{k}.gz" for k in keys}
    # Neither worker kept anything on its own disk.
    assert not (worker_a / "raw").exists() and not (worker_b / "raw").exists()


def test_extract_fails_at_once_when_the_s3_endpoint_is_unreachable(
    s3: dict[str, str], home: Path, sample_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine()
    upgrade(engine)
    _become(
        monkeypatch,
        MEDIAMON_RAW_ARCHIVE_URL=s3["url"],
        MEDIAMON_RAW_ARCHIVE_OPTIONS=s3["options"],
    )
    flow.poll_feeds("run-1")
    fetched = flow.fetch_articles("run-1")["fetched"]
    # The store goes away (nothing listens on this port); one attempt per request, so the test
    # measures our handling rather than botocore's backoff.
    dead = {
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{free_port()}"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
        "retries": 1,
    }
    _become(monkeypatch, MEDIAMON_RAW_ARCHIVE_OPTIONS=json.dumps(dead))
    with pytest.raises(flow.StageFailedError, match="archive_unavailable") as err:
        flow.extract_articles("run-1")
    assert "s3://mediamon-raw/raw cannot be read" in str(err.value)
    engine = get_engine()
    with engine.connect() as conn:
        statuses = set(conn.execute(sa.select(article.c.status)).scalars())
    # Nothing was judged: the fetched rows wait, untouched, for a run that can read the store.
    assert "fetched" in statuses and "extract_failed" not in statuses
    assert fetched > 0
