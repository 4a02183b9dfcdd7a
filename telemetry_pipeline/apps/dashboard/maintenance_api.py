"""Maintenance windows edited on the dashboard: list, create, delete (docs/dashboard.md).

The same library calls as `telemetry-pipeline slo silence | silences` (core/slos/maintenance.py),
so the page and the command check a window the same way. The dashboard's connections are
read-only by default; a write runs in one explicit READ WRITE transaction, and a warehouse role
that may not write (a read replica, a read-only user) answers 403 saying so.

Cross-site request forgery: a write is accepted only as JSON (a cross-site page cannot send that
without a CORS preflight, which this server never grants) or as a form whose Origin (or, without
one, Referer) is this server's own; any write whose Origin names another site is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from telemetry_pipeline.apps.dashboard.params import iso
from telemetry_pipeline.core.slos import maintenance
from telemetry_pipeline.core.slos.config import load_slos

FIELDS = ("slo", "sli", "from", "to", "reason")
#: A longer value is refused before parsing (a time is ~25 characters; reason has its own limit).
MAX_FIELD = {"slo": 100, "sli": 100, "from": 64, "to": 64, "reason": maintenance.MAX_REASON}
MAX_BODY = 16 * 1024
#: What an HTML form posts by default (parsed with the standard library, no multipart).
FORM = "application/x-www-form-urlencoded"

Connect = Callable[[], AbstractContextManager[psycopg.Connection]]


class FieldError(ValueError):
    """A form field that cannot be used: answered 400 naming it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _window_json(w: maintenance.MaintenanceWindow, now: datetime) -> dict[str, Any]:
    return {"id": w.id, "slo_name": w.slo_name, "sli": w.sli, "starts_at": iso(w.starts_at), "ends_at": iso(w.ends_at),
            "reason": w.reason, "created_at": iso(w.created_at), "active": w.starts_at <= now < w.ends_at}


def _refused(status: int, error: str, **extra: Any) -> Response:
    return JSONResponse({"error": error, **extra}, status_code=status)


def _bad_field(field: str, message: str) -> Response:
    return _refused(400, f"bad field {field!r}: {message}", field=field, message=message)


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def _foreign_origin(request: Request) -> str | None:
    """Why the request's Origin is another site, or None (same site, or no Origin header)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request):
        return f"Origin {origin!r} is not this dashboard ({_own_origin(request)})"
    return None


def _cross_site(request: Request) -> str | None:
    """Why this POST may come from another site's page, or None when it cannot."""
    if why := _foreign_origin(request):
        return why
    own = _own_origin(request)
    origin = request.headers.get("origin")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        return None
    if kind != FORM:
        return f"send JSON (Content-Type: application/json) or a form ({FORM}), not {kind or 'no content type'!r}"
    if origin is None:
        referer = urlsplit(request.headers.get("referer", ""))
        if f"{referer.scheme}://{referer.netloc}" != own:
            return "a form post needs an Origin or Referer header of this dashboard"
    return None


