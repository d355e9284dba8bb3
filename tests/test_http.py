"""The safe HTTP client against the hostile server: guard, caps, deadlines, redirects, robots."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpcore
import pytest

import pipeline.http as http_mod
from pipeline.config import Settings
from pipeline.http import (
    ROBOTS_MAX_BYTES,
    HostThrottle,
    RobotsCache,
    SafeClient,
    host_key,
    parse_retry_after,
)
from pipeline.samples import serving
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


# --- robots.txt by RFC 9309 -----------------------------------------------------------------

# RFC 9309 §5.1, "Simple Example".
RFC_SIMPLE = """\
User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot
"""
# RFC 9309 §5.2, "Longest Match".
RFC_LONGEST = """\
User-Agent: foobot
Allow: /example/page/
Disallow: /example/page/disallowed.gif
"""
# Issue 19: the standard library took the first rule and read `*` and `$` literally.
ISSUE_19 = """\
User-agent: *
Disallow: /
Allow: /news/
Disallow: /*/print
Disallow: /*.pdf$
"""
# RFC 9309 §2.2.2: equivalent allow and disallow rules, allow wins; §2.2.3: special characters
# meant literally are percent-encoded in rules; §2.2.2: non-ASCII paths match their UTF-8 escapes.
RFC_ENCODING = """\
User-agent: *
Allow: /folder
Disallow: /folder
Disallow: /path/file-with-a-%2A.html
Disallow: /path/foo-%24
Disallow: /foo/bar/\u30c4
"""


@contextmanager
def _robots_site(root: Path, body: bytes) -> Iterator[str]:
    """A loopback site whose only file is ``robots.txt``; yields its base URL."""
    root.mkdir()
    (root / "robots.txt").write_bytes(body)
    with serving(root, 0) as base:
        yield base


def _allowed(base: str, agent: str, paths: list[str]) -> dict[str, bool]:
    """For each path, whether ``agent`` may fetch it by the robots.txt served at ``base``."""
    with SafeClient(FAST) as client:
        robots = RobotsCache(client, ttl=60, agent=agent)
        return {path: robots.check(base + path) is None for path in paths}


@pytest.mark.parametrize(
    ("body", "agent", "expected"),
    [
        pytest.param(
            RFC_SIMPLE,
            "foobot",
            {
                "/example/page.html": True,
                "/example/allowed.gif": True,
                "/example/disallowed.gif": False,
                "/anything/else": False,
            },
            id="5.1-foobot",
        ),
        pytest.param(
            RFC_SIMPLE,
            "barbot",
            {"/example/page.html": False, "/example/other.html": True, "/a.gif": True},
            id="5.1-barbot-own-group-not-star",
        ),
        pytest.param(
            RFC_SIMPLE, "bazbot", {"/example/page.html": False}, id="5.1-bazbot-shares-group"
        ),
        pytest.param(
            RFC_SIMPLE,
            "quxbot",
            {"/example/page.html": True, "/a.gif": True},
            id="5.1-quxbot-empty-group",
        ),
        pytest.param(
            RFC_SIMPLE,
            "Mediamon",
            {
                "/example/page.html": False,
                "/publications/report.html": True,
                # Longest match: Allow /publications/ (14 octets) beats Disallow *.gif$ (6).
                "/publications/chart.gif": True,
                "/images/chart.gif": False,
                "/images/chart.gif?size=2": True,  # `$` anchors the end of path and query
                "/robots.txt": True,  # implicitly allowed (§2.2.2)
            },
            id="5.1-star-group",
        ),
        pytest.param(
            RFC_LONGEST,
            "foobot",
            {
                "/example/page/": True,
                "/example/page/disallowed.gif": False,
                "/example/page/allowed.gif": True,
            },
            id="5.2-longest-match",
        ),
        pytest.param(
            ISSUE_19,
            "Mediamon",
            {
                "/news/x": True,
                "/sport/x": False,
                "/": False,
                "/news/a/print": False,  # Disallow /*/print (8) is longer than Allow /news/ (7)
                "/news/report.pdf": False,
                "/news/report.pdf?page=2": True,
                "/news/report.pdfx": True,
            },
            id="issue-19-longest-star-dollar",
        ),
        pytest.param(
            "User-agent: Mediamon\nDisallow: /*/print\n",
            "Mediamon",
            {"/a/print": False, "/a/b/print?x=1": False, "/print": True, "/a/page": True},
            id="issue-19-star-in-the-middle",
        ),
        pytest.param(
            RFC_ENCODING,
            "Mediamon",
            {
                "/folder/page": True,
                "/path/file-with-a-*.html": False,
                "/path/file-with-a-x.html": True,
                "/path/foo-$": False,
                "/foo/bar/%E3%83%84": False,
                "/foo/bar/baz": True,
            },
            id="2.2-tie-and-encoding",
        ),
    ],
)
def test_robots_txt_rfc9309_examples(
    tmp_path: Path, body: str, agent: str, expected: dict[str, bool]
) -> None:
    with _robots_site(tmp_path / "site", body.encode()) as base:
        assert _allowed(base, agent, list(expected)) == expected


