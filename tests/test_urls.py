"""Canonical entry URLs and their keys."""

from __future__ import annotations

import pytest

from pipeline.urls import canonicalize, url_key


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (
            "HTTPS://Example.COM:443/a/b?utm_source=x&id=3&fbclid=1&gclid=2#frag",
            "https://example.com/a/b?id=3",
        ),
        (
            "http://example.com/story.php?sid=123&utm_medium=feed&b=2",
            "http://example.com/story.php?b=2&sid=123",
        ),
        ("http://example.com/a?mc_cid=1&msclkid=2&yclid=3&_ga=4", "http://example.com/a"),
        ("  http://example.com/a  ", "http://example.com/a"),
    ],
)
def test_canonicalize_strips_tracking_and_keeps_identity(raw: str, canonical: str) -> None:
    assert canonicalize(raw) == canonical


def test_query_parameters_that_name_the_page_are_kept() -> None:
    # Strict courlan would drop "sid" and merge two different stories into one key.
    assert url_key("http://x.test/s.php?sid=1") != url_key("http://x.test/s.php?sid=2")


def test_key_is_sha256_of_the_canonical_url() -> None:
    import hashlib

    key = url_key("http://Example.com/a?utm_source=rss")
    assert key == hashlib.sha256(b"http://example.com/a").hexdigest()
    assert url_key("http://example.com/a") == key
