"""The dashboard as a Starlette app: the page, its JSON API and the offline Plotly bundle.

The page is a static shell; its script reads the view from the URL and draws what the view
API endpoints return, so everything it shows is also available to Grafana or a script at the
same URL under /api. The database is reached through a small connection pool, read-only but for
the maintenance-window form's explicit write transactions (maintenance_api.py), opened
when the server starts (never at import time); the SLO catalog is validated then too, so a
broken slos.yaml stops start-up with the file and field named.
"""

from __future__ import annotations

import gzip
import html
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from telemetry_pipeline.apps.dashboard import queries, scopes
from telemetry_pipeline.apps.dashboard.dead_alerts import dead_alerts
from telemetry_pipeline.apps.dashboard.maintenance_api import MaintenanceApi
from telemetry_pipeline.apps.dashboard.metrics import metrics_endpoint
from telemetry_pipeline.apps.dashboard.paging import paging_read, slo_status_now
from telemetry_pipeline.apps.dashboard.params import (
    DEFAULT_MAX_POINTS,
    DEFAULT_RANGE,
    GROUPS,
    RANGES,
    ParamError,
    View,
    parse_view,
)
from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import PERIODS
from telemetry_pipeline.core.kpis.catalog import METRICS
from telemetry_pipeline.core.scopes.teams import DIMENSIONS, load_teams
from telemetry_pipeline.core.slos.config import SloCatalog, load_slos

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
#: Connections held open for the API. A view is a few short statements, so a handful serves many users.
POOL_SIZE = 6
#: /api/kpis reads its metrics in this many slices at once (one PostgreSQL core each).
SERIES_SPLIT = 2
#: How long a request waits for a pooled connection before answering 503.
CONNECTION_WAIT_S = 10.0
#: No dashboard query should take long; a runaway one is cut rather than piling up behind it.
STATEMENT_TIMEOUT_MS = 15000

WORK_MEM = "32MB"
APPLICATION_NAME = "telemetry-dashboard"

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@cache
def _plotly_bundle() -> tuple[bytes, bytes]:
    """plotly.min.js as shipped inside the plotly Python package, raw and gzipped (read once)."""
    import plotly

    raw = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    return raw, gzip.compress(raw, compresslevel=6)


#: What `embed_json` replaces: each character that could end the <script> element, open an HTML
#: comment or character reference inside it, or end a JavaScript line in older parsers.
_EMBED_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def embed_json(value: Any) -> str:
    """`value` as JSON safe inside an HTML <script> element; the one way the page embeds data.

    Escaping only `</` is not enough: `<!--` followed by `<script` inside a script element puts
    the HTML parser into its "double escaped" state, where the real `</script>` no longer ends
    the element and the page never runs. As \\u escapes the characters mean the same to
    JSON.parse, and no text from slos.yaml can change how the HTML around them parses.
    """
    return json.dumps(value).translate(_EMBED_ESCAPES)


def _catalog_json(catalog: SloCatalog) -> dict[str, Any]:
    """What the page needs to build its controls: metrics, groups, SLOs, ranges, defaults."""
    return {
        "metrics": [
            {"name": m.name, "group": m.group, "unit": m.unit, "description": m.description} for m in METRICS
        ],
        "groups": list(GROUPS),
        "slos": [
            {
                "name": slo.name,
                "description": slo.description,
                "min_sample_size": slo.min_sample_size,
                "slis": [
                    {"name": s.name, "metric": s.metric, "comparator": s.comparator, "target": s.target}
                    for s in slo.slis
                ],
            }
            for slo in catalog
        ],
        "ranges": list(RANGES),
        "granularities": list(PERIODS),
        "default_range": DEFAULT_RANGE,
        "default_max_points": DEFAULT_MAX_POINTS,
        "dimensions": list(DIMENSIONS),
        "ranking_limit": scopes.RANKING_LIMIT,
        "dagster_url": settings.dagster_webserver_url(),
    }


