"""Extraction in a worker process that can be killed.

trafilatura's own timeout covers only the signal-free parts of lxml; a page that sends its pure
Python heuristics into a long walk (deeply nested markup, tens of MB) cannot be interrupted from
inside. So extraction runs in one child process per worker, reused page after page (start-up costs
about as much as a hundred extractions), and the parent kills and replaces it when a page runs past
the time limit. The page is recorded as ``extraction_timeout`` and the batch goes on.

The child speaks over two pipes with :mod:`multiprocessing.connection` framing. It is started with
``subprocess`` rather than ``multiprocessing`` so that it also works from daemonic processes (Celery
workers) and does not re-import the parent's ``__main__``.

The child answers several pages in one message, and a page's clock does not depend on answers
arriving: before each page the child writes the page's number and start time into a small shared
memory block (:class:`_Progress`), which the parent reads to know which page is running and for
how long. One message and one wake-up of the parent per page had cost about a twentieth of the
extraction time.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import mmap
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from operator import attrgetter
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from pipeline.config import PAYWALL_TEASER_WORDS
from pipeline.extract import HTML_TYPES, Article, ExtractResult, precheck

if TYPE_CHECKING:
    # Not imported at run time: the child process never needs settings, and pydantic costs
    # a third of a second of every worker start.
    from pipeline.config import Settings

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[1]
# Start-up imports trafilatura, lxml and justext; on a loaded two-core host that took up to ~5 s.
STARTUP_TIMEOUT = 120.0
# Resetting caches is a gc pass and a few cache_clear calls: never near this.
RESET_TIMEOUT = 60.0
# Pages queued in the child ahead of the one it works on: enough to keep it busy between the
# parent's reads of its answers (one per FLUSH_SECONDS), few enough that a kill re-sends little.
IN_FLIGHT_PAGES = 16
# Pipe buffer asked for (Linux caps it at /proc/sys/fs/pipe-max-size, 1 MiB by default). Requests
# are queued only while they fit in it, so writing one never blocks: see extract_many.
PIPE_BYTES = 1024 * 1024
# The child holds finished answers while more pages wait in its pipe, and sends them once this
# much time has passed since the first of them started, or FLUSH_PAGES are held, or it has
# nothing left to read. Answers held when the child is killed are lost, and their pages sent
# again: this bounds that work too.
FLUSH_SECONDS = 0.02
FLUSH_PAGES = 16


@dataclass(frozen=True)
class ExtractJob:
    """One page to extract: what :func:`pipeline.extract.extract` needs besides the limits."""

    body: bytes
    url: str
    content_type: str
    fetched_at: datetime
    declared_charset: str | None = None


@dataclass
class _Entry:
    """A page on its way through the worker; ``result`` is set once it is known."""

    job: ExtractJob
    result: ExtractResult | None = None
    message: bytes = b""

    @property
    def wire_bytes(self) -> int:
        """Bytes the request takes in the pipe: the message and its length header."""
        return len(self.message) + 16


class WorkerStartError(RuntimeError):
    """The extraction worker process could not be started (broken environment)."""


class _Progress:
    """Which page the child works on and since when, in memory both processes map.

    Three 8-byte fields: the number of the last page started (pages are numbered from 1 in the
    order the child reads them), its start time (``time.monotonic()``, one clock for every
    process on the host) and the number of the last page finished. The child writes the start
    time before the page number, so a reader that sees a number sees its time (x86 and ARM
    keep aligned 8-byte stores whole; :meth:`read` retries if the number moved while it read).
    """

    _LAYOUT = struct.Struct("=qdq")
    _STARTED = struct.Struct("=q")
    _AT = struct.Struct("=d")
    SIZE = _LAYOUT.size

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._map = mmap.mmap(fd, self.SIZE)

    @classmethod
    def create(cls) -> _Progress:
        """A zeroed block backed by an anonymous file (memfd where the OS has it)."""
        memfd = getattr(os, "memfd_create", None)
        if memfd is not None:
            fd = memfd("mediamon-extract-progress", 0)
        else:  # pragma: no cover - not Linux
            with tempfile.TemporaryFile() as fh:
                fd = os.dup(fh.fileno())
        os.ftruncate(fd, cls.SIZE)
        return cls(fd)

    def start(self, page: int) -> None:
        """The child begins page number ``page`` now."""
        self._AT.pack_into(self._map, 8, time.monotonic())
        self._STARTED.pack_into(self._map, 0, page)

    def finish(self, page: int) -> None:
        """The child is done with page number ``page``."""
        self._STARTED.pack_into(self._map, 16, page)

    def read(self) -> tuple[int, float, int]:
        """(last page started, when it started, last page finished)."""
        while True:
            started, at, finished = self._LAYOUT.unpack_from(self._map)
            if self._STARTED.unpack_from(self._map)[0] == started:
                return started, at, finished

    def close(self) -> None:
        """Unmap and close the backing file."""
        self._map.close()
        os.close(self.fd)


class ExtractionWorker:
    """A persistent, killable extraction process. Not thread-safe: one per batch loop.

    Args:
        timeout: seconds one page may take before the worker is killed (extraction_timeout).
        min_chars: shorter text is ``too_short``.
        max_tags: pages with more tags are ``extraction_timeout`` without being parsed.
        paywall_teaser_words: a page with paywall markup and fewer words is ``paywall_suspected``.
        reset_pages: ``end_batch`` resets the caches once at least this many pages went through
            since the last reset (1: at every batch end).
    """

    def __init__(
        self,
        *,
        timeout: float,
        min_chars: int,
        max_tags: int,
        reset_pages: int = 1,
        paywall_teaser_words: int = PAYWALL_TEASER_WORDS,
    ) -> None:
        self.timeout = timeout
        self.min_chars = min_chars
        self.max_tags = max_tags
        self.paywall_teaser_words = paywall_teaser_words
        self.reset_pages = reset_pages
        self.restarts = 0
        self.resets = 0
        # Pages sent to a new child because the one they were queued in was replaced.
        self.resent = 0
        self._since_reset = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._sent: deque[_Entry] = deque()
        self._recv: Connection | None = None
        self._send: Connection | None = None
        # Readiness of the reply pipe, registered once per child: Connection.poll builds a
        # selector at every call, a tenth of the parent's CPU per page.
        self._poller: select.poll | None = None
        self._pipe_bytes = 64 * 1024  # the Linux default, until the child's pipe says more
        self._progress: _Progress | None = None
        # Answers read from the current child, i.e. the number of the first page in _sent
        # minus one; and when the parent last saw the child move (see _deadline).
        self._answered = 0
        self._moved_at = 0.0
        self._last_seen: tuple[int, int] = (0, 0)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ExtractionWorker:
        """A worker with the limits configured for this installation."""
        from pipeline.config import get_settings

        s = settings or get_settings()
        return cls(
            timeout=s.extract_timeout,
            min_chars=s.min_text_chars,
            max_tags=s.extract_max_tags,
            reset_pages=s.extract_reset_pages,
            paywall_teaser_words=s.paywall_teaser_words,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """Process id of the running child, None when none is running."""
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> tuple[Connection, Connection]:
        if self._recv is not None and self._send is not None:
            return self._recv, self._send
        parent_r, child_w = os.pipe()
        child_r, parent_w = os.pipe()
        self._progress = _Progress.create()
        self._answered = 0
        self._last_seen = (0, 0)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.extract_worker", str(self._progress.fd)],
                stdin=child_r,
                stdout=child_w,
                env=env,
                close_fds=True,
                pass_fds=(self._progress.fd,),
            )
        finally:
            os.close(child_r)
            os.close(child_w)
        self._pipe_bytes = _widen(parent_w)
        _widen(parent_r)
        self._recv = Connection(parent_r, writable=False)
        self._send = Connection(parent_w, readable=False)
        self._poller = select.poll()
        self._poller.register(parent_r, select.POLLIN)
        try:
            if not self._recv.poll(STARTUP_TIMEOUT):
                raise WorkerStartError(f"no ready signal within {STARTUP_TIMEOUT}s")
            kind, _ = self._recv.recv()
        except (EOFError, OSError) as exc:
            self._kill()
            raise WorkerStartError(f"extraction worker died at start-up: {exc}") from exc
        except WorkerStartError:
            self._kill()
            raise
        if kind != "ready":
            self._kill()
            raise WorkerStartError(f"unexpected first message {kind!r} from extraction worker")
        return self._recv, self._send

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        for conn in (self._recv, self._send):
            if conn is not None:
                conn.close()
        self._recv = self._send = None
        self._poller = None
        if self._progress is not None:
            self._progress.close()
            self._progress = None

    def extract(self, job: ExtractJob) -> ExtractResult:
        """Extract one page within the time limit; never raises for a bad page."""
        return next(iter(self.extract_many([job])))

    def extract_many(self, jobs: Iterable[ExtractJob]) -> Iterator[ExtractResult]:
        """Extract pages in order, several in flight, each within the time limit.

        Pages are queued in the child's request pipe ahead of time (up to ``IN_FLIGHT_PAGES``,
        and only while they fit in the pipe buffer, so no write ever blocks and neither side can
        wait on the other's full pipe), so the child never waits for the parent between pages
        and the parent reads the next bodies while the child works. A page too big for the
        buffer is sent alone to an idle child. The child sends its answers a few at a time
        (see FLUSH_SECONDS); a page's clock is its start time in the shared progress block. On
        a timeout the child is killed and replaced, and the pages queued with the culprit
        (those after it, and those before it whose answers the child still held) are sent
        again. Both sides stay single-threaded: a thread in the child would take the GIL from
        the extraction at every message (~1 ms a page on a loaded host).
        """
        try:
            yield from self._pipeline(iter(jobs))
        finally:
            # A consumer that stops early leaves answers queued in the child that would be
            # taken for the next call's: start afresh instead.
            if self._sent:
                self._kill()
                self._sent.clear()

    def _pipeline(self, source: Iterator[ExtractJob]) -> Iterator[ExtractResult]:
        window: deque[_Entry] = deque()  # every page not yet yielded, in order
        sent: deque[_Entry] = deque()  # pages awaiting the child's answer, in order
        self._sent = sent
        unsent: deque[_Entry] = deque()  # pages waiting for room in the pipe, in order
        in_pipe = 0  # wire bytes of the pages in ``sent`` (kept, not re-summed per page)
        exhausted = False
        while True:
            while not exhausted and len(window) < IN_FLIGHT_PAGES:
                job = next(source, None)
                if job is None:
                    exhausted = True
                    break
                entry = _Entry(job, self._precheck(job))
                window.append(entry)
                if entry.result is None:
                    entry.message = self._message(job)
                    unsent.append(entry)
            # Queue what fits: bytes in the pipe never exceed its buffer (a conservative count:
            # pages already read by the child are counted until answered), or the child is idle
            # and reads it all.
            while unsent and (not sent or in_pipe + unsent[0].wire_bytes <= self._pipe_bytes):
                entry = unsent.popleft()
                idle = not sent
                self._write(entry.message)
                if idle:
                    # An idle child starts on it right away (and a new one has just started).
                    self._moved_at = time.monotonic()
                sent.append(entry)
                in_pipe += entry.wire_bytes
            if not window:
                return
            if window[0].result is None:
                results, culprit = self._await_answers(len(sent))
                for result in results:
                    answered = sent.popleft()
                    answered.result = result
                    in_pipe -= answered.wire_bytes
                if culprit is not None:
                    # The child was replaced: ``culprit`` (an index into ``sent``) gets the
                    # failure, and every other page it had (answered but held, or queued) goes
                    # to the new child.
                    result, index = culprit
                    sent[index].result = result
                    del sent[index]
                    self.resent += len(sent)
                    unsent.extendleft(reversed(sent))
                    sent.clear()
                    in_pipe = 0
            while window:
                done = window[0].result
                if done is None:
                    break
                window.popleft()
                yield done

    def _precheck(self, job: ExtractJob) -> ExtractResult | None:
        """The child's first step, taken here only where it saves sending the page.

        That is a media type that is not HTML, or a body long enough to hold more than
        ``max_tags`` tags (counting them reads the whole body, ~13 us a page with the parent's
        caches cold after each wait; extract() in the child runs the same checks anyway).
        """
        if job.content_type not in HTML_TYPES or len(job.body) > self.max_tags:
            return precheck(job.body, job.content_type, max_tags=self.max_tags)
        return None

    def _message(self, job: ExtractJob) -> bytes:
        """One page's request, pickled once (its size decides when it may be queued).

        A flat tuple in :func:`pipeline.extract.extract`'s argument order: cheaper to build and
        to read than a dict, on both sides of the pipe. The fetch time travels as ISO text (see the
        note on datetimes above _pack).
        """
        request = (
            job.body,
            job.url,
            job.content_type,
            job.fetched_at.isoformat(),
            job.declared_charset,
            self.min_chars,
            self.max_tags,
            self.paywall_teaser_words,
        )
        return pickle.dumps(("extract", request), protocol=pickle.HIGHEST_PROTOCOL)

    def _write(self, message: bytes) -> None:
        """Send one request to the child, started if needed.

        A child that died is noticed when its answer is awaited (end of file), not here.
        """
        _, send = self._start()
        with contextlib.suppress(OSError):
            send.send_bytes(message)
        self._since_reset += 1

    def _await_answers(
        self, outstanding: int
    ) -> tuple[list[ExtractResult], tuple[ExtractResult, int] | None]:
        """The next answers from the child, or the failure of the page it was replaced for.

        Returns the answers read (in page order) and, when the child was killed or died, the
        failure result with the index (among the ``outstanding`` pages awaiting an answer) of
        the page it belongs to.
        """
        while True:
            if self._recv is None or self._poller is None:
                return [], (ExtractResult(None, "extraction_error", "no worker running"), 0)
            deadline, index = self._deadline(outstanding)
            left = deadline - time.monotonic()
            # Round up: poll() takes whole milliseconds, and 0 would turn a short wait into none.
            if left > 0 and not self._poller.poll(max(1, int(left * 1000 + 0.999))):
                continue  # the child may have moved on meanwhile: look again
            if left <= 0 and not self._poller.poll(0):
                log.warning("an extraction ran past %ss; worker killed", self.timeout)
                detail = f"extraction ran past {self.timeout:g}s; killed"
                return self._replace("extraction_timeout", detail, index)
            try:
                kind, payload = self._recv.recv()
            except (EOFError, OSError) as exc:
                code = self._proc.poll() if self._proc is not None else None
                _, index = self._deadline(outstanding)
                detail = f"extraction worker died (exit {code}): {exc}"
                return self._replace("extraction_error", detail, index)
            results = _unpack_many(payload) if kind == "results" else None
            if not results or len(results) > outstanding:
                return self._replace("extraction_error", f"bad worker reply {kind!r}", 0)
            self._answered += len(results)
            return results, None

    def _replace(
        self, reason: str, detail: str, index: int
    ) -> tuple[list[ExtractResult], tuple[ExtractResult, int]]:
        """Kill the child (the next request starts a new one); the page at ``index`` among
        those awaiting an answer gets the failure."""
        self._kill()
        self.restarts += 1
        return [], (ExtractResult(None, reason, detail), index)

    def _deadline(self, outstanding: int) -> tuple[float, int]:
        """When the page the child works on runs out of time, and its index among the
        ``outstanding`` pages awaiting an answer.

        From the progress block: a page in progress has its start time there. Between pages
        (reading a request, sending answers) the clock runs from when the parent last saw the
        child move, and the page to blame is the next one it would start.
        """
        assert self._progress is not None
        started, at, finished = self._progress.read()
        if (started, finished) != self._last_seen:
            self._last_seen = (started, finished)
            self._moved_at = time.monotonic()
        if started > finished and started > self._answered:
            return at + self.timeout, min(started - self._answered - 1, outstanding - 1)
        return self._moved_at + self.timeout, min(
            max(finished - self._answered, 0), outstanding - 1
        )

    def end_batch(self) -> None:
        """Between batches: have the child drop trafilatura's caches so memory stays flat.

        Only once ``reset_pages`` pages have gone through since the last reset: a reset costs
        ~10 ms (a gc pass, then the next pages refill the caches), a thirtieth of a batch of
        small pages, while the caches it empties are bounded LRUs anyway. justext's stoplist
        is kept (see :func:`pipeline.extract.reset_caches`).
        """
        if self._recv is None or self._send is None or self._since_reset < self.reset_pages:
            return
        try:
            self._send.send(("reset", None))
            if self._recv.poll(RESET_TIMEOUT):
                self._recv.recv()
                self._since_reset = 0
                self.resets += 1
                return
        except (EOFError, OSError):
            pass
        self._kill()

    def close(self) -> None:
        """Stop the child process (a kill: it holds no state worth a graceful exit)."""
        self._kill()


def _widen(fd: int) -> int:
    """Ask for a PIPE_BYTES buffer on a pipe; return the size it has."""
    try:
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (AttributeError, OSError):  # not Linux, or above pipe-max-size: keep the default
        return 64 * 1024


# --- results on the wire --------------------------------------------------------------------

# Results cross the pipe as plain tuples: pickling the dataclasses goes through copyreg for each
# object, and the parent's share of a page (unpickling it with caches cold after each wait) is
# part of every page's cost.
_ARTICLE_FIELDS = tuple(f.name for f in fields(Article))
_article_values = attrgetter(*_ARTICLE_FIELDS)
_PUBLISHED = _ARTICLE_FIELDS.index("published_at")
# Datetimes cross the pipe as ISO text (exact: microseconds and offset included), not pickled.
# A pickle round trip of one takes ~5 us by itself, yet it slowed the extraction run next to it
# by 30-40 us a page (the same 635 pages, 8 passes each: extract() alone 1.37-1.42 ms a page;
# with a datetime pickled and unpickled per page 1.41-1.45; with its ISO text parsed instead
# 1.38-1.41). Why is not clear (no page faults, no gc difference); bench_extract's worker ratio
# went from 0.879 and 0.884 to 0.894 and 0.892 (paired medians, two runs each).


def _pack(result: ExtractResult) -> tuple[Any, ...]:
    """``result`` as nested tuples of plain values (see _unpack)."""
    article = result.article
    values: list[Any] | None = None
    if article is not None:
        values = list(_article_values(article))
        published = values[_PUBLISHED]
        if published is not None:
            values[_PUBLISHED] = published.isoformat()
    return (values, result.reason, result.detail, result.warnings, result.charset)


def _unpack(payload: Any) -> ExtractResult | None:
    """The result :func:`_pack` encoded; None for anything else."""
    try:
        values, reason, detail, warnings, charset = payload
        article = None
        if values is not None:
            values = list(values)
            published = values[_PUBLISHED]
            if published is not None:
                values[_PUBLISHED] = datetime.fromisoformat(published)
            article = Article(*values)
        return ExtractResult(article, reason, detail, tuple(warnings), charset)
    except (TypeError, ValueError, IndexError):
        return None


def _unpack_many(payload: Any) -> list[ExtractResult] | None:
    """The results of one answer message (a list of packed results); None if malformed."""
    if not isinstance(payload, list):
        return None
    results: list[ExtractResult] = []
    for item in payload:
        result = _unpack(item)
        if result is None:
            return None
        results.append(result)
    return results


# --- the child ------------------------------------------------------------------------------

_WARM_UP_PAGE = (
    b"<html><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1><p>"
    + b"This page only loads the extraction code paths before the first real page. " * 8
    + b"</p></article></body></html>"
)


def _serve(recv: Connection, send: Connection, progress: _Progress) -> None:
    from pipeline.extract import detect_language, extract, reset_caches

    # Load lazy pieces now, so the first real page's time limit measures only that page.
    extract(_WARM_UP_PAGE, url="http://warm.up/", content_type="", fetched_at=datetime.now(UTC))
    detect_language("warm up")
    # What start-up built (modules, stoplists) lives as long as the process: keep it out of the
    # cyclic collector's scans, which cut the gc pass of each cache reset from ~22 ms to ~4 ms.
    gc.freeze()
    send.send(("ready", os.getpid()))
    waiting = select.poll()
    waiting.register(recv.fileno(), select.POLLIN)
    held: list[tuple[Any, ...]] = []  # answers not sent yet, in page order
    held_since = 0.0  # when the first of them started
    page = 0
    while True:
        if held and (
            len(held) >= FLUSH_PAGES
            or time.monotonic() - held_since >= FLUSH_SECONDS
            or not waiting.poll(0)
        ):
            # pickle.dumps rather than Connection.send: the latter builds a ForkingPickler
            # (and a copy of its dispatch table) for every message.
            send.send_bytes(pickle.dumps(("results", held), protocol=pickle.HIGHEST_PROTOCOL))
            held = []
        try:
            kind, payload = recv.recv()
        except EOFError:
            return
        if kind == "stop":
            return
        if kind == "reset":
            reset_caches()
            send.send(("reset", None))
            continue
        body, url, content_type, fetched_at, declared_charset, min_chars, max_tags, teaser = (
            payload
        )
        page += 1
        progress.start(page)
        if not held:
            held_since = time.monotonic()
        try:
            result = extract(
                body,
                url=url,
                content_type=content_type,
                fetched_at=datetime.fromisoformat(fetched_at),
                declared_charset=declared_charset,
                min_chars=min_chars,
                max_tags=max_tags,
                paywall_teaser_words=teaser,
            )
        except Exception as exc:  # noqa: BLE001 - a library bug on one page must not end the worker
            result = ExtractResult(None, "extraction_error", f"{type(exc).__name__}: {exc}")
        progress.finish(page)
        held.append(_pack(result))


def main() -> None:
    """Entry point of the child: requests on stdin, replies on a private copy of stdout, the
    progress block's file descriptor as the first argument."""
    reply_fd = os.dup(1)
    # Anything a library prints goes to stderr instead of corrupting the reply channel.
    os.dup2(2, 1)
    # Failures come back as reasons; trafilatura's per-page error logging would only be noise.
    for name in ("trafilatura", "htmldate", "courlan", "justext", "charset_normalizer"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    progress = _Progress(int(sys.argv[1]))
    _serve(Connection(0, writable=False), Connection(reply_fd, readable=False), progress)


if __name__ == "__main__":
    main()
