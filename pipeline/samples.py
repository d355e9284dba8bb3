"""Serve the bundled demo corpus (samples/site) over HTTP on loopback.

The files hold the placeholder ``{{BASE_URL}}`` wherever they link to the corpus itself; it is
replaced by the server's own address at serve time. Responses carry the headers a real news site
sends (Content-Type with charset, ETag, Last-Modified) and honour conditional GET, so the feed
poller can be exercised end to end.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

PLACEHOLDER = "{{BASE_URL}}"

CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
}


def render(path: Path, base_url: str) -> bytes:
    """A corpus file's bytes with the placeholder replaced by ``base_url``."""
    return path.read_bytes().replace(PLACEHOLDER.encode(), base_url.encode())


def _handler(root: Path, base_url: str) -> type[BaseHTTPRequestHandler]:
    root = root.resolve()

    class Handler(BaseHTTPRequestHandler):
        server_version = "MediamonSamples/1.0"

        def log_message(self, fmt: str, *args: object) -> None:
            # Quiet: the demo prints its own summary; errors still surface as HTTP statuses.
            pass

        def do_GET(self) -> None:
            rel = unquote(urlsplit(self.path).path).lstrip("/")
            path = (root / rel).resolve()
            if root not in path.parents or not path.is_file():
                self._send(404, b"not found\n", "text/plain; charset=utf-8")
                return
            body = render(path, base_url)
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            mtime = int(path.stat().st_mtime)
            headers = {"ETag": etag, "Last-Modified": formatdate(mtime, usegmt=True)}
            if self._not_modified(etag, mtime):
                self._send(304, b"", None, headers)
                return
            ctype = CONTENT_TYPES.get(path.suffix) or (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            self._send(200, body, ctype, headers)

        def _not_modified(self, etag: str, mtime: int) -> bool:
            inm = self.headers.get("If-None-Match")
            if inm is not None:
                return etag in [t.strip() for t in inm.split(",")]
            ims = self.headers.get("If-Modified-Since")
            if ims:
                try:
                    return mtime <= parsedate_to_datetime(ims).timestamp()
                except (TypeError, ValueError):
                    return False
            return False

        def _send(
            self,
            code: int,
            body: bytes,
            ctype: str | None,
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(code)
            if ctype:
                self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if code != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if code != 304:
                self.wfile.write(body)

    return Handler


def make_server(
    root: Path, port: int = 0, host: str = "127.0.0.1", *, base_url: str | None = None
) -> ThreadingHTTPServer:
    """A server for ``root`` bound to ``host:port`` (0 = any free port); not yet serving.

    ``base_url`` is what the corpus's links are filled with: by default the bound address, but
    a server listening on 0.0.0.0 in a container is reached by its service name (compose).
    """
    server = ThreadingHTTPServer((host, port), BaseHTTPRequestHandler)
    if base_url is None:
        bound_host, bound_port = server.server_address[:2]
        base_url = f"http://{bound_host!s}:{bound_port}"
    server.RequestHandlerClass = _handler(root, base_url.rstrip("/"))
    server.daemon_threads = True
    return server


def base_url_of(server: ThreadingHTTPServer) -> str:
    """``http://host:port`` of a server made by :func:`make_server`."""
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


@contextmanager
def serving(root: Path, port: int = 0) -> Iterator[str]:
    """Serve ``root`` in a background thread for the duration of the block; yield the base URL."""
    server = make_server(root, port)
    thread = threading.Thread(target=server.serve_forever, name="samples-http", daemon=True)
    thread.start()
    try:
        yield base_url_of(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
