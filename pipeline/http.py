"""The one safe HTTP client. Every network call in Mediamon goes through :class:`SafeClient`.

What it guarantees, whatever the server does:
- connect/read timeouts and a wall-clock deadline for the whole exchange;
- a cap on body bytes *after* content decoding, enforced while streaming, so a compressed bomb or
  an endless body stops at the cap instead of filling memory;
- redirects followed by hand (at most ``max_redirects``), each hop re-checked;
- http/https only, and an SSRF guard that refuses private, loopback, link-local and reserved
  addresses after DNS resolution unless ``allow_private_networks`` is set;
- a descriptive User-Agent, and a minimum gap between request starts to one host.
It never raises for network trouble: failures come back as an :class:`HttpResponse` whose
``error_kind`` says what happened.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx

from pipeline.config import Settings, get_settings

ERROR_KINDS = (
    "timeout",
    "too_large",
    "blocked",
    "connect_error",
    "too_many_redirects",
    "bad_url",
    "protocol_error",
)


@dataclass(frozen=True)
class HttpResponse:
    """Outcome of one GET, after redirects. ``status`` is None when no response arrived."""

    url: str
    final_url: str
    status: int | None
    headers: dict[str, str]
    body: bytes
    elapsed_ms: int
    redirects: tuple[str, ...] = ()
    error_kind: str | None = None
    error: str | None = None
    truncated: bool = False

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class BlockedAddressError(Exception):
    """The URL resolves to an address we refuse to contact."""


def check_destination(url: str, *, allow_private: bool) -> None:
    """Raise BlockedAddressError (or ValueError for a bad URL) unless ``url`` may be fetched."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"only http and https URLs are fetched, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise ValueError("URL has no host")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BlockedAddressError(f"cannot resolve {host}: {exc}") from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global or addr.is_multicast:
            raise BlockedAddressError(
                f"{host} resolves to non-public address {addr}; set "
                "MEDIAMON_ALLOW_PRIVATE_NETWORKS=true to allow private networks"
            )


@dataclass
class HostThrottle:
    """Minimum gap between request starts to one host, within this process."""

    min_interval: float
    _next: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, host: str) -> None:
        """Block until a request to ``host`` may start, and reserve that slot."""
        if self.min_interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self.min_interval
        if start > now:
            time.sleep(start - now)


class SafeClient:
    """A synchronous, thread-safe HTTP client with the guarantees listed in the module doc."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        s = self.settings
        self._client = httpx.Client(
            timeout=httpx.Timeout(s.http_read_timeout, connect=s.http_connect_timeout),
            follow_redirects=False,
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self.throttle = HostThrottle(s.host_min_interval)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._client.close()

    def get(
        self, url: str, *, max_bytes: int, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        """GET ``url`` following redirects; never raises for network or server misbehaviour."""
        started = time.monotonic()
        deadline = started + self.settings.http_total_timeout
        redirects: list[str] = []
        current = url

        def fail(kind: str, message: str, status: int | None = None) -> HttpResponse:
            return HttpResponse(
                url=url,
                final_url=current,
                status=status,
                headers={},
                body=b"",
                elapsed_ms=int((time.monotonic() - started) * 1000),
                redirects=tuple(redirects),
                error_kind=kind,
                error=message,
            )

        while True:
            try:
                check_destination(current, allow_private=self.settings.allow_private_networks)
            except BlockedAddressError as exc:
                return fail("blocked", str(exc))
            except ValueError as exc:
                return fail("bad_url", f"{current}: {exc}")
            self.throttle.wait(urlsplit(current).hostname or "")
            try:
                with self._client.stream("GET", current, headers=headers) as resp:
                    if resp.is_redirect and "location" in resp.headers:
                        if len(redirects) >= self.settings.max_redirects:
                            return fail(
                                "too_many_redirects",
                                f"more than {self.settings.max_redirects} redirects",
                                resp.status_code,
                            )
                        redirects.append(current)
                        current = urljoin(current, resp.headers["location"])
                        continue
                    body, truncated = self._read_capped(resp, max_bytes, deadline)
                    if truncated:
                        return fail(
                            "too_large",
                            f"body exceeds the cap of {max_bytes} bytes",
                            resp.status_code,
                        )
                    return HttpResponse(
                        url=url,
                        final_url=str(resp.url),
                        status=resp.status_code,
                        headers={k.lower(): v for k, v in resp.headers.items()},
                        body=body,
                        elapsed_ms=int((time.monotonic() - started) * 1000),
                        redirects=tuple(redirects),
                    )
            except _DeadlineExceededError:
                return fail(
                    "timeout",
                    f"no complete response within {self.settings.http_total_timeout}s",
                )
            except httpx.TimeoutException as exc:
                return fail("timeout", f"{type(exc).__name__}: {exc}")
            except httpx.ConnectError as exc:
                return fail("connect_error", f"cannot connect: {exc}")
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                # DecodingError (bad gzip), RemoteProtocolError (false Content-Length), ...
                return fail("protocol_error", f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _read_capped(resp: httpx.Response, max_bytes: int, deadline: float) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                return b"", True
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _DeadlineExceededError
        return b"".join(chunks), False


class _DeadlineExceededError(Exception):
    pass
