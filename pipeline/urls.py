"""URL canonicalization and keys."""

from __future__ import annotations

import hashlib

from courlan import normalize_url


def canonicalize(url: str) -> str:
    """Canonical form of an entry URL: lower-case host, no fragment, no tracking parameters.

    ``courlan`` in strict mode strips utm_*, fbclid, gclid and similar campaign parameters.
    """
    try:
        return str(normalize_url(url.strip(), strict=True))
    except ValueError:
        return url.strip()


def url_key(url: str) -> str:
    """The article key: SHA-256 (hex) of the canonical URL."""
    return hashlib.sha256(canonicalize(url).encode("utf-8")).hexdigest()
