"""Environment variables of event collection, named once (read when asked, never at import)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

T = TypeVar("T")

#: Base URL of the collector (`emit` posts to <url>/v1/events when set).
COLLECTOR_URL_ENV = "TELEMETRY_COLLECTOR_URL"
#: Bearer token the collector requires on POST /v1/events (and `emit` sends).
COLLECTOR_TOKEN_ENV = "TELEMETRY_COLLECTOR_TOKEN"
#: Shared secret of the GitHub webhook (X-Hub-Signature-256).
GITHUB_WEBHOOK_SECRET_ENV = "GITHUB_WEBHOOK_SECRET"
#: Largest request body the collector reads, in bytes.
COLLECTOR_MAX_BODY_ENV = "TELEMETRY_COLLECTOR_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 1 << 20
#: How far back (days, by event time) the late-data sensor re-materialises partitions.
LATE_DATA_LOOKBACK_ENV = "TELEMETRY_LATE_DATA_LOOKBACK_DAYS"
DEFAULT_LATE_DATA_LOOKBACK_DAYS = 7.0


def secret(name: str) -> str | None:
    """A secret from the environment; unset and empty both mean 'not configured'."""
    return os.environ.get(name) or None


def _setting(name: str, default: T, parse: Callable[[str], T], valid: Callable[[T], bool], expected: str) -> T:
    """A typed setting; a malformed value stops start-up naming the variable and what it expects."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise ValueError(f"{name}={raw!r} is not {expected}")
    return value


def positive_int(name: str, default: int) -> int:
    """A positive integer setting."""
    return _setting(name, default, int, lambda v: v > 0, "a positive integer")


def late_data_lookback() -> timedelta:
    """The late-data sensor's lookback (TELEMETRY_LATE_DATA_LOOKBACK_DAYS, default 7)."""
    days = _setting(
        LATE_DATA_LOOKBACK_ENV, DEFAULT_LATE_DATA_LOOKBACK_DAYS, float, lambda d: 0 < d <= 366,
        "a number of days between 0 and 366",
    )
    return timedelta(days=days)
