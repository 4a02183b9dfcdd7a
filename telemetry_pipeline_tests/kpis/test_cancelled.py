"""SPEC section 3 `cancelled`: counted in event_count, in no other KPI sample (hand-computed)."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from telemetry_pipeline.core.kpis.sql import replace_window

HOUR = datetime.fromisoformat("2025-05-01T10:00:00+00:00")
EVENTS = [  # (event_type, status, duration_ms)
    ("provenance.generation", "success", 100),
    ("provenance.generation", "failure", 300),
    ("provenance.generation", "error", 500),
    ("provenance.generation", "cancelled", 90_000),
    ("provenance.validation", "success", 40),
    ("provenance.validation", "cancelled", 70_000),
    ("workflow.run", "success", 1_000),
    ("workflow.run", "cancelled", 9_000),
]


def test_cancelled_events_count_in_event_count_only(warehouse):
    with warehouse.connect() as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into public.telemetry_events (event_type, event_timestamp, metadata)"
                " values (%s, %s, %s)",
                [(t, HOUR.replace(minute=i), orjson.dumps({"status": s, "duration_ms": d}).decode())
                 for i, (t, s, d) in enumerate(EVENTS)],
            )
        replace_window(conn, "hour", HOUR, HOUR.replace(hour=11))
        got = {
            name: (float(value), md["sample_size"])
            for name, value, md in conn.execute(
                "select metric_name, metric_value, metadata from public.kpi_aggregations"
                " where aggregation_period = 'hour' and period_start = %s",
                (HOUR,),
            )
        }
    expected = {
        "event_count": (8.0, 8),  # every event, cancelled ones included
        "error_rate": (20.0, 5),  # 1 error of the 5 events that gave a result
        "provenance_count": (3.0, 3),
        "provenance_success_rate": (100 / 3, 3),
        "provenance_failure_rate": (200 / 3, 3),
        "provenance_availability": (100 - 100 / 3, 3),
        "provenance_avg_duration_ms": (300.0, 3),  # (100 + 300 + 500) / 3, not 90 000's pull
        "provenance_p95_duration_ms": (480.0, 3),  # 300 + 0.9 * (500 - 300)
        "validation_count": (1.0, 1),
        "provenance_validation_rate": (100.0, 1),
        "validation_failure_rate": (0.0, 1),
        "validation_availability": (100.0, 1),
        "validation_p95_duration_ms": (40.0, 1),
        "workflow_run_avg_duration_ms": (1_000.0, 1),
    }
    assert set(got) == set(expected)
    for name, (value, sample) in expected.items():
        assert got[name][0] == pytest.approx(value, rel=1e-12), name
        assert got[name][1] == sample, name
