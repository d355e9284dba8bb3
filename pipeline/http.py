"""The one safe HTTP client. Every network call in Mediamon goes through :class:`SafeClient`.

What it guarantees, whatever the server does:
- connect/read timeouts, and a wall-clock deadline for the whole exchange that holds even against
  a server that dribbles one byte per second (it bounds every socket read, headers included);
- a cap on body bytes *after* content decoding, enforced while streaming: compressed bodies are
  inflated by our own bounded decoder, so a gzip bomb never allocates more than the cap;
- redirects followed by hand (at most ``max_redirects``), each hop re-checked;
- http/https only, and an SSRF guard that refuses private, loopback and reserved addresses after
  DNS resolution unless ``allow_private_networks`` is set (link-local, where cloud metadata
  lives, is refused always). The check happens in the socket layer on the very address we
  connect to, so DNS rebinding (a second lookup that answers differently) cannot slip past it;
  proxies from the environment are ignored for the same reason;
- a descriptive User-Agent; per-host politeness (shared through the warehouse when an engine is
  given, in-process otherwise) with Retry-After honoured; robots.txt (RFC 9309, read with
  Protego) on request, asked only after the SSRF guard has passed the address.
It never raises for network trouble: failures come back as an :class:`HttpResponse` whose
``error_kind`` says what happened.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self
from urllib.parse import SplitResult, urljoin, urlsplit

import httpcore
import httpx
from protego import Protego

from pipeline.config import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

ERROR_KINDS = (
    "timeout",
    "too_large",
    "blocked",
    "connect_error",
    "too_many_redirects",
    "bad_url",
    "protocol_error",
    "robots_disallowed",
    # The host asked us (Retry-After) to stay away longer than we are willing to wait now.
    "deferred",
)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_CODES = frozenset({301, 308})
BACKOFF_CODES = frozenset({429, 503})
# Size of one inflate step: the most a compressed body can allocate beyond what we already hold.
_INFLATE_STEP = 64 * 1024
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
# robots.txt failures that mean the host itself is out of reach: the page is reported with this
# kind, not as robots_disallowed (still nothing fetched, as RFC 9309 asks).
UNREACHABLE_KINDS = frozenset({"connect_error", "timeout"})


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
    redirect_statuses: tuple[int, ...] = ()
    # Seconds the server asked us to wait (429/503 Retry-After), already capped.
    retry_after: float | None = None
    # Raw bytes on the wire (compressed size); 0 for a 304.
    wire_bytes: int = 0

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def permanent_redirect(self) -> str | None:
        """The final URL when every hop was a permanent redirect (301/308), else None."""
        codes = self.redirect_statuses
        if codes and all(c in PERMANENT_REDIRECT_CODES for c in codes) and not self.error_kind:
            return self.final_url
        return None


class BlockedAddressError(Exception):
    """The URL resolves to an address we refuse to contact."""


class UnresolvableHostError(httpcore.ConnectError):
    """The host name did not resolve.

    A network failure that may heal (DNS outage, typo fixed upstream), not the guard's refusal:
    it is reported as ``connect_error`` and retried, never as a permanent ``blocked``. Being an
    httpcore.ConnectError, httpx maps it like any other failed connection.
    """


class HostGate(Protocol):
    """Per-host politeness: who may start a request to a host, and when."""

    def acquire(self, host: str) -> float | None:
        """Block until a request to ``host`` may start and take a slot; return None.

        Returns the number of seconds still to wait instead (taking no slot) when the host has
        asked for a pause longer than the gate is willing to block.
        """

    def release(self, host: str, *, backoff_s: float | None = None) -> None:
        """Give the slot back; ``backoff_s`` pushes the host's next start that far out."""