async def _fields(request: Request) -> dict[str, str]:
    """The posted fields as text, JSON or form alike; unknown or non-text fields are a FieldError."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:  # refused before reading it
        raise FieldError("body", f"Content-Length {declared[:20]!r} is not at most {MAX_BODY} bytes")
    body = await request.body()
    if len(body) > MAX_BODY:  # chunked: no Content-Length
        raise FieldError("body", f"{len(body)} bytes is more than {MAX_BODY}")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw: dict[str, Any]
    if kind == "application/json":
        try:
            raw = json.loads(body or b"null")
        except ValueError:
            raise FieldError("body", "is not JSON") from None
        if not isinstance(raw, dict):
            raise FieldError("body", "must be a JSON object of fields")
    else:
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            raise FieldError("body", f"is not a {FORM} form") from None
        raw = {}
        for key, values in form.items():
            if len(values) != 1:
                raise FieldError(key, "given more than once")
            raw[key] = values[0]
    fields: dict[str, str] = {}
    for key, value in raw.items():
        if key not in FIELDS:
            raise FieldError(key, f"unknown field; expected some of {', '.join(FIELDS)}")
        if value is None:
            continue
        if not isinstance(value, str):
            raise FieldError(key, "must be text")
        if len(value) > MAX_FIELD[key]:
            raise FieldError(key, f"at most {MAX_FIELD[key]} characters")
        if not value.isprintable():  # a newline in a reason would also break `slo silences` lines
            raise FieldError(key, "has control characters")
        fields[key] = value
    for key in ("slo", "from", "to", "reason"):
        if not fields.get(key, "").strip():
            raise FieldError(key, "is required")
    return fields


def _message(exc: maintenance.MaintenanceError) -> str:
    """The library's message without the command-line option it starts with."""
    text = str(exc)
    prefix = f"--{exc.field}: "
    return text[len(prefix):] if text.startswith(prefix) else text.replace("--", "")


class MaintenanceApi:
    """The three endpoints over a pool's connections; `clock` answers "now" ('now', '+2h')."""

    def __init__(self, connect: Connect, clock: Callable[[], datetime]) -> None:
        self.connect = connect
        self.clock = clock

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        """One READ WRITE transaction on a (by default read-only) pooled connection."""
        with self.connect() as conn, conn.transaction():
            conn.execute("set transaction read write")
            yield conn

    def list(self, request: Request) -> Response:
        """GET /api/maintenance: windows ending after now (current and ahead); ?all=1 for every one."""
        unknown = sorted(set(request.query_params) - {"all"})
        if unknown:
            return _refused(400, f"bad parameter {unknown[0]!r}: unknown parameter; expected all", param=unknown[0])
        now = self.clock()
        every = request.query_params.get("all", "") in ("1", "true")
        with self.connect() as conn:
            windows = maintenance.list_windows(conn, ending_after=None if every else now)
        return JSONResponse({"as_of": iso(now), "windows": [_window_json(w, now) for w in windows]},
                            headers={"Cache-Control": "no-store"})

    async def create(self, request: Request) -> Response:
        """POST /api/maintenance: record one window (201), or 400 naming the field."""
        if why := _cross_site(request):
            return _refused(403, f"refused: {why}")
        try:
            fields = await _fields(request)
        except FieldError as exc:
            return _bad_field(exc.field, exc.message)
        now = self.clock()
        try:
            starts_at = maintenance.parse_instant(fields["from"], "--from", now=now)
            ends_at = maintenance.parse_instant(fields["to"], "--to", now=now, base=starts_at)
            with self._transaction() as conn:
                window = maintenance.add_window(conn, load_slos(), fields["slo"].strip(),
                                                fields.get("sli", "").strip() or None, starts_at, ends_at,
                                                fields["reason"])
        except maintenance.MaintenanceError as exc:
            return _bad_field(exc.field, _message(exc))
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction) as exc:
            return _read_only(exc)
        return JSONResponse(_window_json(window, now), status_code=201)

    def delete(self, request: Request) -> Response:
        """DELETE /api/maintenance/{id}: 200, or 404 when there is no such window."""
        if why := _foreign_origin(request):  # DELETE is never a simple cross-site request
            return _refused(403, f"refused: {why}")
        raw = request.path_params["id"]
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            return _bad_field("id", f"{raw[:40]!r} is not a window id")
        try:
            with self._transaction() as conn:
                deleted = maintenance.delete_window(conn, int(raw))
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction) as exc:
            return _read_only(exc)
        if not deleted:
            return _refused(404, f"no maintenance window with id {raw}")
        return JSONResponse({"deleted": int(raw)})


def _read_only(exc: psycopg.Error) -> Response:
    return _refused(403, "the dashboard's warehouse role cannot write maintenance windows "
                         f"({type(exc).__name__}); use `telemetry-pipeline slo silence` or a role that may")
