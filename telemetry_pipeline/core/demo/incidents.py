"""Incident windows: the failures the demo injects so that SLOs visibly break."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from telemetry_pipeline.core.demo.timeline import epoch_us, iso, require_window

TLOG_OUTAGE = "tlog_outage"
RUNNER_QUEUE = "runner_queue"
AUDIT_SYNC_OUTAGE = "audit_sync_outage"
INCIDENT_KINDS: dict[str, str] = {
    TLOG_OUTAGE: "transparency-log outage: most provenance validations error (timeouts)",
    RUNNER_QUEUE: "runner queueing: provenance generation waits 4-12 min for a runner",
    AUDIT_SYNC_OUTAGE: "audit sync outage: audits error and are not synced to Supabase",
}
#: share of rows inside an incident window that the incident hits
TLOG_OUTAGE_ERROR_SHARE = 0.75
RUNNER_QUEUE_SHARE = 0.85
AUDIT_SYNC_ERROR_SHARE = 0.7


@dataclass(frozen=True)
class Incident:
    """A window [start, end) in which one kind of failure hits the generated rows."""

    kind: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.kind not in INCIDENT_KINDS:
            raise ValueError(f"Incident.kind {self.kind!r} is not one of {sorted(INCIDENT_KINDS)}")
        require_window(self.start, self.end, "Incident")

    def __str__(self) -> str:
        return f"{self.kind} [{iso(self.start)}, {iso(self.end)})"


def in_incident(ts_us: np.ndarray, incidents: Sequence[Incident], kind: str) -> np.ndarray:
    """Which rows fall inside an incident of `kind`."""
    hit = np.zeros(len(ts_us), dtype=bool)
    for incident in incidents:
        if incident.kind == kind:
            hit |= (ts_us >= epoch_us(incident.start)) & (ts_us < epoch_us(incident.end))
    return hit
