"""Valid events for the warehouse tests."""

from __future__ import annotations

import json

from telemetry_pipeline.core.events.validation import Event, parse_event


def event(timestamp: str, event_id: str | None = None, event_type: str = "build") -> Event:
    """A validated event at `timestamp` (ISO 8601), optionally with an idempotency key."""
    doc = {"event_type": event_type, "event_timestamp": timestamp, "metadata": {"status": "success"}}
    if event_id is not None:
        doc["event_id"] = event_id
    return parse_event(json.dumps(doc).encode())
