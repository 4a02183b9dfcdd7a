"""GitHub webhook deliveries -> telemetry events (workflow_run and workflow_job).

A completed workflow run becomes a `workflow.run` event, a completed job a `workflow.job` event
(stored and counted in event_count/error_rate; no other KPI reads it).

The event_id is the natural key `github:<event>:<run or job id>:<run attempt>`, not the delivery
GUID: the same run reaches us once per webhook that watches it (a repository's and its
organisation's, with two GUIDs) and again on "Redeliver", and must be stored once; a re-run is a
new attempt and a new event. The first delivery's GUID is kept in metadata.delivery_id.

Status comes from the conclusion (SPEC section 3):

  success                          -> success
  failure                          -> failure
  timed_out, startup_failure       -> error     (the step could not run to a result)
  cancelled                        -> cancelled (e.g. superseded by `cancel-in-progress`; GitHub
                                                 shows it grey: counted in event_count only)
  neutral, skipped, stale, action_required, none
                                   -> not recorded (the workflow did not run to a result, so it
                                      says nothing about success or availability)
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telemetry_pipeline.core.events.validation import InvalidEvent, parse_timestamp

CONCLUSION_STATUS = {
    "success": "success",
    "failure": "failure",
    "timed_out": "error",
    "startup_failure": "error",
    "cancelled": "cancelled",
}
SIGNATURE_PREFIX = "sha256="


class Ignored(Exception):
    """A genuine delivery that carries no telemetry (another event, action, or conclusion)."""


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """X-Hub-Signature-256 check: HMAC-SHA256 of the raw body, compared in constant time."""
    if not header:
        return False
    expected = SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", errors="replace"))


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 header GitHub would send for `body` (tests, local replays)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Kind:
    """How one webhook event maps to a telemetry event: its object, times and metadata fields."""

    event_type: str
    started_key: str
    finished_key: str
    run_id_key: str
    #: key of the object's own id: with run_attempt, what identifies one result of it
    id_key: str
    #: metadata key -> key in the webhook object
    fields: tuple[tuple[str, str], ...]


_KINDS = {
    "workflow_run": _Kind(
        "workflow.run", "run_started_at", "updated_at", "id", "id",
        (("workflow", "name"), ("workflow_id", "workflow_id"), ("run_number", "run_number"),
         ("run_attempt", "run_attempt"), ("trigger", "event")),
    ),
    "workflow_job": _Kind(
        "workflow.job", "started_at", "completed_at", "run_id", "id",
        (("job", "name"), ("job_id", "id"), ("workflow", "workflow_name"), ("run_attempt", "run_attempt"),
         ("runner", "runner_name")),
    ),
}


def event_from_delivery(event_name: str | None, payload: Any, delivery_id: str) -> dict:
    """The wire-format event for one delivery; Ignored or InvalidEvent(bad_github_payload)."""
    if not isinstance(payload, dict):
        raise InvalidEvent("bad_github_payload", "body is not a JSON object")
    kind = _KINDS.get(event_name or "")
    if kind is None:
        raise Ignored(f"event {event_name!r} is not recorded")
    name = event_name or ""
    action = payload.get("action")
    if action != "completed":
        raise Ignored(f"{name} action {action!r} is not recorded (only 'completed')")
    obj = payload.get(name)
    if not isinstance(obj, dict):
        raise InvalidEvent("bad_github_payload", f"{name} is missing or not an object")
    conclusion = obj.get("conclusion")
    if conclusion not in CONCLUSION_STATUS:
        raise Ignored(f"{name} conclusion {conclusion!r} is not recorded")
    started, finished = _time(obj, name, kind.started_key), _time(obj, name, kind.finished_key)
    millis = round((finished - started).total_seconds() * 1000)
    if millis < 0:
        raise InvalidEvent("bad_github_payload", f"{name} finished before it started")
    repository = payload.get("repository")
    metadata = {
        "status": CONCLUSION_STATUS[conclusion],
        "duration_ms": millis,
        "conclusion": conclusion,
        **{key: obj.get(source) for key, source in kind.fields},
        "head_sha": obj.get("head_sha"),
        "repository": repository.get("full_name") if isinstance(repository, dict) else None,
        "html_url": obj.get("html_url"),
        "source": "github",
        "delivery_id": delivery_id,
    }
    return {
        "event_type": kind.event_type,
        "event_timestamp": finished.isoformat(),
        "run_id": obj.get(kind.run_id_key),
        "tag": obj.get("head_branch"),
        "event_id": natural_key(name, obj, kind.id_key),
        "metadata": metadata,
    }


def natural_key(name: str, obj: dict, id_key: str) -> str:
    """`github:<event>:<id>:<attempt>`: one stored event per result, however many deliveries.

    A payload without run_attempt (older GitHub Enterprise Server) is attempt 1.
    """
    parts = []
    for key, default in ((id_key, None), ("run_attempt", 1)):
        value = obj.get(key)
        value = default if value is None else value
        if type(value) is not int or value < 0:
            raise InvalidEvent("bad_github_payload", f"{name}.{key} is missing or not a non-negative integer")
        parts.append(str(value))
    return f"github:{name}:{parts[0]}:{parts[1]}"


def _time(obj: dict, name: str, key: str) -> datetime:
    value = obj.get(key)
    if value is None:
        raise InvalidEvent("bad_github_payload", f"{name}.{key} is missing")
    try:
        return parse_timestamp(value)
    except InvalidEvent as exc:
        raise InvalidEvent("bad_github_payload", f"{name}.{key}: {exc.detail}") from None
