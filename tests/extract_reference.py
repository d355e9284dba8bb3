"""The extraction code as it was before the metadata fast path, kept for the equivalence test.

``reference_metadata`` is the former ``pipeline.extract._metadata``, verbatim: trafilatura's
examine_meta, extract_meta_json, extract_title, extract_author and extract_sitename. The
equivalence test swaps it in for the fast path and requires identical ``extract`` output.
Not used by the pipeline.
"""

from __future__ import annotations

import contextlib
import re

from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
)

_WS = re.compile(r"\s+")


def reference_metadata(tree: HtmlElement) -> dict[str, str | None]:
    """Title, author and site name the way trafilatura's extract_metadata finds them."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # single tokens are handles or site names, as in trafilatura
    # trafilatura's JSON-LD reader has bugs on odd pages; the meta tags then stand alone.
    with contextlib.suppress(Exception):
        meta = extract_meta_json(tree, meta)
    title = meta.title or extract_title(tree)
    author = meta.author or extract_author(tree)
    sitename = meta.sitename or extract_sitename(tree)
    if sitename:
        sitename = sitename.lstrip("@")
        if "." not in sitename and not sitename[0].isupper():
            sitename = sitename.title()

    def clean(value: str | None) -> str | None:
        value = _WS.sub(" ", value).strip() if value else None
        return value or None

    return {"title": clean(title), "author": clean(author), "sitename": clean(sitename)}