GROUPS = """\
User-agent: *
Disallow: /

User-agent: otherbot
Allow: /

user-agent: mediamon
Disallow: /drafts/

User-agent: MEDIAMON
Disallow: /private/
"""


def test_robots_txt_groups_match_our_product_token(tmp_path: Path) -> None:
    # The client's agent is the product token of its User-Agent ("Mediamon/0.1 (...)"),
    # matched case-insensitively; groups naming it are merged (§2.2.1) and `*` no longer applies.
    assert http_mod._agent_token(FAST.user_agent) == "Mediamon"
    with (
        _robots_site(tmp_path / "groups", GROUPS.encode()) as groups,
        _robots_site(tmp_path / "others", b"User-agent: otherbot\nDisallow: /\n") as others,
        # A byte-order mark must not hide the first group (RFC 9309 §2.3: UTF-8).
        _robots_site(tmp_path / "bom", b"\xef\xbb\xbfUser-agent: *\nDisallow: /x/\n") as bom,
        SafeClient(FAST) as client,
    ):
        asked = [
            (groups, "/news/a"),
            (groups, "/drafts/a"),
            (groups, "/private/a"),
            (others, "/anything"),
            (bom, "/x/a"),
            (bom, "/y"),
        ]
        verdicts = {path: client.robots.check(base + path) is None for base, path in asked}
    assert verdicts == {
        "/news/a": True,
        "/drafts/a": False,
        "/private/a": False,
        "/anything": True,  # no group for us and no `*` group: no rules apply
        "/x/a": False,
        "/y": True,
    }


