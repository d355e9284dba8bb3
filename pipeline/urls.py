"""URL canonicalization and keys."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import normalize_url

# Campaign and click identifiers: they name how a reader arrived, never which page they read.
TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_", "__hs", "oly_")
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "vero_id",
        "ncid",
        "cmpid",
        "ito",
        "at_medium",
        "at_campaign",
        "ocid",
        "spm",
        "sr_share",
        "ref_src",
        "ref_url",
        "s_cid",
        "wt_mc",
        "cid_source",
    }
)


def _strip_tracking(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def canonicalize(url: str) -> str:
    """Canonical form of an entry URL: lower-case host, default port and fragment dropped,
    query parameters sorted, tracking parameters (utm_*, fbclid, gclid, ...) removed.

    courlan's *strict* mode is not used: it drops every parameter outside a short list, which
    would merge distinct articles addressed by query (``story.php?sid=123``).
    """
    raw = url.strip()
    try:
        normal = str(normalize_url(raw))
    except ValueError:
        return raw
    return _strip_tracking(urlunsplit(urlsplit(normal)._replace(fragment="")))


def url_key(url: str) -> str:
    """The article key: SHA-256 (hex) of the canonical URL."""
    return hashlib.sha256(canonicalize(url).encode("utf-8")).hexdigest()
