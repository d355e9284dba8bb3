"""Article page fetching and the content-addressed raw archive."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipeline.config import mask_url, mask_urls_in_text
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


class ArchiveError(Exception):
    """The raw archive could not give back a body; see the two kinds below."""


class ArchiveMissingError(ArchiveError):
    """The store answered, but holds no (readable) body under the key: one article's problem,
    unless it is every article's (then the workers do not share one store)."""


class ArchiveUnavailableError(ArchiveError):
    """The store itself could not be read (unreachable, refused, misconfigured): every article
    it holds is out of reach, so the stage stops rather than judge them one by one."""


class RawArchive:
    """Content-addressed store of fetched bodies: key = SHA-256 of the bytes, gzip at rest.

    ``root`` is any fsspec URL (a local directory by default, ``s3://bucket/prefix`` beyond one
    machine); ``storage_options`` go to its filesystem (e.g. an S3 endpoint). A body becomes
    visible whole or not at all, and writing the same body twice is a no-op, so retries never
    duplicate and a reader never sees half a body.
    """

    def __init__(self, root: str, *, storage_options: Mapping[str, Any] | None = None) -> None:
        self.root = root.rstrip("/")
        # What messages show: an fsspec URL may carry credentials (s3://key:secret@bucket).
        self.display = mask_url(self.root)
        try:
            self.fs, self.base = fsspec.core.url_to_fs(
                self.root, **dict(storage_options or {})
            )
        except Exception as exc:  # unknown protocol, missing driver, options it refuses
            raise ArchiveUnavailableError(
                f"raw archive URL {self.display} cannot be used: {type(exc).__name__}: "
                f"{mask_urls_in_text(str(exc))[:300]}"
            ) from exc
        self._local = isinstance(self.fs, LocalFileSystem)

    def _path(self, key: str) -> str:
        return f"{self.base}/{key[:2]}/{key}.gz"

    def put(self, body: bytes) -> str:
        """Store ``body``; return its key.

        Raises :class:`ArchiveUnavailableError` when the store cannot be written.
        """
        key = hashlib.sha256(body).hexdigest()
        try:
            self._put(key, body)
        except Exception as exc:  # s3fs/botocore errors are not all OSErrors
            raise ArchiveUnavailableError(
                f"raw archive at {self.display} cannot be written: {type(exc).__name__}: "
                f"{mask_urls_in_text(str(exc))[:300]}"
            ) from exc
        return key

    def _put(self, key: str, body: bytes) -> None:
        path = self._path(key)
        if self.fs.exists(path):
            return
        # mtime=0 makes the compressed bytes a pure function of the body, so two writers of one
        # body write identical objects and either may win.
        data = gzip.compress(body, mtime=0)
        if not self._local:
            # One PUT: object stores make an object visible only once it is complete.
            self.fs.pipe_file(path, data)
            return
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        # A name of its own: two processes storing the same body at once must not write into
        # one temporary file, nor move it from under each other. The move (a rename on one
        # filesystem, atomic) replaces the other's identical file if it got there first.
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            with self.fs.open(tmp, "wb") as fh:
                fh.write(data)
            self.fs.mv(tmp, path)
        except BaseException:
            # No half-written temporary file left behind (a full disk, an interrupt).
            with contextlib.suppress(OSError):
                self.fs.rm(tmp)
            raise

    def delete(self, key: str) -> None:
        """Remove the body stored under ``key``; a body already gone is no error (retention
        re-runs, two workers pruning at once)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    def exists(self, key: str) -> bool:
        """Whether a body is stored under ``key``."""
        return bool(self.fs.exists(self._path(key)))

    def get(self, key: str) -> bytes:
        """The body stored under ``key``.

        Raises :class:`ArchiveMissingError` when the store has no readable body under the key,
        :class:`ArchiveUnavailableError` when the store cannot be read at all.
        """
        try:
            data = self.fs.cat_file(self._path(key))
        except FileNotFoundError as exc:
            raise ArchiveMissingError(f"{key}: not in the raw archive at {self.display}") from exc
        except Exception as exc:  # s3fs/botocore errors are not all OSErrors
            raise ArchiveUnavailableError(
                f"raw archive at {self.display} cannot be read: {type(exc).__name__}: "
                f"{mask_urls_in_text(str(exc))[:300]}"
            ) from exc
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ArchiveMissingError(f"{key}: stored body is corrupt ({exc})") from exc
