"""Article page fetching and the content-addressed raw archive."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import fsspec

from pipeline.http import SafeClient


def charset_from_content_type(value: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value, lower-cased, or None."""
    if not value:
        return None
    for param in value.split(";")[1:]:
        name, _, raw = param.partition("=")
        if name.strip().lower() == "charset":
            return raw.strip().strip("\"'").lower() or None
    return None


@dataclass(frozen=True)
class Page:
    """A fetched page. ``reason`` is set (and ``body`` empty) when the fetch failed."""

    url: str
    final_url: str
    status: int | None
    content_type: str
    body: bytes
    fetched_at: datetime
    reason: str | None = None
    error: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # Seconds the server asked us to stay away (Retry-After on 429/503), when it did.
    retry_after: float | None = None

    @property
    def declared_charset(self) -> str | None:
        """The charset parameter of the Content-Type header, if the server sent one."""
        for name, value in self.headers:
            if name.lower() == "content-type":
                return charset_from_content_type(value)
        return None


def fetch_page(url: str, client: SafeClient, *, now: datetime | None = None) -> Page:
    """Fetch one article page through the safe client (robots.txt honoured); never raises.

    ``reason`` is the client's error kind or ``http_<status>``: an address the SSRF guard refuses
    is ``blocked`` (checked before robots.txt, so it is never mistaken for robots_disallowed).
    """
    resp = client.get(url, max_bytes=client.settings.page_max_bytes, robots=True)
    fetched_at = now or datetime.now(UTC)
    reason: str | None = None
    error = resp.error
    if resp.error_kind:
        reason = resp.error_kind
    elif resp.status is None or resp.status >= 400:
        reason = f"http_{resp.status}"
        error = f"HTTP {resp.status} for {resp.final_url}"
    return Page(
        url=url,
        final_url=resp.final_url,
        status=resp.status,
        content_type=resp.content_type,
        body=b"" if reason else resp.body,
        fetched_at=fetched_at,
        reason=reason,
        error=error,
        headers=tuple(resp.headers.items()),
        retry_after=resp.retry_after,
    )


class RawArchive:
    """Content-addressed store of fetched bodies: key = SHA-256 of the bytes, gzip on disk.

    ``root`` is any fsspec URL (a local directory by default, ``s3://bucket/prefix`` in
    production). Writing the same body twice is a no-op, so retries never duplicate.
    """

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self.fs, self.base = fsspec.core.url_to_fs(self.root)

    def _path(self, key: str) -> str:
        return f"{self.base}/{key[:2]}/{key}.gz"

    def put(self, body: bytes) -> str:
        """Store ``body``; return its key."""
        key = hashlib.sha256(body).hexdigest()
        path = self._path(key)
        if not self.fs.exists(path):
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            # A name of its own: two processes storing the same body at once must not write into
            # one temporary file, nor move it from under each other. The move replaces the
            # other's identical file if it got there first.
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            try:
                # mtime=0 makes the compressed bytes a pure function of the body.
                with self.fs.open(tmp, "wb") as fh:
                    fh.write(gzip.compress(body, mtime=0))
                self.fs.mv(tmp, path)
            except BaseException:
                # No half-written temporary file left behind (a full disk, an interrupt).
                with contextlib.suppress(OSError):
                    self.fs.rm(tmp)
                raise
        return key

    def get(self, key: str) -> bytes:
        """The body stored under ``key``."""
        with self.fs.open(self._path(key), "rb") as fh:
            data: bytes = fh.read()
        return gzip.decompress(data)
