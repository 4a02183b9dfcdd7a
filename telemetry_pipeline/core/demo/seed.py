"""`seed_demo`: N days of realistic telemetry and audits, with incidents that break SLOs.

The demo must show both healthy operation and alerts, so the volumes are sized for hourly SLO
evaluation (every hour has >= 30 provenance generations, >= 30 validations, >= 15 audits, well
above min_sample_size 10), the baseline failure mix is small enough that ordinary hours meet
the SLOs, and three incidents clearly break them: one ending at `end` (recent enough to alert)
and two days earlier (old, so the alert sensor records them as suppressed backfill violations).
A handful of malformed rows shows that KPIs survive values they cannot read (SPEC section 3).
Rows belong to the 40 repositories of fleet.DEMO_FLEET (teams in teams.yaml), and one team's
incident (team_incident.py) breaks only that team's scoped SLO (SPEC section 10).

The seed replaces its own window [end - days, end) in one transaction, so running it twice
with the same arguments leaves the same rows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from telemetry_pipeline.core.demo import team_incident
from telemetry_pipeline.core.demo.fleet import DEMO_FLEET
from telemetry_pipeline.core.demo.generate import (
    AUDIT_SYNC_OUTAGE,
    RUNNER_QUEUE,
    TLOG_OUTAGE,
    Incident,
    copy_audits,
    copy_events,
)
from telemetry_pipeline.core.demo.timeline import iso

#: all events per hour on average (72 provenance generations and 72 validations among them)
EVENTS_PER_HOUR = 300
#: audits per hour on average
AUDITS_PER_HOUR = 36

#: incident lengths
TLOG_OUTAGE_HOURS = 4
RUNNER_QUEUE_HOURS = 6
AUDIT_SYNC_HOURS = 3
#: preferred distance of the older incidents' start from `end`, capped to fit short ranges
TLOG_OUTAGE_AGO = timedelta(days=2, hours=10)
RUNNER_QUEUE_AGO = timedelta(days=5, hours=20)

#: rows SPEC section 3 says must not break KPIs: values that are not numbers count as absent.
#: (event_type, metadata, offset before `end`); all successes, outside the incident windows.
ODD_ROWS: tuple[tuple[str, dict, timedelta], ...] = (
    ("provenance.generation", {"status": "success", "duration_ms": "n/a", "artifact_size_bytes": 524288},
     timedelta(hours=4, minutes=30)),
    ("provenance.generation", {"status": "success", "duration_ms": True, "artifact_size_bytes": "12 MB"},
     timedelta(hours=5, minutes=7)),
    ("provenance.validation", {"status": "success", "duration_ms": "NaN"}, timedelta(hours=5, minutes=44)),
    ("workflow.run", {"status": "success", "duration_ms": {"value": 600000}}, timedelta(hours=6, minutes=21)),
    ("api.request", {"status": "success", "duration_ms": "", "status_code": 200}, timedelta(hours=6, minutes=58)),
)


@dataclass(frozen=True)
class SeedSummary:
    """What `seed_demo` wrote; str() is one line for the command line."""

    start: datetime
    end: datetime
    events: int
    audits: int
    incidents: tuple[Incident, ...]
    seconds: float
    #: the scoped incident (team_incident.py), None when the range has no day for it
    team_incident: team_incident.TeamIncident | None = None

    @property
    def rows_per_second(self) -> float:
        return (self.events + self.audits) / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        incidents = "; ".join(str(i) for i in (*self.incidents, *filter(None, [self.team_incident])))
        return (
            f"{self.events:,} events and {self.audits:,} audits over [{iso(self.start)}, {iso(self.end)}) "
            f"in {self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s); incidents: {incidents}"
        )


def default_end(now: datetime | None = None) -> datetime:
    """The start of the current UTC hour."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(minute=0, second=0, microsecond=0)


def demo_incidents(end: datetime, days: int) -> tuple[Incident, ...]:
    """The incident windows of a seed ending at `end`: hour-aligned, disjoint, inside the range.

    The audit sync outage covers the last AUDIT_SYNC_HOURS before `end`, so its latest hours are
    within two periods of "now" and alert; the other two sit days earlier (or, for short
    ranges, at 60 % and 90 % of the way back) and are old by the time anything evaluates them.
    """
    hour = default_end(end)
    span_hours = days * 24
    tlog_ago = min(int(TLOG_OUTAGE_AGO / timedelta(hours=1)), round(0.6 * span_hours))
    queue_ago = min(int(RUNNER_QUEUE_AGO / timedelta(hours=1)), round(0.9 * span_hours))
    return (
        Incident(RUNNER_QUEUE, hour - timedelta(hours=queue_ago),
                 hour - timedelta(hours=queue_ago - RUNNER_QUEUE_HOURS)),
        Incident(TLOG_OUTAGE, hour - timedelta(hours=tlog_ago),
                 hour - timedelta(hours=tlog_ago - TLOG_OUTAGE_HOURS)),
        Incident(AUDIT_SYNC_OUTAGE, hour - timedelta(hours=AUDIT_SYNC_HOURS), end),
    )


def seed_demo(url: str, days: int = 90, seed: int = 7, end: datetime | None = None) -> SeedSummary:
    """Replace [end - days, end) of telemetry_events and slsa_audit_metrics with demo data.

    Deterministic for a given (seed, end, days); one transaction. The schema must exist (run
    the migrations first, as `telemetry-pipeline demo seed` does).
    """
    seed_window(days, end)  # bad arguments fail before connecting
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        return seed_into(conn, days=days, seed=seed, end=end)


def seed_window(days: int, end: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a seed, in UTC; rejects a bad `days` or an `end` without offset."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number >= 1, got {days!r}")
    if end is None:
        end = default_end()
    elif end.tzinfo is None:
        raise ValueError(f"end {end.isoformat()} has no UTC offset; give e.g. 2025-03-01T00:00:00Z")
    end = end.astimezone(UTC)
    return end - timedelta(days=days), end


def seed_into(conn: psycopg.Connection, days: int = 90, seed: int = 7, end: datetime | None = None) -> SeedSummary:
    """`seed_demo` on the caller's connection; commits at the end (timed with the load).

    Whatever the caller did earlier in the same transaction (the CLI's check and truncate)
    commits together with the seed, or not at all.
    """
    start, end = seed_window(days, end)
    hours = (end - start) / timedelta(hours=1)
    incidents = demo_incidents(end, days)
    began = time.perf_counter()
    conn.execute(
        "delete from public.telemetry_events where event_timestamp >= %s and event_timestamp < %s",
        (start, end),
    )
    conn.execute("delete from public.slsa_audit_metrics where audited_at >= %s and audited_at < %s", (start, end))
    events = copy_events(conn, round(hours * EVENTS_PER_HOUR), start, end, seed, incidents=incidents,
                         fleet=DEMO_FLEET)
    audits = copy_audits(conn, round(hours * AUDITS_PER_HOUR), start, end, seed, incidents=incidents,
                         fleet=DEMO_FLEET)
    events += _insert_odd_rows(conn, start, end)
    scoped = team_incident.placement(start, end, incidents)
    if scoped is not None:
        team_incident.apply(conn, scoped)
    conn.commit()
    return SeedSummary(start, end, events, audits, incidents, time.perf_counter() - began, scoped)


def _insert_odd_rows(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    rows = [
        (event_type, end - ago, json.dumps(metadata))
        for event_type, metadata, ago in ODD_ROWS
        if start <= end - ago < end
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata)"
            " values (%s, %s, %s::jsonb)",
            rows,
        )
    return len(rows)
