"""Data Docs kept per gate run and readable offline (issue 18).

Each gate run renders its GX Data Docs into a site of its own, ``home/dq_docs/runs/<time>_<run>``:
GX's index builder deletes every page whose validation result its (per-process, ephemeral) store
does not hold, so one shared site lost the pages of every earlier run at each rerun. Sites older
than ``dq_docs_retention_days`` are deleted by the next gate run, and ``home/dq_docs/index.html``
lists the sites that are kept.

GX's pages load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from CDNs, so offline
(or behind a strict proxy) they render empty: the index's run list is drawn by bootstrap-table.
After GX writes a site, its pages are rewritten to load assets from ``home/dq_docs/static``:
GX's own images, Bootstrap and jQuery copied from the installed ``flower`` package (a dependency
of the Celery provider), and two small files of ours (``docs_assets/``): the part of
bootstrap-table the pages use and text glyphs for the icons. CDN files nothing replaces (Vega,
the date picker, the dark theme, table filter controls) are dropped: these pages use none.

With ``dq_docs_url`` set (an fsspec URL: the object store the workers share), a gate run still
renders and localizes its site under its own ``home/dq_docs``, then uploads the site and any
missing shared asset to the store, applies retention and rewrites the index there, and deletes its
local copy: no worker keeps Data Docs another machine would need (:class:`DocsStore`).

Nothing here imports GX: the Media Monitor plugin serves the files (:func:`read_docs_file`) from
the api-server, which must not pay GX's import.
"""

from __future__ import annotations

import html
import importlib.util
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline.config import Settings, get_settings, mask_url

log = logging.getLogger(__name__)

RUNS_DIR = "runs"
STATIC_DIR = "static"
# Where our copies of the CDN assets live, under STATIC_DIR.
VENDOR_DIR = "mediamon"
RUN_ID_FILE = "run_id.txt"
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
_OWN_ASSETS = Path(__file__).with_name("docs_assets")
_GX_WEB_ASSETS = re.compile(
    r"https?://great-expectations-web-assets\.s3[\w.-]*\.amazonaws\.com/([\w.-]+)(?:\?[^\"')\s]*)?"
)
_SCRIPT = re.compile(r"<script\b[^>]*?\bsrc=\"(https?://[^\"]+)\"[^>]*>\s*</script>", re.I)
_LINK = re.compile(r"<link\b[^>]*?\bhref=\"(https?://[^\"]+)\"[^>]*>", re.I)
_REF = re.compile(r"\b(src|href)=\"([^\"#?:]+)((?:[?#][^\"]*)?)\"", re.I)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def docs_root(settings: Settings) -> Path:
    """The directory holding every run's Data Docs site, the shared assets and the index."""
    return (settings.home / "dq_docs").resolve()


def run_site_dir(root: Path, run_id: str, started: datetime) -> Path:
    """The Data Docs site of one gate run: its start time first, so names sort by age and
    retention can read the age from the name; a rerun of a run id gets a site of its own."""
    slug = _UNSAFE.sub("-", run_id).strip("-.")[:120] or "run"
    return root / RUNS_DIR / f"{started.astimezone(UTC).strftime(STAMP_FORMAT)}_{slug}"


