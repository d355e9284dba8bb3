"""A hostile feed server on loopback: every way a feed host can hurt a poller, one path each.

Every response is bounded (bytes and seconds) so a broken client cannot make the server run
forever. Bodies are generated here; nothing is copied from anywhere. Run it with
:func:`hostile_serving`; paths are listed in :data:`CASES` with the outcome a poller should record.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

HEALTHY_ENTRIES = 5
# Longest any one response may take on the server side (s): the slowloris stops after this.
MAX_RESPONSE_S = 40
ENDLESS_CAP = 256 * 1024 * 1024  # the "endless" body stops here if the client never does
BOMB_INFLATED = 256 * 1024 * 1024  # the gzip bomb inflates to 256 MiB, 25x the feed cap


def rss(title: str, items: list[tuple[str, str, str]], *, extra_head: str = "") -> bytes:
    """A small RSS 2.0 document; items are (link, title, pubDate)."""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{d}</pubDate><description>{t}.</description></item>"
        for link, t, d in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{extra_head}<rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://hostile.test/</link>"
        f"<description>test</description>{body}</channel></rss>"
    ).encode()


def healthy(name: str) -> bytes:
    """A valid feed with HEALTHY_ENTRIES entries, one of them with a tracking parameter."""
    now = formatdate(time.time() - 3600, usegmt=True)
    items = [
        (f"http://hostile.test/{name}/story-{i}.html", f"{name} story {i}", now)
        for i in range(HEALTHY_ENTRIES - 1)
    ]
    items.append((f"http://hostile.test/{name}/tracked.html?utm_source=rss&amp;fbclid=x", "t", now))
    return rss(f"Healthy {name}", items)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a0 "lollollollollollollollollollol">\n'
    + b"".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">\n'.encode() for i in range(1, 10)
    )
    + b']>\n<rss version="2.0"><channel><title>&a9;</title>'
    b"<item><title>&a9;</title><link>http://hostile.test/laughs</link></item></channel></rss>"
)

_BIG = "x" * 50_000
QUADRATIC = (
    f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY big "{_BIG}">]>\n'
    '<rss version="2.0"><channel><title>q</title><item><title>'
    + "&big;" * 40_000
    + "</title><link>http://hostile.test/quadratic</link></item></channel></rss>"
).encode()

HTML_PAGE = (
    b"<!doctype html><html><head><title>Not a feed</title></head><body>"
    b"<h1>Welcome</h1><p>This is a web page, served with an RSS content type.</p></body></html>"
)


def _bad_dates() -> bytes:
    items = [
        ("http://hostile.test/dates/future.html", "future", "Mon, 01 Jan 2999 00:00:00 GMT"),
        ("http://hostile.test/dates/ancient.html", "ancient", "Fri, 01 Jan 1971 00:00:00 GMT"),
        ("http://hostile.test/dates/garbage.html", "garbage", "the day after tomorrow"),
        ("http://hostile.test/dates/none.html", "none", ""),
    ]
    return rss("Dates", items)


def _wrong_charset() -> bytes:
    # Declared ISO-8859-1 in the header, actually UTF-8 bytes (a common CMS bug).
    return rss("Café Zürich", [("http://hostile.test/charset/a.html", "Kyiv – Київ", "")])


def _utf16_no_bom() -> bytes:
    return (
        healthy("utf16")
        .decode()
        .replace('encoding="utf-8"', 'encoding="utf-16"')
        .encode("utf-16-le")
    )


class _Handler(BaseHTTPRequestHandler):
    server_version = "Hostile/1.0"
    protocol_version = "HTTP/1.1"
    routes: ClassVar[dict[str, Callable[[_Handler], None]]] = {}
    log: ClassVar[list[tuple[float, str, str]]] = []
    log_lock = threading.Lock()

    def log_message(self, fmt: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.log_lock:
            self.log.append((time.time(), self.headers.get("Host", ""), self.path))
        path = self.path.split("?", 1)[0]
        route = self.routes.get(path)
        if route is None and path.startswith("/loop/"):
            route = _Handler.loop
        if route is None:
            self.send(404, b"not found", "text/plain")
            return
        # The client giving up on a hostile body is the expected outcome, not an error.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
            route(self)

    def send(
        self,
        code: int,
        body: bytes,
        ctype: str = "application/rss+xml; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # --- cases ---
    def ok_a(self) -> None:
        self.send(200, healthy("alpha"), headers={"ETag": '"alpha-1"'})

    def ok_b(self) -> None:
        self.send(200, healthy("beta"))

    def stale_etag(self) -> None:
        # Same bytes every time, a new ETag every time, and If-None-Match ignored.
        self.send(200, healthy("stale"), headers={"ETag": f'"{time.time_ns()}"'})

    def laughs(self) -> None:
        self.send(200, BILLION_LAUGHS)

    def quadratic(self) -> None:
        self.send(200, QUADRATIC)

    def gzip_bomb(self) -> None:
        body = _bomb()
        self.send(200, body, headers={"Content-Encoding": "gzip"})

    def endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()  # no length: body runs until the connection closes
        chunk = b"<item><title>more</title></item>" * 2048
        sent = 0
        while sent < ENDLESS_CAP:
            self.wfile.write(chunk)
            sent += len(chunk)
        self.close_connection = True

    def slowloris(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(MAX_RESPONSE_S))
        self.end_headers()
        self.wfile.flush()
        for _ in range(MAX_RESPONSE_S):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(1)

    def slow_headers(self) -> None:
        # Headers dribbled one byte a second: read timeouts never fire, only a total deadline.
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * MAX_RESPONSE_S:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(1)
        self.close_connection = True

    def false_length(self) -> None:
        body = healthy("short")
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body) * 10))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def loop(self) -> None:
        n = int(self.path.rsplit("/", 1)[-1] or 0)
        self.send(302, b"", "text/plain", {"Location": f"/loop/{n + 1}"})

    def to_loopback(self) -> None:
        port = self.server.server_address[1]
        self.send(302, b"", "text/plain", {"Location": f"http://127.0.0.1:{port}/ok-a.rss"})

    def to_metadata(self) -> None:
        self.send(302, b"", "text/plain", {"Location": "http://169.254.169.254/latest/meta-data/"})

    def wrong_charset(self) -> None:
        self.send(200, _wrong_charset(), "application/rss+xml; charset=iso-8859-1")

    def utf16(self) -> None:
        self.send(200, _utf16_no_bom(), "application/rss+xml")

    def html(self) -> None:
        self.send(200, HTML_PAGE)

    def dates(self) -> None:
        self.send(200, _bad_dates())

    def too_many(self) -> None:
        self.send(429, b"slow down", "text/plain", {"Retry-After": "120"})

    def error500(self) -> None:
        self.send(500, b"internal error", "text/plain")

    def gone(self) -> None:
        self.send(410, b"gone", "text/plain")

    def moved(self) -> None:
        self.send(301, b"", "text/plain", {"Location": "/ok-b.rss"})

    def local_file(self) -> None:
        # A body that names a local file: feedparser given raw bytes would open and read it.
        self.send(200, b"/etc/hostname")


_BOMB: list[bytes] = []
_BOMB_LOCK = threading.Lock()


def _bomb() -> bytes:
    """~250 KiB of gzip that inflates to 256 MiB of zeros; built in steps, never held inflated."""
    with _BOMB_LOCK:
        if not _BOMB:
            comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            zeros = bytes(1024 * 1024)
            parts = [comp.compress(zeros) for _ in range(BOMB_INFLATED // len(zeros))]
            parts.append(comp.flush())
            _BOMB.append(b"".join(parts))
        return _BOMB[0]


# path -> (handler, feed statuses a poller may record for it)
CASES: dict[str, tuple[Callable[[_Handler], None], frozenset[str]]] = {
    "/ok-a.rss": (_Handler.ok_a, frozenset({"ok"})),
    "/ok-b.rss": (_Handler.ok_b, frozenset({"ok"})),
    # feedparser strips DOCTYPE entity declarations, so entity bombs parse unexpanded (a warning).
    "/billion-laughs.rss": (_Handler.laughs, frozenset({"ok", "parse_error"})),
    "/quadratic.rss": (_Handler.quadratic, frozenset({"ok", "parse_error"})),
    "/gzip-bomb.rss": (_Handler.gzip_bomb, frozenset({"http_error"})),
    "/endless.rss": (_Handler.endless, frozenset({"http_error"})),
    "/slowloris.rss": (_Handler.slowloris, frozenset({"timeout"})),
    "/slow-headers.rss": (_Handler.slow_headers, frozenset({"timeout"})),
    "/false-length.rss": (_Handler.false_length, frozenset({"http_error"})),
    "/loop/0": (_Handler.loop, frozenset({"http_error"})),
    "/to-loopback.rss": (_Handler.to_loopback, frozenset({"blocked"})),
    "/to-metadata.rss": (_Handler.to_metadata, frozenset({"blocked"})),
    "/wrong-charset.rss": (_Handler.wrong_charset, frozenset({"ok"})),
    "/utf16-no-bom.rss": (_Handler.utf16, frozenset({"ok", "parse_error"})),
    "/html.rss": (_Handler.html, frozenset({"parse_error"})),
    "/dates.rss": (_Handler.dates, frozenset({"ok"})),
    "/429.rss": (_Handler.too_many, frozenset({"http_error"})),
    "/500.rss": (_Handler.error500, frozenset({"http_error"})),
    "/410.rss": (_Handler.gone, frozenset({"disabled"})),
    "/moved.rss": (_Handler.moved, frozenset({"ok"})),
    "/stale-etag.rss": (_Handler.stale_etag, frozenset({"ok"})),
    "/local-file.rss": (_Handler.local_file, frozenset({"parse_error"})),
}
_Handler.routes = {path: handler for path, (handler, _) in CASES.items()}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up on hostile bodies is the expected case, not an error


@contextmanager
def hostile_serving() -> Iterator[tuple[str, int, list[tuple[float, str, str]]]]:
    """Serve the cases on 127.0.0.1 (a free port); yield (base URL, port, request log)."""
    _Handler.log = []
    _bomb()  # built before serving, so its cost never counts against a client's timeout
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hostile-http", daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield f"http://127.0.0.1:{port}", port, _Handler.log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


if __name__ == "__main__":  # manual exploration: python -m tests.hostile_server
    with hostile_serving() as (base, _port, _log):
        print(f"hostile server at {base}; paths: {', '.join(CASES)}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