def _blocked_reason(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local (cloud metadata lives here)"
    if addr.is_private:
        return "private"
    if not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_unspecified:
        return "non-public"
    return None


def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Addresses of ``host`` we may connect to; raises BlockedAddressError if any is refused.

    Every address must pass: a name that mixes public and private answers is refused as a whole,
    since which one a later connection picks is up to the resolver. A name that does not resolve
    raises UnresolvableHostError.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHostError(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for text in addresses:
        reason = _blocked_reason(ipaddress.ip_address(text.split("%", 1)[0]))
        # Link-local (cloud metadata, 169.254.169.254) is refused even when private networks are
        # allowed: no feed or article legitimately lives there.
        if reason and reason.startswith("link-local"):
            raise BlockedAddressError(f"{host} resolves to {reason} address {text}; never fetched")
        if reason and not allow_private:
            raise BlockedAddressError(
                f"{host} resolves to {reason} address {text}; set "
                "MEDIAMON_ALLOW_PRIVATE_NETWORKS=true to allow private networks"
            )
    return addresses


def check_destination(url: str, *, allow_private: bool) -> None:
    """Raise BlockedAddressError (or ValueError for a bad URL) unless ``url`` may be fetched."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"only http and https URLs are fetched, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise ValueError("URL has no host")
    if not allow_private:
        resolve_checked(host, _port_of(parts), allow_private=False)


def _port_of(parts: SplitResult) -> int:
    """The port a URL connects to (raises ValueError for a malformed port)."""
    return parts.port or (443 if parts.scheme == "https" else 80)


def host_key(url: str) -> str:
    """The politeness key of a URL: host name, plus the port when it is not the default one."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or port == (443 if parts.scheme == "https" else 80):
        return host
    return f"{host}:{port}"


def parse_retry_after(value: str | None, *, cap: float, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), capped; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return min(max(when - (now if now is not None else time.time()), 0.0), cap)


# --- in-process politeness (fallback when no warehouse engine is given) ----------------------


@dataclass
class HostThrottle:
    """Minimum gap between request starts, concurrency cap and backoff per host, in-process."""

    min_interval: float
    max_concurrency: int = 2
    max_wait: float = 60.0
    _next: dict[str, float] = field(default_factory=dict)
    _in_flight: dict[str, int] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, host: str) -> None:
        """Block until a request to ``host`` may start, and reserve that start (no slot)."""
        if self.acquire(host) is None:
            self.release(host)

    def acquire(self, host: str) -> float | None:
        """See :class:`HostGate`."""
        with self._cond:
            while True:
                now = time.monotonic()
                start = self._next.get(host, now)
                if start - now > self.max_wait:
                    return start - now
                if self._in_flight.get(host, 0) < self.max_concurrency and start <= now:
                    self._in_flight[host] = self._in_flight.get(host, 0) + 1
                    self._next[host] = now + self.min_interval
                    return None
                self._cond.wait(timeout=max(start - now, 0.01) if start > now else 0.5)

    def release(self, host: str, *, backoff_s: float | None = None) -> None:
        """See :class:`HostGate`."""
        with self._cond:
            self._in_flight[host] = max(self._in_flight.get(host, 1) - 1, 0)
            if backoff_s:
                until = time.monotonic() + backoff_s
                self._next[host] = max(self._next.get(host, 0.0), until)
            self._cond.notify_all()


# --- socket layer: SSRF check on the connected address, total deadline on every read --------


_deadline = threading.local()


def _remaining(timeout: float | None) -> float | None:
    deadline: float | None = getattr(_deadline, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("total deadline for the exchange passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Wraps a socket stream so no read or write outlives the exchange's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves once, checks every address, and connects to a checked address only.

    TLS still verifies the certificate against the URL's host name: httpcore passes the original
    host as ``server_hostname``, not the address we connect to.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_checked(host, port, allow_private=self.allow_private)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address, port, _remaining(timeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
                continue
            return _DeadlineStream(stream)
        raise last or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise BlockedAddressError("unix sockets are never used")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, *, allow_private: bool, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private=allow_private),
        )


# --- bounded content decoding ---------------------------------------------------------------


class UnsupportedEncodingError(Exception):
    """A Content-Encoding we did not ask for and cannot bound (br, zstd, stacked codings)."""


class _BoundedDecoder:
    """Inflates gzip/deflate in steps of at most ``_INFLATE_STEP`` output bytes.

    httpx's own decoders inflate a whole network chunk in one call, so a few KiB of gzip can
    allocate gigabytes before any cap is checked; zlib's ``max_length`` lets us stop at the cap.
    """

    def __init__(self, encoding: str) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise UnsupportedEncodingError(f"unsupported Content-Encoding {encoding!r}")
        self.coding = codings[0] if codings else None
        wbits = 16 + zlib.MAX_WBITS if self.coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(wbits) if self.coding else None
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of ``data``, each at most ``_INFLATE_STEP`` bytes."""
        if self._zlib is None:
            yield data
            return
        if not self._started and self.coding == "deflate" and len(data) >= 2:
            self._started = True
            # "deflate" is zlib-wrapped by the RFC but often raw in the wild: sniff the header.
            zlib_wrapped = (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            if not zlib_wrapped:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        buf = data
        while buf and not self._zlib.eof:
            out = self._zlib.decompress(buf, _INFLATE_STEP)
            buf = self._zlib.unconsumed_tail
            if out:
                yield out
        while not self._zlib.eof:
            out = self._zlib.decompress(b"", _INFLATE_STEP)
            if not out:
                break
            yield out


# --- robots.txt -----------------------------------------------------------------------------


@dataclass
class _Robots:
    expires: float
    rules: Protego | None  # None = everything allowed (no robots.txt)
    disallow_all: str | None = None  # reason, when the file could not be had (RFC 9309 §2.3.1.4)
    # The error kind a refused URL is reported with: the host's own network failure when it
    # could not be reached at all, so a dead host never reads as a site that forbids us.
    kind: str = "robots_disallowed"


class RobotsCache:
    """robots.txt per scheme+host, fetched through the client itself and cached for ``ttl``.

    Rules are read by RFC 9309 (Protego): the group of our product token (case-insensitive,
    groups naming it merged) or else ``*``; the longest matching rule wins, ``allow`` on a tie;
    ``*`` matches any run of characters and a trailing ``$`` anchors the end.
    """

    def __init__(self, client: SafeClient, *, ttl: float, agent: str) -> None:
        self.client = client
        self.ttl = ttl
        self.agent = agent
        self._cache: dict[str, _Robots] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def check(self, url: str) -> str | None:
        """None when ``url`` may be fetched, else the reason it may not."""
        refused = self.refusal(url)
        return refused[1] if refused else None

    def refusal(self, url: str) -> tuple[str, str] | None:
        """None when ``url`` may be fetched, else (error kind, reason): ``robots_disallowed``, or
        ``connect_error`` / ``timeout`` when the host could not be reached for its robots.txt."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:  # one fetch per origin even when many threads ask at once
            entry = self._cache.get(origin)
            if entry is None or entry.expires < time.monotonic():
                entry = self._fetch(origin)
                self._cache[origin] = entry
        if entry.disallow_all:
            return entry.kind, entry.disallow_all
        if entry.rules is not None and not entry.rules.can_fetch(url, self.agent):
            return "robots_disallowed", f"disallowed by {origin}/robots.txt for {self.agent}"
        return None

    def _fetch(self, origin: str) -> _Robots:
        resp = self.client.get(origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES, keep_prefix=True)
        expires = time.monotonic() + self.ttl
        over_cap = resp.error_kind == "too_large" and resp.status is not None and resp.status < 400
        if (resp.error_kind and not over_cap) or resp.status is None or resp.status >= 500:
            # Unreachable robots.txt means "assume complete disallow" (RFC 9309); retry sooner.
            why = resp.error or f"HTTP {resp.status}"
            if resp.status is None and resp.error_kind in UNREACHABLE_KINDS:
                return _Robots(
                    time.monotonic() + min(self.ttl, 600.0),
                    None,
                    f"host {origin} unreachable ({why}); nothing fetched",
                    kind=resp.error_kind,
                )
            return _Robots(
                time.monotonic() + min(self.ttl, 600.0),
                None,
                f"{origin}/robots.txt unavailable ({why}); treated as disallow-all",
            )
        if resp.status >= 400:
            return _Robots(expires, None)  # no robots.txt (4xx): everything allowed
        return _Robots(expires, self._parse(resp.body, truncated=over_cap))

    def _parse(self, body: bytes, *, truncated: bool) -> Protego:
        if truncated:
            # RFC 9309 §2.5: rules past the parsing limit are ignored, those before it still
            # hold. The line cut by the limit is dropped: half a path would change its meaning.
            body = body[: body.rfind(b"\n") + 1]
        # RFC 9309 §2.3: UTF-8; a byte-order mark would otherwise glue itself to the first line.
        rules = Protego.parse(body.decode("utf-8-sig", errors="replace"))
        # Protego builds its group choice and match index on first use; doing that here, under
        # the origin's lock, leaves later checks from many threads read-only.
        rules.can_fetch("/", self.agent)
        return rules


# --- the client -----------------------------------------------------------------------------


class SafeClient:
    """A synchronous, thread-safe HTTP client with the guarantees listed in the module doc.

    ``engine``: share per-host politeness with every other process through the warehouse
    (:mod:`pipeline.politeness`); without it politeness is per process. ``gate`` overrides both.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        engine: Engine | None = None,
        gate: HostGate | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        s = self.settings
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        self._client = httpx.Client(
            timeout=httpx.Timeout(s.http_read_timeout, connect=s.http_connect_timeout),
            follow_redirects=False,
            trust_env=False,
            # Only codings our bounded decoder handles; brotli/zstd are not advertised.
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=_GuardedTransport(allow_private=s.allow_private_networks, limits=limits),
        )
        self.throttle = HostThrottle(s.host_min_interval, s.host_max_concurrency, s.host_max_wait)
        if gate is None and engine is not None:
            from pipeline.politeness import WarehouseHostSchedule

            gate = WarehouseHostSchedule(engine, s)
        self.gate: HostGate = gate or self.throttle
        self.robots = RobotsCache(self, ttl=s.robots_cache_ttl, agent=_agent_token(s.user_agent))

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
        self,
        url: str,
        *,
        max_bytes: int,
        headers: dict[str, str] | None = None,
        robots: bool = False,
        keep_prefix: bool = False,
    ) -> HttpResponse:
        """GET ``url`` following redirects; never raises for network or server misbehaviour.

        ``robots=True`` honours the robots.txt of every host on the way (cached per host); a
        disallowed URL comes back with ``error_kind`` "robots_disallowed" and nothing fetched;
        when the host cannot be reached for its robots.txt, with that failure's kind.
        An address the SSRF guard refuses comes back as "blocked" before robots.txt is asked.
        ``keep_prefix=True``: a body over ``max_bytes`` still fails as "too_large", but carries
        its first ``max_bytes`` bytes instead of none.
        """
        started = time.monotonic()
        budget = self.settings.http_total_timeout
        redirects: list[str] = []
        codes: list[int] = []
        current = url

        def fail(kind: str, message: str, status: int | None = None, **extra: Any) -> HttpResponse:
            return _failure(
                url,
                current,
                started,
                kind,
                message,
                status=status,
                redirects=tuple(redirects),
                redirect_statuses=tuple(codes),
                **extra,
            )

        while True:
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https"):
                return fail("bad_url", f"{current}: only http and https URLs are fetched")
            if not parts.hostname:
                return fail("bad_url", f"{current}: URL has no host")
            if robots:
                refused = self._guard_refusal(parts)
                if refused:
                    return fail(*refused)
                refused = self.robots.refusal(current)
                if refused:
                    return fail(refused[0], f"{current}: {refused[1]}")
            host = host_key(current)
            wait = self.gate.acquire(host)
            if wait is not None:
                return fail(
                    "deferred",
                    f"{host} asked us to pause (Retry-After) for {wait:.0f}s more; not requested",
                )
            hop_started = time.monotonic()
            _deadline.at = hop_started + budget
            backoff: float | None = None
            try:
                outcome = self._one_hop(current, url, headers, max_bytes, started, keep_prefix)
            except _TotalDeadlineError:
                return fail("timeout", f"no complete response within {budget:g}s (total deadline)")
            except httpx.TimeoutException as exc:
                if time.monotonic() >= hop_started + budget - 0.001:
                    msg = f"no complete response within {budget:g}s (total deadline)"
                else:
                    msg = f"{type(exc).__name__}: {exc or 'no data within the timeout'}"
                return fail("timeout", msg)
            except BlockedAddressError as exc:
                return fail("blocked", str(exc))
            except httpx.ConnectError as exc:
                return fail("connect_error", f"cannot connect: {exc}")
            except UnsupportedEncodingError as exc:
                return fail("protocol_error", str(exc))
            except zlib.error as exc:
                return fail("protocol_error", f"corrupt compressed body: {exc}")
            except (httpx.HTTPError, httpx.InvalidURL, httpcore.ProtocolError) as exc:
                # RemoteProtocolError (false Content-Length, garbage status line), ...
                return fail("protocol_error", f"{type(exc).__name__}: {exc}")
            else:
                if isinstance(outcome, HttpResponse):
                    if outcome.status in BACKOFF_CODES:
                        backoff = outcome.retry_after or self.settings.host_default_backoff
                    return _with_redirects(outcome, redirects, codes)
                status, location = outcome
                if len(redirects) >= self.settings.max_redirects:
                    return fail(
                        "too_many_redirects",
                        f"more than {self.settings.max_redirects} redirects (last to {location})",
                        status,
                    )
                redirects.append(current)
                codes.append(status)
                current = location
            finally:
                _deadline.at = None
                budget -= time.monotonic() - hop_started
                self.gate.release(host, backoff_s=backoff)
            if budget <= 0:
                return fail(
                    "timeout", f"redirects took longer than {self.settings.http_total_timeout:g}s"
                )

    def _guard_refusal(self, parts: SplitResult) -> tuple[str, str] | None:
        """(error kind, message) when the guard would refuse this hop's host, else None.

        Asked before robots.txt: otherwise the guard refuses the robots.txt request first, that
        reads as "robots.txt unreachable, disallow all", and a blocked host is recorded as
        robots_disallowed and retried. The socket layer still checks the address it connects
        to, so this early look is for the report only, not what keeps us safe.
        """
        url = parts.geturl()
        try:
            port = _port_of(parts)
        except ValueError as exc:
            return "bad_url", f"{url}: {exc}"
        try:
            resolve_checked(
                parts.hostname or "", port, allow_private=self.settings.allow_private_networks
            )
        except BlockedAddressError as exc:
            return "blocked", str(exc)
        except UnresolvableHostError as exc:
            return "connect_error", f"cannot connect: {exc}"
        return None

    def _one_hop(
        self,
        current: str,
        url: str,
        headers: dict[str, str] | None,
        max_bytes: int,
        started: float,
        keep_prefix: bool = False,
    ) -> HttpResponse | tuple[int, str]:
        """One request: a response, or (status, absolute location) for a redirect."""
        with self._client.stream("GET", current, headers=headers) as resp:
            if resp.status_code in REDIRECT_CODES and resp.headers.get("location"):
                return resp.status_code, urljoin(current, resp.headers["location"])
            hdrs = {k.lower(): v for k, v in resp.headers.items()}
            retry_after = None
            if resp.status_code in BACKOFF_CODES:
                retry_after = parse_retry_after(
                    hdrs.get("retry-after"), cap=self.settings.retry_after_cap
                )
            declared = hdrs.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes and not keep_prefix:
                return _too_large(url, current, resp.status_code, max_bytes, started, retry_after)
            body, wire, truncated = _read_capped(resp, max_bytes, keep_prefix=keep_prefix)
            if truncated:
                big = _too_large(url, current, resp.status_code, max_bytes, started, retry_after)
                return replace(big, wire_bytes=wire, body=body)
            return HttpResponse(
                url=url,
                final_url=current,
                status=resp.status_code,
                headers=hdrs,
                body=body,
                elapsed_ms=int((time.monotonic() - started) * 1000),
                retry_after=retry_after,
                wire_bytes=wire,
            )


class _TotalDeadlineError(Exception):
    pass


def _failure(
    url: str,
    current: str,
    started: float,
    kind: str,
    message: str,
    *,
    status: int | None = None,
    **extra: Any,
) -> HttpResponse:
    """A response carrying no body, only what went wrong (``kind`` is one of ERROR_KINDS)."""
    return HttpResponse(
        url=url,
        final_url=current,
        status=status,
        headers={},
        body=b"",
        elapsed_ms=int((time.monotonic() - started) * 1000),
        error_kind=kind,
        error=message,
        **extra,
    )


def _too_large(
    url: str, current: str, status: int, cap: int, started: float, retry_after: float | None
) -> HttpResponse:
    message = f"body exceeds the cap of {cap} bytes (after decompression)"
    return _failure(
        url,
        current,
        started,
        "too_large",
        message,
        status=status,
        truncated=True,
        retry_after=retry_after,
    )


def _with_redirects(resp: HttpResponse, redirects: list[str], codes: list[int]) -> HttpResponse:
    return replace(resp, redirects=tuple(redirects), redirect_statuses=tuple(codes))


def _read_capped(
    resp: httpx.Response, max_bytes: int, *, keep_prefix: bool = False
) -> tuple[bytes, int, bool]:
    """(decoded body, wire bytes, truncated). Stops reading as soon as the cap is passed.

    A truncated body is empty, or its first ``max_bytes`` bytes with ``keep_prefix``.
    """
    decoder = _BoundedDecoder(resp.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    wire = 0
    for raw in resp.iter_raw():
        wire += len(raw)
        for piece in decoder.feed(raw):
            size += len(piece)
            if size > max_bytes:
                if not keep_prefix:
                    return b"", wire, True
                chunks.append(piece[: len(piece) - (size - max_bytes)])
                return b"".join(chunks), wire, True
            chunks.append(piece)
        if getattr(_deadline, "at", None) is not None and time.monotonic() > _deadline.at:
            raise _TotalDeadlineError
    return b"".join(chunks), wire, False


def _agent_token(user_agent: str) -> str:
    """The product token robots.txt groups match against ("Mediamon" from "Mediamon/0.1 (...)")."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"