def site_started(site: Path) -> datetime | None:
    """When the gate run of ``site`` started, read from its name; None for other directories."""
    try:
        return datetime.strptime(site.name.split("_", 1)[0], STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


# --- assets ------------------------------------------------------------------------------------


def _package_dir(name: str) -> Path | None:
    # find_spec on a top-level package locates it without importing (running) it.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _asset_sources() -> dict[str, Path]:
    """Our asset file name -> the installed file it is copied from."""
    sources = {p.name: p for p in _OWN_ASSETS.iterdir() if p.is_file()}
    flower = _package_dir("flower")
    if flower is not None:
        static = flower / "static"
        candidates = {
            "bootstrap.min.css": static / "css" / "bootstrap.min.css",
            "bootstrap.bundle.min.js": static / "js" / "bootstrap.bundle.min.js",
            "jquery.min.js": next(iter(sorted((static / "js").glob("jquery-*.min.js"))), None),
        }
        sources |= {name: path for name, path in candidates.items() if path and path.is_file()}
    return sources


def _copy_if_changed(src: Path, dst: Path) -> None:
    if dst.is_file() and dst.stat().st_size == src.stat().st_size:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Copy then rename: a page served while a second gate run refreshes an asset never reads
    # half a file.
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def ensure_assets(root: Path, gx_static: Path | None) -> set[str]:
    """Copy the shared assets under ``root/static`` (once; again when a package's file changed).

    ``gx_static`` is a ``static`` directory GX wrote into a site (its images, styles, fonts).
    Returns the names of the files available under ``static/mediamon``.
    """
    static = root / STATIC_DIR
    if gx_static is not None and gx_static.is_dir():
        for src in gx_static.rglob("*"):
            if src.is_file():
                _copy_if_changed(src, static / src.relative_to(gx_static))
    sources = _asset_sources()
    for name, src in sources.items():
        _copy_if_changed(src, static / VENDOR_DIR / name)
    return set(sources)


def _cdn_replacement(url: str) -> str | None:
    """Our file standing in for the CDN asset at ``url``, or None when the pages need none."""
    name = url.rsplit("/", 1)[-1].lower()
    low = url.lower()
    if "bootstrap-table" in low:
        return "bootstrap-table-lite.js" if name == "bootstrap-table.min.js" else None
    if "jquery" in name and name.endswith(".js"):
        return "jquery.min.js"
    if "bootstrapcdn.com/bootstrap" in low or "/bootstrap@" in low or "/bootstrap/" in low:
        # Bootstrap's bundle carries Popper, which GX loads on its own from another CDN.
        return {
            "bootstrap.min.js": "bootstrap.bundle.min.js",
            "bootstrap.min.css": "bootstrap.min.css",
        }.get(name)
    if "font-awesome" in low or "fontawesome" in low:
        return "icons.css"
    # popper (inside Bootstrap's bundle), vega, the date picker, the dark theme: not used here.
    return None


def localize_page(text: str, page: Path, site: Path, root: Path, available: set[str]) -> str:
    """``text`` of the page at ``page`` with every CDN asset and every reference into the
    site's own ``static/`` pointed at the shared copies under ``root/static``."""
    static = root / STATIC_DIR

    def rel(target: Path) -> str:
        return PurePosixPath(os.path.relpath(target, page.parent)).as_posix()

    def vendor(url: str, make: Callable[[str], str]) -> str:
        name = _cdn_replacement(url)
        if name is None or name not in available:
            return ""
        return make(rel(static / VENDOR_DIR / name))

    text = _SCRIPT.sub(
        lambda m: vendor(m.group(1), lambda src: f'<script src="{html.escape(src)}"></script>'),
        text,
    )
    text = _LINK.sub(
        lambda m: (
            vendor(m.group(1), lambda href: f'<link rel="stylesheet" href="{html.escape(href)}">')
            if "stylesheet" in m.group(0).lower()
            else m.group(0)
        ),
        text,
    )

    def gx_image(m: re.Match[str]) -> str:
        image = static / "images" / m.group(1)
        # GX does not ship every image its stylesheet names (the dark-mode logo): the logo it
        # ships stands in.
        return rel(image if image.is_file() else static / "images" / "logo-long.png")

    text = _GX_WEB_ASSETS.sub(gx_image, text)

    def into_shared(m: re.Match[str]) -> str:
        attr, ref, _query = m.groups()
        target = Path(os.path.normpath(page.parent / ref))
        try:
            parts = target.relative_to(site).parts
        except ValueError:
            return m.group(0)
        # GX's favicon link on a validation page climbs one level short (validations/static/),
        # so any static/ inside the site is taken to mean the site's static/.
        if STATIC_DIR not in parts:
            return m.group(0)
        return f'{attr}="{rel(static.joinpath(*parts[parts.index(STATIC_DIR) + 1 :]))}"'

    return _REF.sub(into_shared, text)


def localize_site(site: Path, root: Path) -> int:
    """Point every page of ``site`` at the shared assets and drop the site's own copy of GX's
    static files (4 MB a run otherwise). Returns how many pages were rewritten."""
    gx_static = site / STATIC_DIR
    available = ensure_assets(root, gx_static)
    rewritten = 0
    for page in site.rglob("*.html"):
        if gx_static in page.parents:
            continue
        text = page.read_text(encoding="utf-8")
        new = localize_page(text, page, site, root, available)
        if new != text:
            page.write_text(new, encoding="utf-8")
            rewritten += 1
    shutil.rmtree(gx_static, ignore_errors=True)
    return rewritten


# --- retention and the list of runs ------------------------------------------------------------


def prune(root: Path, retention_days: float, now: datetime) -> list[Path]:
    """Delete the run sites that started more than ``retention_days`` before ``now``; return
    them. Directories whose names carry no start time are not ours and are left alone."""
    cutoff = now - timedelta(days=retention_days)
    removed: list[Path] = []
    runs = root / RUNS_DIR
    for site in sorted(runs.iterdir()) if runs.is_dir() else []:
        started = site_started(site)
        if site.is_dir() and started is not None and started < cutoff:
            shutil.rmtree(site, ignore_errors=True)
            removed.append(site)
    if removed:
        log.info("Data Docs: removed %d site(s) older than %g days", len(removed), retention_days)
    return removed


def _index_page(sites: list[tuple[str, str, datetime]]) -> str:
    """The list of kept run sites (name, run id, start), newest first: plain HTML, no assets."""
    rows = [
        f'<tr><td><a href="{RUNS_DIR}/{html.escape(name)}/index.html">'
        f"{html.escape(run_id)}</a></td><td>{started:%Y-%m-%d %H:%M:%S} UTC</td></tr>"
        for name, run_id, started in sites
    ]
    body = "\n".join(rows) or '<tr><td colspan="2">No gate run has written Data Docs yet.</td></tr>'
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Mediamon Data Docs</title>\n'
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em 1em;text-align:left}"
        "</style></head><body>\n<h1>Data Docs of the quality gate</h1>\n"
        "<p>One site per gate run, newest first.</p>\n"
        f"<table><tr><th>Run</th><th>Gate started</th></tr>\n{body}\n</table>\n</body></html>\n"
    )


