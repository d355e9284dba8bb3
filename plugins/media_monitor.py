"""Airflow plugin: the Media Monitor (a FastAPI app shown as an external view in the UI).

Wiring only; queries live in ``pipeline.monitor.pages``, rendering in ``pipeline.monitor.render``.
Every route requires an authenticated Airflow user: plugin FastAPI apps are not protected by
Airflow unless they ask to be. A browser without a login is sent to Airflow's login page; a JSON
client gets 401. Releasing quarantine is a write: it needs the right to edit the ingest DAG's runs
(Airflow's "User" role and above; "Viewer" cannot) and a CSRF token bound to the login cookie.
FastAPI's own documentation routes are turned off (they would answer anyone).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.core_api.security import GetUserDep, requires_authenticated
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)

app = FastAPI(
    title="Mediamon: Media Monitor",
    dependencies=[Depends(requires_authenticated())],
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)

# The DAG whose runs a user must be allowed to edit to release quarantined rows: releasing
# re-queues articles for that DAG's gate.
RELEASE_DAG_ID = "mediamon_ingest"


def _engine() -> Any:
    # Imported per request so the api-server starts without touching the warehouse. This runs in
    # the api-server, which always has the metadata DB, where the warehouse connection may live.
    from pipeline.config import resolve_warehouse_url
    from pipeline.warehouse import get_engine

    return get_engine(resolve_warehouse_url(metadata_db=True))


async def _read(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a warehouse read off the api-server's event loop (the calls are synchronous)."""

    def run() -> Any:
        with _engine().connect() as conn:
            return fn(conn, *args)

    return await asyncio.to_thread(run)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _is_api(request: Request) -> bool:
    return request.url.path.removeprefix(_root(request)).startswith("/api/")


@app.exception_handler(HTTPException)
async def _http_error(request: Request, exc: HTTPException) -> Response:
    """Anonymous browsers go to the login page; JSON clients and other errors get the status."""
    if exc.status_code in (401, 403) and request.method == "GET" and not _is_api(request):
        from airflow.api_fastapi.app import get_auth_manager

        login = get_auth_manager().get_url_login(next_url=str(request.url))
        return RedirectResponse(login, status_code=303)
    if _is_api(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    return HTMLResponse(_error_page(request, exc.status_code, str(exc.detail)), exc.status_code)


def _error_page(request: Request, status: int, detail: str) -> str:
    from pipeline.monitor.render import render_page

    return render_page(
        "", "error.html", {"status": status, "detail": detail}, root=_root(request), query={}
    )


async def _page(
    request: Request, fn: Callable[..., Any], *args: Any, with_query: bool = True
) -> dict[str, Any]:
    from pipeline.monitor.listing import ListingError
    from pipeline.monitor.pages import NotFoundError

    query = dict(request.query_params)
    try:
        data: dict[str, Any] = await _read(fn, *args, *((query,) if with_query else ()))
    except ListingError as exc:
        raise HTTPException(400, str(exc)) from None
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    return data


def _html(request: Request, tab: str, template: str, data: dict[str, Any], **extra: Any) -> str:
    from pipeline.monitor.render import render_page

    root = _root(request)
    path = request.url.path.removeprefix(root)
    json_url = f"{root}/api{'/overview' if path in ('', '/') else path}"
    if request.url.query:
        json_url += f"?{request.url.query}"
    return render_page(
        tab, template, data, root=root, query=dict(request.query_params), json_url=json_url,
        **extra,
    )


# --- permissions and CSRF ---------------------------------------------------------------------


def _can_release(user: Any) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )

    allowed: bool = get_auth_manager().is_authorized_dag(
        method="PUT",
        access_entity=DagAccessEntity.RUN,
        details=DagDetails(id=RELEASE_DAG_ID),
        user=user,
    )
    return allowed


def _csrf_token(request: Request) -> str | None:
    """A token only a page served to this login can know: an HMAC keyed by the login cookie.

    A cross-site form cannot read the cookie, so it cannot compute the token; a client that
    authenticates with a bearer header carries no ambient credential and needs none.
    """
    cookie = request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not cookie:
        return None
    return hmac.new(cookie.encode(), b"mediamon:quarantine-release", hashlib.sha256).hexdigest()


def _csrf_ok(request: Request, token: str | None) -> bool:
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return True
    expected = _csrf_token(request)
    return bool(expected and token and hmac.compare_digest(expected, token))


# --- pages and their JSON twins ---------------------------------------------------------------


@app.get("/", response_class=HTMLResponse)
async def overview_page(request: Request) -> str:
    """Overview: tiles, articles per hour by status, last runs."""
    from pipeline.monitor.pages import overview

    data = await _page(request, overview, with_query=False)
    return _html(request, "overview", "overview.html", data)


@app.get("/api/overview")
async def overview_json(request: Request) -> dict[str, Any]:
    """Overview as JSON."""
    from pipeline.monitor.pages import overview

    return await _page(request, overview, with_query=False)


@app.get("/feeds", response_class=HTMLResponse)
async def feeds_page(request: Request) -> str:
    """Feeds: health table, broken first."""
    from pipeline.monitor.pages import feeds

    return _html(request, "feeds", "feeds.html", await _page(request, feeds))


@app.get("/api/feeds")
async def feeds_json(request: Request) -> dict[str, Any]:
    """Feeds as JSON."""
    from pipeline.monitor.pages import feeds

    return await _page(request, feeds)


@app.get("/feeds/{feed_id}", response_class=HTMLResponse)
async def feed_page(request: Request, feed_id: int) -> str:
    """One feed: poll history chart, recent errors, polls."""
    from pipeline.monitor.pages import feed_detail

    return _html(request, "feeds", "feed.html", await _page(request, feed_detail, feed_id))


