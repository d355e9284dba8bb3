"""The safe HTTP client against the hostile server: guard, caps, deadlines, redirects, robots."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

import pipeline.http as http_mod
from pipeline.config import Settings
from pipeline.http import HostThrottle, SafeClient, host_key, parse_retry_after
from tests.hostile_server import hostile_serving

REPO = Path(__file__).resolve().parents[1]
FAST = Settings(
    allow_private_networks=True,
    host_min_interval=0,
    http_total_timeout=4,
    http_read_timeout=2,
    http_connect_timeout=2,
)
GUARDED = FAST.model_copy(update={"allow_private_networks": False})


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    with hostile_serving() as (base, _port, _log):
        yield base


def test_guard_refuses_loopback_and_metadata_when_off(hostile: str) -> None:
    with SafeClient(GUARDED) as client:
        loop = client.get(f"{hostile}/ok-a.rss", max_bytes=1 << 20)
        meta = client.get("http://169.254.169.254/latest/meta-data/", max_bytes=1 << 20)
        named = client.get(hostile.replace("127.0.0.1", "localhost") + "/ok-a.rss", max_bytes=100)
    assert (loop.error_kind, loop.status) == ("blocked", None) and "loopback" in (loop.error or "")
    assert meta.error_kind == "blocked" and "link-local" in (meta.error or "")
    assert named.error_kind == "blocked"


def test_metadata_is_refused_even_when_private_networks_are_allowed(hostile: str) -> None:
    with SafeClient(FAST) as client:
        resp = client.get(f"{hostile}/to-metadata.rss", max_bytes=1 << 20)
    assert resp.error_kind == "blocked" and resp.redirects == (f"{hostile}/to-metadata.rss",)


def test_each_redirect_hop_is_rechecked(hostile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = http_mod.resolve_checked

    def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
        return (
            ["127.0.0.1"]
            if host == "public.test"
            else real(host, port, allow_private=allow_private)
        )

    monkeypatch.setattr(http_mod, "resolve_checked", resolve)
    port = hostile.rsplit(":", 1)[1]
    with SafeClient(GUARDED) as client:
        ok = client.get(f"http://public.test:{port}/ok-a.rss", max_bytes=1 << 20)
        hop = client.get(f"http://public.test:{port}/to-loopback.rss", max_bytes=1 << 20)
    assert ok.status == 200
    assert hop.error_kind == "blocked" and hop.final_url.startswith("http://127.0.0.1:")


def test_a_name_with_any_private_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # DNS rebinding: one lookup, every answer checked; 192.0.2.x is never contacted.
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 80)) for a in ("8.8.8.8", "127.0.0.1")
    ]
    monkeypatch.setattr(http_mod.socket, "getaddrinfo", lambda *a, **k: answers)
    with pytest.raises(http_mod.BlockedAddressError, match="loopback"):
        http_mod.resolve_checked("rebind.test", 80, allow_private=False)


def test_connection_goes_to_the_address_that_was_checked(
    hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = socket.getaddrinfo

    def counting(host: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)
        return real("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(http_mod.socket, "getaddrinfo", counting)
    port = hostile.rsplit(":", 1)[1]
    with SafeClient(FAST) as client:
        resp = client.get(f"http://rebind.test:{port}/ok-a.rss", max_bytes=1 << 20)
    # The name is looked up once, in the guarded backend; the socket then connects to the literal
    # address that passed the check (create_connection "resolves" it without DNS).
    assert resp.status == 200 and calls == ["rebind.test", "127.0.0.1"]


@pytest.mark.parametrize(
    ("path", "kind", "text"),
    [
        ("/gzip-bomb.rss", "too_large", "after decompression"),
        ("/endless.rss", "too_large", "cap"),
        ("/slowloris.rss", "timeout", "total deadline"),
        ("/slow-headers.rss", "timeout", "total deadline"),
        ("/false-length.rss", "protocol_error", "RemoteProtocolError"),
        ("/loop/0", "too_many_redirects", "more than 5 redirects"),
        ("/nope", None, None),
    ],
)
def test_hostile_responses_end_bounded(hostile: str, path: str, kind: str, text: str) -> None:
    started = time.monotonic()
    with SafeClient(FAST) as client:
        resp = client.get(hostile + path, max_bytes=10 * 1024 * 1024)
    assert time.monotonic() - started < FAST.http_total_timeout + 2
    assert resp.error_kind == kind
    if text:
        assert text in (resp.error or "")
    else:
        assert resp.status == 404


_BOMB_CHILD = """
import sys, tracemalloc
from pipeline.config import Settings
from pipeline.http import SafeClient
tracemalloc.start()
with SafeClient(Settings(allow_private_networks=True, host_min_interval=0)) as c:
    r = c.get(sys.argv[1], max_bytes=10 * 1024 * 1024)
