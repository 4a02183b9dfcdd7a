"""Hand-made telemetry around the Monday 2025-01-06 00:00 UTC boundary, with its expected KPIs.

Every expected number below is computed by hand in the comments, not by the product.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg

UTC = UTC
H0 = datetime(2025, 1, 6, 0, tzinfo=UTC)  # a Monday: hour, day and week boundary at once

# (event_type, timestamp, metadata)
EVENTS: list[tuple[str, str, dict]] = [
    # previous hour / day / week: one microsecond before the boundary
    ("provenance.generation", "2025-01-05T23:59:59.999999+00:00", {"status": "success", "duration_ms": 50}),
    # hour H0 (exactly on the boundary counts in H0)
    ("provenance.generation", "2025-01-06T00:00:00Z",
     {"status": "success", "duration_ms": 100, "artifact_size_bytes": 1000}),
    ("provenance.generation", "2025-01-06T00:15:00+00:00",
     {"status": "success", "duration_ms": "200", "artifact_size_bytes": "3000"}),  # numeric strings
    ("provenance.generation", "2025-01-06T00:30:00+00:00", {"status": "failure", "duration_ms": 300}),
    ("provenance.generation", "2025-01-06T01:45:00+02:00",  # a UTC offset: this is 2025-01-05 23:45Z
     {"status": "success", "duration_ms": 1}),
    ("provenance.generation", "2025-01-06T00:45:00+00:00",
     {"status": "error", "duration_ms": "n/a", "artifact_size_bytes": True}),  # unreadable -> absent
    ("provenance.validation", "2025-01-06T00:05:00+00:00", {"status": "success", "duration_ms": 10}),
    ("provenance.validation", "2025-01-06T00:06:00+00:00", {"status": "error", "duration_ms": 20}),
    ("workflow.run", "2025-01-06T00:10:00+00:00", {"status": "success", "duration_ms": 1000}),
    ("workflow.run", "2025-01-06T00:11:00+00:00", {"status": "failure", "duration_ms": "2000.5"}),
    ("api.request", "2025-01-06T00:20:00+00:00", {"status": "success", "duration_ms": 5, "status_code": 200}),
    ("api.request", "2025-01-06T00:21:00+00:00", {"status": "error", "duration_ms": 15, "status_code": 503}),
    ("custom.step", "2025-01-06T00:30:00+00:00", {"status": "error", "duration_ms": {"nested": 1}}),
    # later the same day (day and week percentiles must come from raw rows)
    ("provenance.generation", "2025-01-06T13:00:00+00:00", {"status": "success", "duration_ms": 1000}),
    # last microsecond of the week, then the next week's first instant
    ("provenance.generation", "2025-01-12T23:59:59.999999+00:00", {"status": "success", "duration_ms": 400}),
    ("provenance.generation", "2025-01-13T00:00:00+00:00", {"status": "success", "duration_ms": 7}),
]

# (audited_at, status, duration_ms, sha256_verified, predicate_type_verified, supabase_synced)
AUDITS: list[tuple[str, str, float | None, bool, bool, bool]] = [
    ("2025-01-06T00:01:00+00:00", "success", 1000, True, True, True),
    ("2025-01-06T00:02:00+00:00", "failure", 2000, False, True, False),
    ("2025-01-06T00:03:00+00:00", "error", None, False, False, True),
]

# KPIs of hour H0 = 2025-01-06 00:00: (value, sample_size)
EXPECTED_H0: dict[str, tuple[float, int]] = {
    # generations in H0: success 100, success "200", failure 300, error "n/a"
    "provenance_count": (4, 4),
    "provenance_success_rate": (50.0, 4),  # 2/4
    "provenance_failure_rate": (50.0, 4),  # (1 failure + 1 error)/4
    "provenance_availability": (75.0, 4),  # 1 - 1/4
    "provenance_avg_duration_ms": (200.0, 3),  # (100+200+300)/3, "n/a" absent
    "provenance_p95_duration_ms": (290.0, 3),  # [100,200,300]: rank 0.95*2=1.9 -> 200+0.9*100
    "artifact_avg_size_bytes": (2000.0, 2),  # (1000+3000)/2, true absent
    "validation_count": (2, 2),
    "provenance_validation_rate": (50.0, 2),
    "validation_failure_rate": (50.0, 2),
    "validation_availability": (50.0, 2),
    "validation_p95_duration_ms": (19.5, 2),  # [10,20]: 10+0.95*10
    "audit_count": (3, 3),
    "audit_success_rate": (100 / 3, 3),
    "audit_failure_rate": (200 / 3, 3),
    "audit_availability": (200 / 3, 3),
    "audit_p95_duration_ms": (1950.0, 2),  # [1000,2000]: 1000+0.95*1000, null absent
    "sha256_verification_rate": (100 / 3, 3),
    "predicate_type_verification_rate": (200 / 3, 3),
    "supabase_sync_rate": (200 / 3, 3),
    "workflow_run_avg_duration_ms": (1500.25, 2),  # (1000+2000.5)/2
    "api_avg_response_time_ms": (10.0, 2),  # (5+15)/2
    "event_count": (11, 11),  # 4 gen + 2 val + 2 wf + 2 api + 1 custom
    "error_rate": (400 / 11, 11),  # errors: gen, val, api, custom
}

# KPIs of hour 2025-01-05 23:00: generations at 23:59:59.999999 (50) and 23:45 (1, given as +02:00)
EXPECTED_PREVIOUS_HOUR: dict[str, tuple[float, int]] = {
    "provenance_count": (2, 2),
    "provenance_success_rate": (100.0, 2),
    "provenance_failure_rate": (0.0, 2),
    "provenance_availability": (100.0, 2),
    "provenance_avg_duration_ms": (25.5, 2),
    "provenance_p95_duration_ms": (47.55, 2),  # [1,50]: 1+0.95*49
    "event_count": (2, 2),
    "error_rate": (0.0, 2),
}

# Day 2025-01-06: the H0 generations plus 13:00 (1000)
EXPECTED_DAY: dict[str, tuple[float, int]] = {
    "provenance_count": (5, 5),
    "provenance_p95_duration_ms": (895.0, 4),  # [100,200,300,1000]: rank 2.85 -> 300+0.85*700
    "provenance_avg_duration_ms": (400.0, 4),  # 1600/4
    "event_count": (12, 12),
}

# Week 2025-01-06 .. 2025-01-12: day's generations plus Sunday 23:59:59.999999 (400)
EXPECTED_WEEK: dict[str, tuple[float, int]] = {
    "provenance_count": (6, 6),
    "provenance_p95_duration_ms": (880.0, 5),  # [100,200,300,400,1000]: rank 3.8 -> 400+0.8*600
    "event_count": (13, 13),
}


def load(conn: psycopg.Connection) -> None:
    """Insert EVENTS and AUDITS the way a workflow writing SQL directly would."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s)",
            [(t, ts, json.dumps(md)) for t, ts, md in EVENTS],
        )
        cur.executemany(
            "insert into public.slsa_audit_metrics (audited_at, status, duration_ms, sha256_verified,"
            " predicate_type_verified, supabase_synced, failure_reason)"
            " values (%s, %s, %s, %s, %s, %s, case when %s = 'success' then null else 'x' end)",
            [(*a, a[1]) for a in AUDITS],
        )
