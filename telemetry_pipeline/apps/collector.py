"""The HTTP collector: events over HTTP and GitHub webhooks into the warehouse (Starlette + uvicorn).

  POST /v1/events          one JSON event, or an NDJSON batch; `Authorization: Bearer <token>`
  POST /v1/supply-chain?format=gh-attestation|slsa-verifier
                           a verifier's output (core/events/supply_chain.py) as provenance.validation
                           events; same token, limits and gzip as /v1/events
  POST /v1/github/webhook  GitHub workflow_run / workflow_job deliveries, X-Hub-Signature-256
  GET  /healthz            200 when the warehouse answers, 503 when it does not

Every event goes through the same validator as `ingest` and `emit`; valid events are stored,
invalid ones quarantined with their line number, and the answer is 202 with the counts and the
reasons. Secrets are compared in constant time and never written to a log or an answer. The
database work runs in a worker thread with a pooled connection, so a slow insert never blocks
the event loop. A body larger than the cap is refused with 413 before it is read in full.
"""

from __future__ import annotations

import hmac
import logging
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.events import github, supply_chain
from telemetry_pipeline.core.events.store import Rejected, insert_events, quarantine
from telemetry_pipeline.core.events.validation import Event, InvalidEvent, decode_json, validate_event

log = logging.getLogger(__name__)

#: How many rejection reasons an answer lists (the quarantine table has them all).
MAX_REASONS_IN_ANSWER = 100
_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")


@dataclass(frozen=True)
class CollectorConfig:
    """What the collector needs; `from_env` is the production path, tests build it directly."""

    database_url: str  # libpq URL of the warehouse
    token: str | None  # None: POST /v1/events answers 503
    webhook_secret: str | None  # None: POST /v1/github/webhook answers 503
    max_body_bytes: int = settings.DEFAULT_MAX_BODY_BYTES
    pool_size: int = 8
    db_timeout: float = 5.0  # seconds to wait for a pooled connection before answering 503

    def __repr__(self) -> str:  # never show the secrets, e.g. in a traceback's locals
        return (
            f"CollectorConfig(database_url={settings.redact_url(self.database_url)!r}, "
            f"token={'***' if self.token else None}, webhook_secret={'***' if self.webhook_secret else None}, "
            f"max_body_bytes={self.max_body_bytes}, pool_size={self.pool_size}, db_timeout={self.db_timeout})"
        )

    @classmethod
    def from_env(cls, *, max_body_bytes: int | None = None, pool_size: int = 8) -> CollectorConfig:
        from telemetry_pipeline.core import warehouse

        return cls(
            database_url=warehouse.configured().url(),
            token=settings.current().collector_token,
            webhook_secret=settings.current().github_webhook_secret,
            max_body_bytes=max_body_bytes or settings.current().collector_max_body_bytes,
            pool_size=pool_size,
        )


class _BadBody(Exception):
    """A body refused before parsing: too large (413), an unknown encoding (415), bad gzip (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (before reading it all) anything over `limit` bytes.

    `Content-Encoding: gzip` is accepted (batches compress ~10x); the limit applies to the
    compressed and to the decompressed size, so a small bomb cannot expand in memory.
    """
    too_large = _BadBody(413, f"body larger than {limit} bytes; send smaller batches")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise _BadBody(415, f"Content-Encoding {encoding!r} is not supported (use gzip or none)")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    body = b"".join(chunks)
    return gunzip(body, limit, too_large) if encoding == "gzip" else body


def gunzip(body: bytes, limit: int, too_large: Exception) -> bytes:
    """Every member of a gzip body (`cat a.gz b.gz` is valid gzip, RFC 1952 section 2.2), all or
    nothing: a truncated or corrupt body, or bytes after the last member, is a 400 so that no part
    of a damaged batch is stored and answered 202. Output beyond `limit` raises `too_large`."""
    out: list[bytes] = []
    size = 0
    rest = body
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            part = inflater.decompress(rest, limit + 1 - size)
        except zlib.error:
            raise _BadBody(400, "body is not valid gzip (corrupt data)") from None
        size += len(part)
        if size > limit or inflater.unconsumed_tail:
            raise too_large
        if not inflater.eof:
            raise _BadBody(400, "body is not valid gzip (truncated)")
        out.append(part)
        rest = inflater.unused_data
        if not rest:
            return b"".join(out)
        if not rest.startswith(b"\x1f\x8b"):
            raise _BadBody(400, "body is not valid gzip (trailing bytes after the last member)")


