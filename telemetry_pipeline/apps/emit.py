"""`telemetry-pipeline emit`: record one event from a workflow step.

Telemetry must never break a release: the event goes to the collector when TELEMETRY_COLLECTOR_URL
is set (with TELEMETRY_COLLECTOR_TOKEN), else straight to the warehouse; a target that does not
answer is retried briefly, then the command warns on stderr and still exits 0, unless --strict.
An event that breaks a rule is quarantined like any other (the collector does it, or emit does
it in the warehouse), so a typo in a workflow shows up in telemetry_events_rejected instead of
vanishing.

Exit codes:
  0  recorded (or a duplicate of an event already recorded); without --strict also: not
     delivered or rejected, after a warning on stderr
  1  --strict: the collector or warehouse could not be reached / refused the request
  2  usage error (unknown option, missing --type or --status, --meta without '=')
  3  --strict: the event broke a rule (it is quarantined with the reason)
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import orjson
import psycopg

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.events.store import Rejected, insert_events, quarantine
from telemetry_pipeline.core.events.validation import InvalidEvent, validate_event

#: Exit codes besides 0 (recorded) and click's 2 (usage error); `emit --help` lists all four.
EXIT_UNDELIVERED, EXIT_REJECTED = 1, 3
#: Keys set by their own options; --meta may not override them.
RESERVED_META_KEYS = ("status", "duration_ms")


@dataclass(frozen=True)
class Outcome:
    """What happened to the event: recorded, duplicate, rejected or undelivered."""

    result: str
    detail: str
    target: str

    @property
    def delivered(self) -> bool:
        return self.result in ("recorded", "duplicate", "rejected")


class _Retryable(Exception):
    """A failure worth another attempt (connection refused, timeout, 5xx, 429)."""


class _Final(Exception):
    """A failure another attempt will not fix (401, 4xx, a schema problem)."""


def build_event(
    *,
    event_type: str,
    status: str,
    duration_ms: str | None = None,
    run_id: str | None = None,
    tag: str | None = None,
    timestamp: str | None = None,
    meta: tuple[str, ...] = (),
    event_id: str | None = None,
    repository: str | None = None,
    workflow: str | None = None,
) -> dict[str, object]:
    """The wire-format event for the options. Empty strings count as not given, so a workflow can
    pass `--tag "$GITHUB_REF_NAME"` whether or not the ref is a tag. Raises ValueError for a
    malformed --meta (a usage error); rule checks are the validator's job. `repository` and
    `workflow` (metadata keys, the scopes of SPEC section 10) win over a --meta of the same key,
    which wins over GITHUB_REPOSITORY / GITHUB_WORKFLOW (set by GitHub Actions in every step)."""
    metadata: dict[str, object] = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--meta {item!r}: expected KEY=VALUE")
        if key in RESERVED_META_KEYS:
            raise ValueError(f"--meta {key}=...: use --{key.replace('_', '-')} instead")
        metadata[key] = value
    metadata["status"] = status
    if duration_ms:
        metadata["duration_ms"] = duration_ms
    # the scope keys: the option, else a --meta of the same key, else the GitHub Actions variable
    current = settings.current()
    for key, given, default in (("repository", repository, current.github_repository),
                                ("workflow", workflow, current.github_workflow)):
        if given:
            metadata[key] = given
        elif default and not metadata.get(key):
            metadata[key] = default
    event: dict[str, object] = {"event_type": event_type, "metadata": metadata}
    optional: dict[str, str | None] = {
        "run_id": run_id, "tag": tag, "event_timestamp": timestamp, "event_id": event_id,
    }
    event.update({name: given for name, given in optional.items() if given})
    return event


def emit(event: dict, *, attempts: int = 3, timeout: float = 5.0, backoff: float = 0.5) -> Outcome:
    """Deliver one event to the collector (when configured) or the warehouse, with retries."""
    collector_url = settings.current().collector_url
    if collector_url:
        target = settings.redact_url(collector_url)
        deliver: Callable[[], Outcome] = partial(_to_collector, collector_url, event, timeout, target)
    else:
        target = "warehouse"
        deliver = partial(_to_warehouse, event, timeout)
    last_error = ""
    for attempt in range(1, attempts + 1):
        try:
            return deliver()
        except _Final as exc:
            return Outcome("undelivered", str(exc), target)
        except _Retryable as exc:
            last_error = str(exc)
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))  # a real pause between attempts, not a sync stand-in
    return Outcome("undelivered", f"{last_error} (after {attempts} attempts)", target)


def _events_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/v1/events") else f"{base}/v1/events"


def _to_collector(url: str, event: dict, timeout: float, target: str) -> Outcome:
    headers = {"Content-Type": "application/json", "User-Agent": "telemetry-pipeline-emit"}
    token = settings.current().collector_token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(_events_url(url), data=orjson.dumps(event), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
            answer = orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise _Retryable(f"collector answered {exc.code}") from None
        hint = f" (check {settings.COLLECTOR_TOKEN_ENV})" if exc.code == 401 else ""
        raise _Final(f"collector answered {exc.code}{hint}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Retryable(f"collector unreachable: {reason}") from None
    except orjson.JSONDecodeError:
        raise _Final("collector answered something that is not JSON") from None
    return _outcome(answer.get("accepted", 0), answer.get("duplicates", 0), answer.get("reasons") or [], target)


def _outcome(accepted: int, duplicates: int, reasons: list, target: str) -> Outcome:
    if accepted:
        return Outcome("recorded", "stored", target)
    if duplicates:
        return Outcome("duplicate", "an event with this event_id is already recorded", target)
    reason = reasons[0]["reason"] if reasons else "rejected"
    return Outcome("rejected", reason, target)


def _to_warehouse(event: dict, timeout: float) -> Outcome:
    from telemetry_pipeline.core import warehouse

    try:
        url = warehouse.configured().url()
        with psycopg.connect(url, connect_timeout=max(1, round(timeout)), options="-c TimeZone=UTC") as conn:
            try:
                valid = validate_event(event, default_timestamp=datetime.now(UTC))
            except InvalidEvent as exc:
                quarantine(conn, [Rejected.of(None, exc, orjson.dumps(event))], source="emit", batch_id=None)
                return Outcome("rejected", exc.reason, "warehouse")
            inserted = insert_events(conn, [valid])
        return _outcome(inserted, 1 - inserted, [], "warehouse")
    except psycopg.OperationalError as exc:
        raise _Retryable(f"warehouse unreachable: {_first_line(exc)}") from None
    except psycopg.Error as exc:
        raise _Final(f"warehouse refused the event: {_first_line(exc)}") from None
    except Exception as exc:  # the embedded server failing to start, say: telemetry must not break a release
        raise _Retryable(f"warehouse unavailable: {type(exc).__name__}") from None


def _first_line(exc: Exception) -> str:
    """The first line of a driver message (libpq messages never carry the password)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
