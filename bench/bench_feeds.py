"""Feed polling throughput on loopback: full bodies, 304s, and bare feedparser on the same bodies.

    .venv/bin/python bench/bench_feeds.py [--feeds N] [--entries M] [--threads T]

Serves N generated RSS feeds (M entries each, with ETags) on 127.0.0.1, then measures
- full-body polls: ``poll_feed`` with no validators (download, hash, parse, canonicalize URLs);
- 304 polls: ``poll_feed`` with the validators from the first round (no body transferred);
- bare ``feedparser.parse`` of the same bodies in this process, single-threaded;
and prints feeds/s for each and the ratio of full-body polling to bare parsing.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shlex
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import feedparser

from pipeline.config import Settings
from pipeline.feeds import FeedState, poll_feed
from pipeline.http import SafeClient


def make_feed(i: int, entries: int) -> bytes:
    date = formatdate(time.time() - 3600, usegmt=True)
    items = "".join(
        f"<item><title>Feed {i} story {j}</title>"
        f"<link>http://bench.test/{i}/{j}.html?utm_source=rss</link>"
        f"<guid>bench-{i}-{j}</guid><pubDate>{date}</pubDate>"
        f"<description>Summary of story {j} of feed {i}, a generated sentence.</description></item>"
        for j in range(entries)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench {i}</title><link>http://bench.test/</link><description>b</description>"
        f"{items}</channel></rss>"
    ).encode()


def serve(bodies: list[bytes]) -> ThreadingHTTPServer:
    etags = ['"' + hashlib.sha256(b).hexdigest()[:16] + '"' for b in bodies]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            i = int(self.path.strip("/").split(".")[0])
            if self.headers.get("If-None-Match") == etags[i]:
                self.send_response(304)
                self.send_header("ETag", etags[i])
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etags[i])
            self.send_header("Content-Length", str(len(bodies[i])))
            self.end_headers()
            self.wfile.write(bodies[i])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    bodies = [make_feed(i, args.entries) for i in range(args.feeds)]
    server = serve(bodies)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    # One loopback host serves every feed: lift the per-host limits so the bench measures the
    # poller, not the politeness it would apply to a real site.
    settings = Settings(
        allow_private_networks=True, host_min_interval=0, host_max_concurrency=args.threads
    )
    now = datetime.now(UTC)
    urls = [f"{base}/{i}.rss" for i in range(args.feeds)]
    with SafeClient(settings) as client, ThreadPoolExecutor(args.threads) as pool:
        t = time.perf_counter()
        full = list(pool.map(lambda u: poll_feed(FeedState(u), client, now=now), urls))
        full_s = time.perf_counter() - t
        states = [
            FeedState(u, r.etag, r.last_modified, r.body_hash)
            for u, r in zip(urls, full, strict=True)
        ]
        t = time.perf_counter()
        again = list(pool.map(lambda s: poll_feed(s, client, now=now), states))
        not_modified_s = time.perf_counter() - t
    server.shutdown()
    assert all(r.status == "ok" and len(r.entries) == args.entries for r in full)
    assert all(r.status == "not_modified" and r.bytes == 0 for r in again)
    t = time.perf_counter()
    for body in bodies:
        feedparser.parse(io.BytesIO(body))
    bare_s = time.perf_counter() - t
    n = args.feeds
    size = sum(len(b) for b in bodies) / n / 1024
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(f"{n} feeds x {args.entries} entries (~{size:.1f} KiB each), {args.threads} threads")
    print(f"full-body poll (GET 200 + hash + parse): {n / full_s:8.1f} feeds/s")
    print(f"conditional poll (304, no body):          {n / not_modified_s:8.1f} feeds/s")
    print(f"bare feedparser.parse, same bodies:       {n / bare_s:8.1f} feeds/s (1 thread)")
    print(f"ratio full-body poll / bare parse:        {bare_s / full_s:8.2f}")


if __name__ == "__main__":
    main()