def bearer_ok(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", errors="replace"), token.encode("utf-8"))


def split_body(body: bytes, content_type: str) -> list[tuple[int, bytes]]:
    """(line number, text) of each event in a body: one JSON document, or NDJSON lines.

    A body that parses as one JSON document is one event even when pretty-printed over several
    lines; otherwise (or when the content type says NDJSON) every non-blank line is an event.
    """
    is_ndjson = content_type.split(";")[0].strip().lower() in _NDJSON_TYPES
    if not is_ndjson and b"\n" in body.strip():
        try:
            decode_json(body)  # the validator's reader: exact numbers orjson refuses are still one document
        except InvalidEvent:
            is_ndjson = True
    if not is_ndjson:
        return [(1, body)]
    return [(n, line) for n, line in enumerate(body.split(b"\n"), start=1) if line.strip()]


@dataclass
class _Outcome:
    accepted: int
    duplicates: int
    rejects: list[Rejected]
    batch_id: str

    def answer(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": len(self.rejects),
            "reasons": [
                {"line": r.line_number, "reason": r.reason} for r in self.rejects[:MAX_REASONS_IN_ANSWER]
            ],
            "batch_id": self.batch_id,
        }


def _store(pool: ConnectionPool, events: list[Event], rejects: list[Rejected], source: str) -> _Outcome:
    batch_id = str(uuid.uuid4())
    with pool.connection() as conn:  # commits on success: events and rejects together
        inserted = insert_events(conn, events)
        quarantine(conn, rejects, source=source, batch_id=batch_id)
    return _Outcome(inserted, len(events) - inserted, rejects, batch_id)


def _validate_lines(lines: list[tuple[int, bytes]], now: datetime) -> tuple[list[Event], list[Rejected]]:
    events: list[Event] = []
    rejects: list[Rejected] = []
    for number, raw in lines:
        try:
            events.append(validate_event(decode_json(raw), default_timestamp=now))
        except InvalidEvent as exc:
            rejects.append(Rejected.of(number, exc, raw.rstrip(b"\r")))
    return events, rejects


def _ingest_body(pool: ConnectionPool, body: bytes, content_type: str) -> _Outcome:
    events, rejects = _validate_lines(split_body(body, content_type), datetime.now(UTC))
    return _store(pool, events, rejects, "collector")


def _ingest_tool_output(pool: ConnectionPool, fmt: str, body: bytes, context: supply_chain.Context) -> _Outcome:
    """A verifier's output: records no event can be read from and events the validator refuses are
    quarantined (numbered by their record), the rest stored, all in one transaction."""
    converted = supply_chain.convert(fmt, body, context)
    events: list[Event] = []
    rejects = supply_chain.unreadable(converted)
    for record in converted:
        for event in record.events:
            try:
                events.append(validate_event(event, default_timestamp=context.timestamp))
            except InvalidEvent as exc:
                rejects.append(Rejected.of(record.record_number, exc, orjson.dumps(event)))
    return _store(pool, events, rejects, f"collector:{fmt}")


def _ingest_delivery(pool: ConnectionPool, event: dict | None, reject: Rejected | None) -> _Outcome:
    if event is not None:
        try:
            return _store(pool, [validate_event(event)], [], "github")
        except InvalidEvent as exc:
            reject = Rejected.of(None, exc, orjson.dumps(event))
    return _store(pool, [], [reject] if reject else [], "github")


def create_app(config: CollectorConfig) -> Starlette:
    """The collector as an ASGI app (uvicorn serves it; tests serve it on a loopback port)."""
    pool = ConnectionPool(
        conninfo=config.database_url,
        min_size=1,
        max_size=config.pool_size,
        open=False,
        timeout=config.db_timeout,
        kwargs={"options": "-c TimeZone=UTC", "connect_timeout": 5},
        name="telemetry-collector",
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool.open(wait=False)  # start even while the warehouse is down; /healthz says so
        try:
            yield
        finally:
            pool.close()

    async def database_call(fn: Callable[..., Any], *args: Any) -> Response | _Outcome:
        try:
            return await run_in_threadpool(fn, pool, *args)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            log.warning("collector: warehouse unavailable (%s)", type(exc).__name__)
            return _error(503, "warehouse unavailable, retry later", **{"Retry-After": "5"})

    def token_refusal(request: Request) -> Response | None:
        """The answer to a request without the collector's bearer token (None: it has it)."""
        if not config.token:
            return _error(503, f"event intake is disabled: {settings.COLLECTOR_TOKEN_ENV} is not set")
        if not bearer_ok(request.headers.get("authorization"), config.token):
            return _error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
        return None

    async def post_events(request: Request) -> Response:
        if (refused := token_refusal(request)) is not None:
            return refused
        try:
            body = await _read_body(request, config.max_body_bytes)
        except _BadBody as bad:
            return _error(bad.status, bad.message)
        if not body.strip():
            return _error(400, "empty body: send one JSON event or NDJSON lines")
        result = await database_call(_ingest_body, body, request.headers.get("content-type", ""))
        if isinstance(result, Response):
            return result
        log.info(
            "POST /v1/events: accepted %d, duplicates %d, rejected %d",
            result.accepted, result.duplicates, len(result.rejects),
        )
        return JSONResponse(result.answer(), status_code=202)

    async def post_supply_chain(request: Request) -> Response:
        if (refused := token_refusal(request)) is not None:
            return refused
        fmt = request.query_params.get("format")
        if fmt not in supply_chain.FORMATS:
            return _error(400, f"query parameter format must be one of {', '.join(supply_chain.FORMATS)}, "
                               f"got {fmt!r}")
        try:
            context = supply_chain.context_from_query(fmt, request.query_params, datetime.now(UTC))
        except ValueError as exc:
            return _error(400, str(exc))
        try:
            body = await _read_body(request, config.max_body_bytes)
        except _BadBody as bad:
            return _error(bad.status, bad.message)
        if not body.strip():
            return _error(400, f"empty body: send the output of {fmt} (or its run records)")
        result = await database_call(_ingest_tool_output, fmt, body, context)
        if isinstance(result, Response):
            return result
        log.info(
            "POST /v1/supply-chain (%s): accepted %d, duplicates %d, rejected %d",
            fmt, result.accepted, result.duplicates, len(result.rejects),
        )
        return JSONResponse(result.answer(), status_code=202)

    async def github_webhook(request: Request) -> Response:
        if not config.webhook_secret:
            return _error(503, f"GitHub webhooks are disabled: {settings.GITHUB_WEBHOOK_SECRET_ENV} is not set")
        try:
            body = await _read_body(request, config.max_body_bytes)
        except _BadBody as bad:
            return _error(bad.status, bad.message)
        if not github.signature_ok(config.webhook_secret, body, request.headers.get("x-hub-signature-256")):
            return _error(401, "missing or wrong X-Hub-Signature-256")
        delivery = request.headers.get("x-github-delivery", "").strip()
        name = request.headers.get("x-github-event")
        if name == "ping":
            return JSONResponse({"pong": True})
        if not delivery:
            return _error(400, "missing X-GitHub-Delivery header")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, "body is not JSON")
        event, reject = None, None
        try:
            event = github.event_from_delivery(name, payload, delivery)
        except github.Ignored as ignored:
            log.info("GitHub delivery %s ignored: %s", delivery, ignored)
            return JSONResponse({"ignored": str(ignored)}, status_code=202)
        except InvalidEvent as exc:
            reject = Rejected.of(None, exc, body)
        result = await database_call(_ingest_delivery, event, reject)
        if isinstance(result, Response):
            return result
        log.info(
            "GitHub delivery %s (%s): accepted %d, duplicates %d, rejected %d",
            delivery, name, result.accepted, result.duplicates, len(result.rejects),
        )
        return JSONResponse(result.answer(), status_code=202)

    def database_ok(pool: ConnectionPool) -> bool:
        with pool.connection(timeout=min(2.0, config.db_timeout)) as conn:
            conn.execute("select 1")
        return True

    async def healthz(request: Request) -> Response:
        result = await database_call(database_ok)
        if isinstance(result, Response):
            return JSONResponse({"status": "degraded", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return Starlette(
        routes=[
            Route("/v1/events", post_events, methods=["POST"]),
            Route("/v1/supply-chain", post_supply_chain, methods=["POST"]),
            Route("/v1/github/webhook", github_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def serve(config: CollectorConfig, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the collector with uvicorn until interrupted."""
    import uvicorn

    if not config.token and not config.webhook_secret:
        raise ValueError(
            f"neither {settings.COLLECTOR_TOKEN_ENV} nor {settings.GITHUB_WEBHOOK_SECRET_ENV} is set: "
            "the collector would refuse every request"
        )
    for name, value in ((settings.COLLECTOR_TOKEN_ENV, config.token), (settings.GITHUB_WEBHOOK_SECRET_ENV, config.webhook_secret)):
        if not value:
            log.warning("%s is not set: its endpoint answers 503", name)
    uvicorn.run(create_app(config), host=host, port=port, server_header=False, log_level="info")
