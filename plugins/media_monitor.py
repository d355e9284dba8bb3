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
        from pipeline.monitor.pages import reading

        with reading(_engine()) as conn:
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
    from pipeline.monitor.pages import NotFoundError, TooSlowError

    query = dict(request.query_params)
    try:
        data: dict[str, Any] = await _read(fn, *args, *((query,) if with_query else ()))
    except ListingError as exc:
        raise HTTPException(400, str(exc)) from None
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except TooSlowError as exc:
        raise HTTPException(503, str(exc)) from None
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


def _twin(
    path: str,
    tab: str,
    template: str | None,
    query: str,
    *,
    key: str | None = None,
    key_type: Callable[[str], Any] = str,
    with_query: bool = True,
) -> None:
    """Register a page at ``path`` (rendered with ``template``; none when the page needs its own
    route) and its JSON twin under ``/api``; both call ``pipeline.monitor.pages.<query>`` with
    the path's ``key`` (converted by ``key_type``; a value it refuses is a 404) and, when
    ``with_query``, the request's parameters."""

    async def data(request: Request) -> dict[str, Any]:
        from pipeline.monitor import pages

        args: list[Any] = []
        if key is not None:
            raw = request.path_params[key]
            try:
                args.append(key_type(raw))
            except ValueError:
                raise HTTPException(404, f"no such {key.removesuffix('_id')}: {raw}") from None
        return await _page(request, getattr(pages, query), *args, with_query=with_query)

    async def page(request: Request) -> str:
        return _html(request, tab, str(template), await data(request))

    async def twin(request: Request) -> dict[str, Any]:
        return await data(request)

    if template is not None:
        app.add_api_route(path, page, methods=["GET"], response_class=HTMLResponse, name=query)
    api = "/api/overview" if path == "/" else f"/api{path}"
    app.add_api_route(api, twin, methods=["GET"], name=f"{query}_json")


_twin("/", "overview", "overview.html", "overview", with_query=False)
_twin("/feeds", "feeds", "feeds.html", "feeds")
_twin("/feeds/{feed_id}", "feeds", "feed.html", "feed_detail", key="feed_id", key_type=int)
_twin("/stories", "stories", "stories.html", "stories")
_twin("/stories/{story_id}", "stories", "story.html", "story_detail", key="story_id",
      with_query=False)
_twin("/claims", "claims", "claims.html", "claims")
_twin("/claims/{claim_id}", "claims", "claim.html", "claim_detail", key="claim_id",
      key_type=int, with_query=False)
_twin("/conflicts", "conflicts", "conflicts.html", "conflicts")
# The Quality page has its own route below (release rights and the form token).
_twin("/quality", "quality", None, "quality")


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
async def data_docs(path: str) -> Response:
    """A file of the quality gate's Data Docs (``pipeline.quality.docs.read_docs_file``: from the
    shared store when one is configured, else from home): the list of runs at ``data-docs/``,
    each run's GX site below it; 404 for anything else."""
    import mimetypes

    from pipeline.quality.docs import read_docs_file

    found = await asyncio.to_thread(read_docs_file, path)
    if found is None:
        raise HTTPException(404, f"no Data Docs file {path!r}")
    name, data = found
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(content=data, media_type=media_type)


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
