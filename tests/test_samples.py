"""The bundled corpus and its loopback server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from pipeline.samples import PLACEHOLDER
from tests.conftest import SAMPLES


def test_corpus_has_the_promised_shape(manifest: dict[str, Any]) -> None:
    feeds = sorted((SAMPLES / "site" / "feeds").iterdir())
    assert len(feeds) >= 3
    suffixes = {p.suffix for p in feeds}
    assert {".rss", ".atom"} <= suffixes
    articles = manifest["articles"]
    assert len(articles) >= 30
    for art in articles:
        assert (SAMPLES / "site" / art["path"]).is_file(), art["path"]
    roles = {a["role"] for a in articles}
    assert {"original", "repost", "hard_negative"} <= roles
    reposts = [a for a in articles if a["role"] == "repost"]
    assert len(reposts) >= 5
    for rp in reposts:
        assert rp["variant_of"] and rp["variant"], rp["path"]


def test_every_feed_but_the_broken_one_parses(samples_base_url: str) -> None:
    parsed = {}
    for path in (SAMPLES / "site" / "feeds").iterdir():
        body = path.read_bytes().replace(PLACEHOLDER.encode(), samples_base_url.encode())
        parsed[path.name] = feedparser.parse(body)
    assert len(parsed["lakeside-courier.rss"].entries) == 0
    assert parsed["lakeside-courier.rss"].bozo
    # The Harbor Gazette feed is malformed on purpose but still yields its entries.
    assert parsed["harbor-gazette.rss"].bozo and parsed["harbor-gazette.rss"].entries
    for name in ("meridian-post.rss", "eastern-wire.atom"):
        assert not parsed[name].bozo, name
        assert parsed[name].entries


def test_server_sends_realistic_headers_and_honours_conditional_get(
    samples_base_url: str,
) -> None:
    url = f"{samples_base_url}/feeds/meridian-post.rss"
    first = httpx.get(url)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert first.headers["etag"].startswith('"')
    assert "GMT" in first.headers["last-modified"]
    # Links point at the server itself, not at the placeholder.
    assert PLACEHOLDER.encode() not in first.content
    assert samples_base_url.encode() in first.content

    by_etag = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert by_etag.status_code == 304 and by_etag.content == b""
    by_date = httpx.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert by_date.status_code == 304
    stale = httpx.get(url, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200

    page = httpx.get(f"{samples_base_url}/meridian-post/2026/10/ceasefire-talks-stall.html")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    "path", ["/eastern-wire/2026/11/deleted-story.html", "/../pyproject.toml", "/%2e%2e/README.md"]
)
def test_missing_and_outside_paths_are_404(samples_base_url: str, path: str) -> None:
    resp = httpx.get(samples_base_url + path)
    assert resp.status_code == 404


def test_manifest_missing_page_really_is_missing(manifest: dict[str, Any]) -> None:
    for item in manifest["missing"]:
        assert not (SAMPLES / "site" / item["url_path"]).exists()
        assert item["expected"] == "http_404"


def test_corpus_build_script_is_shipped() -> None:
    assert Path(SAMPLES / "build" / "build.py").is_file()