class _StatusRobotsHandler(BaseHTTPRequestHandler):
    status: ClassVar[int] = 200
    hits: ClassVar[list[str]] = []

    def log_message(self, fmt: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.hits.append(self.path)
        code = self.status if self.path == "/robots.txt" else 200
        body = b"User-agent: *\nDisallow: /\n" if self.path == "/robots.txt" else b"ok"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize(
    ("status", "allowed"),
    [(500, False), (503, False), (401, True), (403, True), (404, True), (410, True)],
)
def test_robots_txt_unreachable_disallows_unavailable_allows(status: int, allowed: bool) -> None:
    # RFC 9309 §2.3.1.3/4: a 4xx robots.txt means no rules; a 5xx one means complete disallow.
    _StatusRobotsHandler.status = status
    _StatusRobotsHandler.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatusRobotsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with SafeClient(FAST) as client:
            resp = client.get(f"{base}/page", max_bytes=100, robots=True)
    finally:
        server.shutdown()
        server.server_close()
    if allowed:
        assert resp.status == 200 and _StatusRobotsHandler.hits == ["/robots.txt", "/page"]
    else:
        assert resp.error_kind == "robots_disallowed" and "unavailable" in (resp.error or "")
        assert f"HTTP {status}" in (resp.error or "")
        assert _StatusRobotsHandler.hits == ["/robots.txt"]


def test_robots_txt_past_the_size_cap_keeps_the_rules_before_it(tmp_path: Path) -> None:
    head = b"User-agent: *\nDisallow: /private/\n"
    pad = b"#" * 99 + b"\n"
    body = head + pad * ((ROBOTS_MAX_BYTES - 20 - len(head)) // len(pad))
    body += b"#" * (ROBOTS_MAX_BYTES - 20 - len(body) - 1) + b"\n"
    # The cap falls inside this line, after "Disallow: /cut-here-": half a rule, dropped.
    body += b"Disallow: /cut-here-and-more\n" + b"Disallow: /late/\n"
    assert len(body) > ROBOTS_MAX_BYTES and body[:ROBOTS_MAX_BYTES].endswith(b"/cut-here-")
    with _robots_site(tmp_path / "site", body) as base:
        verdicts = _allowed(base, "Mediamon", ["/private/a", "/cut-here-x", "/late/x", "/ok"])
    assert verdicts == {"/private/a": False, "/cut-here-x": True, "/late/x": True, "/ok": True}


def test_keep_prefix_returns_the_capped_prefix(hostile: str) -> None:
    with SafeClient(FAST) as client:
        resp = client.get(f"{hostile}/endless.rss", max_bytes=1000, keep_prefix=True)
        plain = client.get(f"{hostile}/endless.rss", max_bytes=1000)
    assert resp.error_kind == "too_large" and resp.truncated and len(resp.body) == 1000
    assert plain.error_kind == "too_large" and plain.body == b""


# --- the guard comes before robots.txt ------------------------------------------------------


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a socket is opened to, recorded by the backend under the guard."""
    seen: list[str] = []
    real = httpcore.SyncBackend.connect_tcp

    def spy(self: httpcore.SyncBackend, host: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(host)
        return real(self, host, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", spy)
    return seen


def test_guard_refusal_is_blocked_before_robots_txt(hostile: str, connects: list[str]) -> None:
    meta_url = "http://169.254.169.254/latest/meta-data/"
    with SafeClient(GUARDED) as client, SafeClient(FAST) as open_client:
        loop = client.get(f"{hostile}/ok-a.rss", max_bytes=1 << 20, robots=True)
        meta = client.get(meta_url, max_bytes=100, robots=True)
        # Private networks allowed: link-local (cloud metadata) is refused all the same.
        meta_open = open_client.get(meta_url, max_bytes=100, robots=True)
    # No socket opened, robots.txt included: the guard answered first.
    assert connects == []
    assert (loop.error_kind, loop.status) == ("blocked", None)
    assert "loopback" in (loop.error or "")
    for resp in (meta, meta_open):
        assert resp.error_kind == "blocked" and "link-local" in (resp.error or "")


def test_redirect_to_a_blocked_address_with_robots_is_blocked(
    hostile: str, connects: list[str]
) -> None:
    with SafeClient(FAST) as client:
        resp = client.get(f"{hostile}/to-metadata.rss", max_bytes=1 << 20, robots=True)
    assert resp.error_kind == "blocked" and "link-local" in (resp.error or "")
    assert resp.redirects == (f"{hostile}/to-metadata.rss",)
    assert set(connects) == {"127.0.0.1"}


def test_unresolvable_host_is_a_connect_error_not_blocked(
    monkeypatch: pytest.MonkeyPatch, connects: list[str]
) -> None:
    # A failed lookup may heal (a DNS outage): retried as connect_error, never a permanent block.
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(http_mod.socket, "getaddrinfo", no_dns)
    with SafeClient(GUARDED) as client:
        page = client.get("http://news.example/a.html", max_bytes=100, robots=True)
        feed = client.get("http://news.example/feed.rss", max_bytes=100)
    for resp in (page, feed):
        assert resp.error_kind == "connect_error" and "cannot resolve" in (resp.error or "")
    assert connects == []