@app.get("/api/feeds/{feed_id}")
async def feed_json(request: Request, feed_id: int) -> dict[str, Any]:
    """One feed as JSON."""
    from pipeline.monitor.pages import feed_detail

    return await _page(request, feed_detail, feed_id)


@app.get("/stories", response_class=HTMLResponse)
async def stories_page(request: Request) -> str:
    """Stories: newest and biggest."""
    from pipeline.monitor.pages import stories

    return _html(request, "stories", "stories.html", await _page(request, stories))


@app.get("/api/stories")
async def stories_json(request: Request) -> dict[str, Any]:
    """Stories as JSON."""
    from pipeline.monitor.pages import stories

    return await _page(request, stories)


@app.get("/stories/{story_id}", response_class=HTMLResponse)
async def story_page(request: Request, story_id: str) -> str:
    """One story: its articles with copy labels and copy chains."""
    from pipeline.monitor.pages import story_detail

    data = await _page(request, story_detail, story_id, with_query=False)
    return _html(request, "stories", "story.html", data)


@app.get("/api/stories/{story_id}")
async def story_json(request: Request, story_id: str) -> dict[str, Any]:
    """One story as JSON."""
    from pipeline.monitor.pages import story_detail

    return await _page(request, story_detail, story_id, with_query=False)


@app.get("/claims", response_class=HTMLResponse)
async def claims_page(request: Request) -> str:
    """Claims: the ledger with filters."""
    from pipeline.monitor.pages import claims

    return _html(request, "claims", "claims.html", await _page(request, claims))


@app.get("/api/claims")
async def claims_json(request: Request) -> dict[str, Any]:
    """Claims as JSON."""
    from pipeline.monitor.pages import claims

    return await _page(request, claims)


@app.get("/claims/{claim_id}", response_class=HTMLResponse)
async def claim_page(request: Request, claim_id: int) -> str:
    """One claim: its fields and its article with the evidence highlighted."""
    from pipeline.monitor.pages import claim_detail

    data = await _page(request, claim_detail, claim_id, with_query=False)
    return _html(request, "claims", "claim.html", data)


@app.get("/api/claims/{claim_id}")
async def claim_json(request: Request, claim_id: int) -> dict[str, Any]:
    """One claim as JSON."""
    from pipeline.monitor.pages import claim_detail

    return await _page(request, claim_detail, claim_id, with_query=False)


@app.get("/conflicts", response_class=HTMLResponse)
async def conflicts_page(request: Request) -> str:
    """Conflicts: diverging figures side by side."""
    from pipeline.monitor.pages import conflicts

    return _html(request, "conflicts", "conflicts.html", await _page(request, conflicts))


@app.get("/api/conflicts")
async def conflicts_json(request: Request) -> dict[str, Any]:
    """Conflicts as JSON."""
    from pipeline.monitor.pages import conflicts

    return await _page(request, conflicts)


@app.get("/quality", response_class=HTMLResponse)
async def quality_page(request: Request, user: GetUserDep) -> str:
    """Quality: gate runs, failing expectations, quarantine (with release for editors)."""
    from pipeline.monitor.pages import quality

    data = await _page(request, quality)
    released = request.query_params.get("released")
    return _html(
        request,
        "quality",
        "quality.html",
        data,
        can_release=_can_release(user),
        csrf=_csrf_token(request),
        message=f"Released {released} quarantined row(s)." if released else None,
    )


@app.get("/api/quality")
async def quality_json(request: Request) -> dict[str, Any]:
    """Quality as JSON."""
    from pipeline.monitor.pages import quality

    return await _page(request, quality)


@app.post("/quality/release")
async def release_quarantine(
    request: Request,
    user: GetUserDep,
    ids: Annotated[list[int], Form()],
    csrf: Annotated[str | None, Form()] = None,
) -> RedirectResponse:
    """Release the chosen quarantine rows (the same code as ``mediamon quarantine release``)."""
    if not _can_release(user):
        raise HTTPException(
            403, f"releasing quarantine needs the right to edit {RELEASE_DAG_ID} runs"
        )
    if not _csrf_ok(request, csrf):
        raise HTTPException(403, "missing or stale form token: reload the Quality page")
    from pipeline.quality.release import release

    result = await asyncio.to_thread(release, _engine(), ids=ids)
    return RedirectResponse(
        f"{_root(request)}/quality?released={result.rows_released}", status_code=303
    )


@app.get("/api/snapshot")
async def monitor_snapshot() -> dict[str, Any]:
    """The single-page snapshot of the first Media Monitor, kept for scripts that read it."""
    from pipeline.monitor import snapshot

    def run() -> dict[str, Any]:
        data: dict[str, Any] = snapshot(_engine()).as_dict()
        return data

    return await asyncio.to_thread(run)


@app.get("/data-docs/{path:path}")
async def data_docs(path: str) -> FileResponse:
    """A file of the quality gate's Data Docs (``pipeline.quality.docs.docs_file``): the list
    of runs at ``data-docs/``, each run's GX site below it; 404 for anything else."""
    import mimetypes

    from pipeline.quality.docs import docs_file

    found = await asyncio.to_thread(docs_file, path)
    if found is None:
        raise HTTPException(404, f"no Data Docs file {path!r}")
    media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    return FileResponse(found, media_type=media_type)


class MediaMonitorPlugin(AirflowPlugin):
    """Registers the Media Monitor app and its entry in the Airflow navigation."""

    name = "media_monitor"
    # AirflowPlugin reads these class attributes as declared in its own base class.
    fastapi_apps = [{"app": app, "url_prefix": "/media-monitor", "name": "Media Monitor"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": "Media Monitor",
            "href": "media-monitor/",
            "destination": "nav",
            "url_route": "media-monitor",
        }
    ]