def create_app(
    database_url: str,
    *,
    clock: Clock = _now,
    pool_size: int = POOL_SIZE,
    wait_timeout: float = CONNECTION_WAIT_S,
) -> Starlette:
    """The dashboard over the warehouse at `database_url` (a libpq URL).

    `clock` answers "now" for the quick ranges (24h, 7d, ...); tests pin it to make views exact.
    The pool connects in the background: the server starts even while the warehouse is down
    and answers 503 until it is reachable (after `wait_timeout` seconds per request).
    """
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    pool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=pool_size,
        open=False,
        timeout=wait_timeout,
        name="dashboard",
        kwargs={
            "autocommit": True,
            "application_name": APPLICATION_NAME,  # tells DBAs (and bench/dashboard.py) whose sessions these are
            # Read-only by default, whatever a bug might try: only the maintenance-window
            # endpoints write, each in one explicit READ WRITE transaction (maintenance_api.py).
            # work_mem: a year of hourly buckets (~24k groups) hashes in memory instead of spilling.
            # random_page_cost: the covering series index (sql/0041) is cached like the table;
            # at the default 4 the planner reads the twice-larger heap instead.
            "options": f"-c TimeZone=UTC -c default_transaction_read_only=on "
                       f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c work_mem={WORK_MEM} "
                       "-c random_page_cost=1.1",
        },
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        load_slos()  # a broken catalog stops start-up, naming file and field
        load_teams()  # so does a broken teams file (TELEMETRY_TEAMS_FILE)
        pool.open(wait=False)
        try:
            yield
        finally:
            pool.close()

    def query_of(request: Request) -> dict[str, list[str]]:
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        return query

    def view_of(request: Request) -> tuple[View, SloCatalog]:
        catalog = load_slos()
        view = parse_view(query_of(request), catalog, clock())
        if view.scope is not None:  # an unknown repository/workflow/team is a 400, not empty charts
            with pool.connection() as conn:
                scopes.require_known(conn, view.scope, load_teams())
        return view, catalog

    def api(read: Callable[..., dict[str, Any]]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            view, catalog = view_of(request)
            with pool.connection() as conn:
                body = read(conn, view, catalog)
            return JSONResponse(body, headers={"Cache-Control": "no-store"})

        return endpoint

    def kpis(request: Request) -> Response:
        view, catalog = view_of(request)
        body = queries.kpi_series(pool.connection, view, catalog, split=SERIES_SPLIT)
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    def scope_values(request: Request) -> Response:
        q = scopes.parse_values_query(query_of(request))
        with pool.connection() as conn:
            body = scopes.scope_values(conn, q, load_teams())
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def ranking(request: Request) -> Response:
        q = scopes.parse_ranking_query(query_of(request), load_slos(), clock())
        with pool.connection() as conn:
            body = scopes.ranking(conn, q)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def index(request: Request) -> Response:
        catalog = load_slos()
        bootstrap = _catalog_json(catalog)
        status = 200
        try:
            view_of(request)
        except ParamError as exc:
            # The page still loads (its script shows the API's answer in the error box), but a
            # bad link is a 400 naming the parameter, as on the API.
            status = 400
            bootstrap["error"] = {"param": exc.param, "message": exc.message}
        except psycopg.Error:
            pass  # the warehouse is down: the page loads and shows the API's 503
        return templates.TemplateResponse(
            request, "index.html", {"bootstrap": embed_json(bootstrap)}, status_code=status
        )

    def plotly_js(request: Request) -> Response:
        raw, zipped = _plotly_bundle()
        headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(zipped, media_type="application/javascript", headers=headers)
        return Response(raw, media_type="application/javascript", headers=headers)

    def healthz(_request: Request) -> Response:
        with pool.connection() as conn:
            conn.execute("select 1")
        return JSONResponse({"ok": True})

    async def bad_parameter(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ParamError)
        return JSONResponse(
            {"error": f"bad parameter {exc.param!r}: {exc.message}", "param": exc.param, "message": exc.message},
            status_code=400,
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        detail = str(getattr(exc, "detail", "not found"))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": detail}, status_code=status)
        return HTMLResponse(f"<h1>{status}</h1><p>{html.escape(detail)}</p>", status_code=status)

    async def warehouse_down(request: Request, exc: Exception) -> Response:
        # The details (host, port, user) go to the log, not to whoever asked.
        log.warning("dashboard: warehouse error on %s: %s", request.url.path, exc)
        return JSONResponse(
            {"error": f"warehouse unavailable ({type(exc).__name__}); see the dashboard's log"},
            status_code=503,
            headers={"Retry-After": "10"},
        )

    editing = MaintenanceApi(pool.connection, clock)  # the page's maintenance-window form (paging.js)
    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/kpis", kpis),
            Route("/api/slo-status", api(slo_status_now(clock))),  # queries.slo_status + budget as of now
            Route("/api/violations", api(queries.violations)),
            Route("/api/paging", api(paging_read(clock))),
            Route("/api/maintenance", editing.list, methods=["GET"]),
            Route("/api/maintenance", editing.create, methods=["POST"]),
            Route("/api/maintenance/{id}", editing.delete, methods=["DELETE"]),
            Route("/api/dead-alerts", api(dead_alerts)),
            Route("/api/scopes", scope_values),
            Route("/api/ranking", ranking),
            Route("/healthz", healthz),
            Route("/metrics", metrics_endpoint(pool.connection, clock)),
            Route("/static/plotly.min.js", plotly_js),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        middleware=[Middleware(GZipMiddleware, minimum_size=2048)],
        exception_handlers={ParamError: bad_parameter, HTTPException: not_found, psycopg.Error: warehouse_down},
        lifespan=lifespan,
    )