def write_index(root: Path) -> Path:
    """Write ``root/index.html``: the kept run sites, newest first (plain HTML, no assets)."""
    sites = []
    runs = root / RUNS_DIR
    for site in sorted(runs.iterdir(), reverse=True) if runs.is_dir() else []:
        started = site_started(site)
        if started is None or not (site / "index.html").is_file():
            continue
        marker = site / RUN_ID_FILE
        run_id = marker.read_text(encoding="utf-8").strip() if marker.is_file() else site.name
        sites.append((site.name, run_id, started))
    page = _index_page(sites)
    index = root / "index.html"
    root.mkdir(parents=True, exist_ok=True)
    tmp = index.with_name(f".index.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, index)
    return index


class DocsStore:
    """The Data Docs sites in a shared fsspec store (``dq_docs_url``), laid out as under
    ``home/dq_docs``: ``index.html``, ``static/`` and ``runs/<time>_<run>/``.

    Object stores make an object visible only once it is whole, so a reader never sees half a
    page; a site's pages are uploaded before the index names the site.
    """

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        import fsspec  # only deployments with a store pay the import

        self.url = url.rstrip("/")
        self.display = mask_url(self.url)
        from fsspec.implementations.local import LocalFileSystem

        self.fs, self.base = fsspec.core.url_to_fs(self.url, **dict(options or {}))
        self.base = self.base.rstrip("/")
        self._local = isinstance(self.fs, LocalFileSystem)

    def _path(self, relative: str) -> str:
        return f"{self.base}/{relative}" if relative else self.base

    def _write(self, relative: str, data: bytes) -> None:
        path = self._path(relative)
        if not self._local:
            self.fs.pipe_file(path, data)  # one PUT: whole or not at all
            return
        # A directory store (a shared mount): write aside and rename, as the local site does.
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        self.fs.pipe_file(tmp, data)
        self.fs.mv(tmp, path)

    def upload_site(self, site: Path, local_root: Path) -> int:
        """Copy ``site`` (a localized run site) to ``runs/<name>/`` and every shared asset the
        store lacks (or holds at another size) to ``static/``; return how many files went up."""
        sent = 0
        static = local_root / STATIC_DIR
        existing = self._sizes(STATIC_DIR)
        for src in sorted(static.rglob("*")) if static.is_dir() else []:
            rel = src.relative_to(local_root).as_posix()
            if src.is_file() and existing.get(rel) != src.stat().st_size:
                self._write(rel, src.read_bytes())
                sent += 1
        # The run id marker goes last: an index written meanwhile by another gate run lists only
        # sites whose marker is there, so it never links a half-uploaded site.
        for src in sorted(site.rglob("*"), key=lambda p: (p.name == RUN_ID_FILE, p)):
            if src.is_file():
                rel = f"{RUNS_DIR}/{site.name}/{src.relative_to(site).as_posix()}"
                self._write(rel, src.read_bytes())
                sent += 1
        return sent

    def _sizes(self, relative: str) -> dict[str, int]:
        """Files under ``relative`` in the store (paths relative to the store) and their sizes."""
        try:
            found = self.fs.find(self._path(relative), detail=True)
        except FileNotFoundError:
            return {}
        prefix = f"{self.base}/"
        return {
            path.removeprefix(prefix): int(info.get("size") or 0) for path, info in found.items()
        }

    def sites(self) -> list[str]:
        """The names of the run sites in the store, newest first."""
        try:
            entries = self.fs.ls(self._path(RUNS_DIR), detail=False)
        except FileNotFoundError:
            return []
        names = {str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries}
        return sorted((n for n in names if site_started(Path(n)) is not None), reverse=True)

    def prune(self, retention_days: float, now: datetime) -> list[str]:
        """Delete the run sites that started more than ``retention_days`` before ``now``."""
        cutoff = now - timedelta(days=retention_days)
        removed = []
        for name in self.sites():
            started = site_started(Path(name))
            if started is not None and started < cutoff:
                self.fs.rm(self._path(f"{RUNS_DIR}/{name}"), recursive=True)
                removed.append(name)
        if removed:
            log.info(
                "Data Docs at %s: removed %d site(s) older than %g days",
                self.display, len(removed), retention_days,
            )
        return removed

    def write_index(self) -> None:
        """Rewrite the store's ``index.html`` from the sites it holds."""
        sites = []
        for name in self.sites():
            started = site_started(Path(name))
            if started is None:
                continue
            try:
                run_id = self.fs.cat_file(self._path(f"{RUNS_DIR}/{name}/{RUN_ID_FILE}"))
            except FileNotFoundError:
                continue  # a site whose upload has not finished (or failed) is not listed
            sites.append((name, run_id.decode("utf-8", "replace").strip(), started))
        self._write("index.html", _index_page(sites).encode("utf-8"))

    def read(self, relative_path: str) -> bytes | None:
        """The file at ``relative_path`` (a directory means its ``index.html``), or None."""
        parts = _safe_parts(relative_path)
        if parts is None:
            return None
        path = self._path("/".join(parts))
        try:
            if not parts or self.fs.isdir(path):
                path = f"{path}/index.html"
            data: bytes = self.fs.cat_file(path)
        except (FileNotFoundError, IsADirectoryError):
            return None
        return data


def docs_store(settings: Settings) -> DocsStore | None:
    """The shared Data Docs store the settings name, or None (sites stay under home)."""
    if not settings.dq_docs_url:
        return None
    return DocsStore(settings.dq_docs_url, settings.dq_docs_options)


def publish_site(
    site: Path, root: Path, run_id: str, *, retention_days: float, store: DocsStore | None = None
) -> str:
    """After GX wrote ``site``: make it offline-readable, apply retention, list it in the
    index; with a ``store``, upload it there and drop the local copy. Returns where the site's
    index page is (a local path, or the store's URL)."""
    (site / RUN_ID_FILE).write_text(run_id, encoding="utf-8")
    localize_site(site, root)
    if store is None:
        prune(root, retention_days, datetime.now(UTC))
        write_index(root)
        return str(site / "index.html")
    store.upload_site(site, root)
    # The worker keeps nothing another machine would need; the shared assets stay as a cache.
    shutil.rmtree(site, ignore_errors=True)
    store.prune(retention_days, datetime.now(UTC))
    store.write_index()
    return f"{store.display}/{RUNS_DIR}/{site.name}/index.html"


# --- serving -----------------------------------------------------------------------------------


def _safe_parts(relative_path: str) -> tuple[str, ...] | None:
    """The parts of a requested path, or None when it would leave the docs directory."""
    path = relative_path.replace("\\", "/")
    parts = PurePosixPath(path).parts
    if "\x00" in path or path.startswith("/") or ".." in parts:
        return None
    return tuple(parts)


def docs_file(relative_path: str, settings: Settings | None = None) -> Path | None:
    """The Data Docs file at ``relative_path`` under ``home/dq_docs`` (a directory means its
    ``index.html``), or None when there is no such file or the path would leave the docs
    directory (``..``, an absolute path, a symbolic link pointing out)."""
    root = docs_root(settings or get_settings())
    parts = _safe_parts(relative_path)
    if parts is None:
        return None
    candidate = root.joinpath(*parts)
    if candidate.is_dir():
        candidate = candidate / "index.html"
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved


def read_docs_file(
    relative_path: str, settings: Settings | None = None
) -> tuple[str, bytes] | None:
    """(file name, bytes) of the Data Docs file at ``relative_path``: from the shared store when
    ``dq_docs_url`` is set, else from ``home/dq_docs`` (:func:`docs_file`); None when absent or
    outside the docs."""
    settings = settings or get_settings()
    store = docs_store(settings)
    if store is None:
        found = docs_file(relative_path, settings)
        return (found.name, found.read_bytes()) if found is not None else None
    data = store.read(relative_path)
    if data is None:
        return None
    name = PurePosixPath(relative_path.replace("\\", "/")).name
    return (name if "." in name else "index.html", data)


__all__ = [
    "DocsStore",
    "docs_file",
    "docs_root",
    "docs_store",
    "localize_site",
    "prune",
    "publish_site",
    "read_docs_file",
    "run_site_dir",
    "write_index",
]