print(r.error_kind, tracemalloc.get_traced_memory()[1])
"""


def test_gzip_bomb_never_allocates_much_beyond_the_cap(hostile: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _BOMB_CHILD, f"{hostile}/gzip-bomb.rss"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out[0] == "too_large"
    # The bomb inflates to 256 MiB; the peak stays near the 10 MiB cap.
    assert int(out[1]) < 16 * 1024 * 1024, out


def test_deflate_raw_and_zlib_wrapped_are_both_decoded() -> None:
    import zlib

    payload = b"<rss>" + b"x" * 100_000 + b"</rss>"
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    for encoded in (zlib.compress(payload), raw.compress(payload) + raw.flush()):
        decoder = http_mod._BoundedDecoder("deflate")
        pieces = list(decoder.feed(encoded))
        assert b"".join(pieces) == payload
        assert max(len(p) for p in pieces) <= http_mod._INFLATE_STEP
    with pytest.raises(http_mod.UnsupportedEncodingError):
        http_mod._BoundedDecoder("br")


class _RobotsHandler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def log_message(self, fmt: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = (
            b"User-agent: Mediamon\nDisallow: /private/\n" if self.path == "/robots.txt" else b"ok"
        )
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_robots_txt_is_honoured_and_cached_per_host() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RobotsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with SafeClient(FAST) as client:
            assert client.get(f"{base}/private/a", max_bytes=100).status == 200  # robots off
            denied = client.get(f"{base}/private/b", max_bytes=100, robots=True)
            allowed = client.get(f"{base}/public/c", max_bytes=100, robots=True)
    finally:
        server.shutdown()
        server.server_close()
    assert denied.error_kind == "robots_disallowed" and denied.status is None
    assert allowed.status == 200
    assert _RobotsHandler.hits.count("/robots.txt") == 1
    assert "/private/b" not in _RobotsHandler.hits


def test_retry_after_parsing_and_cap() -> None:
    assert parse_retry_after("120", cap=86400) == 120
    assert parse_retry_after("9999999", cap=86400) == 86400
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", cap=86400, now=1445412480 - 60) == 60
    assert parse_retry_after("soon", cap=10) is None


def test_429_retry_after_pauses_the_host(hostile: str) -> None:
    settings = FAST.model_copy(update={"host_max_wait": 5})
    with SafeClient(settings) as client:
        first = client.get(f"{hostile}/429.rss", max_bytes=100)
        second = client.get(f"{hostile}/ok-a.rss", max_bytes=1 << 20)
    assert (first.status, first.retry_after) == (429, 120)
    assert second.error_kind == "deferred" and "Retry-After" in (second.error or "")


def test_in_process_throttle_spaces_starts() -> None:
    throttle = HostThrottle(0.2, max_concurrency=2)
    starts: list[float] = []
    for _ in range(3):
        assert throttle.acquire("a.test") is None
        starts.append(time.monotonic())
        throttle.release("a.test")
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.19


def test_host_key() -> None:
    assert host_key("https://Example.org:443/x") == "example.org"
    assert host_key("http://127.0.0.1:8765/f.rss") == "127.0.0.1:8765"
