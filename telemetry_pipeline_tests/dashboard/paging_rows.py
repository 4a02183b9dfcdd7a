"""Hand-made rows for the paging tests: an outage in the open hour of the validation SLO.

The clock is NOW = 2025-03-10 12:30 UTC; today is D = 2025-03-10, so the budget window is the
open part of D plus the 29 closed days 2025-02-09 .. 2025-03-09 (burn_windows.yaml budget_window).

slo_status, validation/availability (>= 99.9: allowed bad fraction 1/1000), daily rows:
  days d = 1..29 back: sample 10000, value 99.99 -> 1 bad row each, error_budget_remaining 97.7
  (what the panel showed before: the newest closed day's figure), except
  d = 5: value 50, excluded (a maintenance window) -> counts nothing
  d = 30 (2025-02-08): value 90 -> 1000 bad rows, but before the window: counts nothing
  => closed: 28 * 10000 = 280000 rows, 28 bad; the newest row ends at D, so the open part starts at D.
telemetry_events, provenance.validation, one every 10 s at hh:mm:s5 from 00:00:05 to 12:29:55:
  4500 rows in the open part, less the 360 of 03:00:05 .. 03:59:55 inside the maintenance window
  below (left out of every count) = 4140; 'error' from 12:00:05 on -> 180 bad (the outage),
  'success' before; plus one 'error' at 2025-03-09 23:59:55 (inside the closed day d = 1).
As of NOW:
  budget left = 100 * (1 - (28 + 180) / (280000 + 4140) / 0.001) = 100 * 76140 / 284140 = 26.7966 %
  5m (12:25, 12:30]: 30 rows, 30 bad -> 1000x; 30m: 180 / 180 -> 1000x; 1h: 360 rows, 180 bad -> 500x;
  6h (06:30, 12:30]: 2160 rows, 180 bad -> 83.33x
As of 12:10 (the view's `to`): open part 00:00:05 .. 12:09:55 = 4380 - 360 = 4020 rows, 60 bad:
  budget left = 100 * (1 - 88 / 284020 / 0.001) = 100 * 196020 / 284020 = 69.0163 %
validation/error_rate (< 0.5: allowed 1/200) has no daily rows: its open part starts at D - 1 day
  (yesterday's daily row is not written yet) and holds the 23:59:55 error too: 4141 rows, 181 bad:
  budget left = 100 * (1 - 181 / 4141 / 0.005) = -774.1850 %
Paging state:
  an open episode validation/availability since 12:01 (pair 1h&5m>=14.4, last firing 12:29);
  a closed episode validation/error_rate 08:00 .. 08:30 (2025-03-10);
  NO DATA audit_observer / audits: last row 09:00, raised 11:00, unresolved;
  a maintenance window validation (every SLI) 03:00 .. 04:00, "database failover".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

NOW = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
D = datetime(2025, 3, 10, tzinfo=UTC)
AT_1210 = datetime(2025, 3, 10, 12, 10, tzinfo=UTC)
OUTAGE = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
VAL = "provenance.validation"

BUDGET_NOW = 100 * 76140 / 284140
BUDGET_1210 = 100 * 196020 / 284020
ERROR_RATE_BUDGET_NOW = 100 * (1 - 181 / 4141 / 0.005)
TABLES = ("telemetry_events", "slo_status", "kpi_aggregations", "slo_episodes", "slo_no_data",
          "slo_maintenance_windows")


def seed(conn: psycopg.Connection) -> None:
    """Replace the raw, SLO and paging rows with the ones above."""
    conn.execute("truncate " + ", ".join(f"public.{t}" for t in TABLES) + " restart identity")
    for d in range(1, 31):
        start = D - timedelta(days=d)
        value, excluded = (50.0, True) if d == 5 else (90.0, False) if d == 30 else (99.99, False)
        conn.execute(
            "insert into public.slo_status (slo_name, sli, metric_name, aggregation_period, period_start, period_end,"
            " value, target, comparator, met, sample_size, error_budget_remaining, burn_rate, excluded)"
            " values ('validation', 'availability', 'validation_availability', 'day', %s, %s, %s, 99.9, '>=',"
            " %s, 10000, 97.7, 0.1, %s)",
            (start, start + timedelta(days=1), value, value >= 99.9, excluded),
        )
    conn.execute(
        """insert into public.telemetry_events (event_type, event_timestamp, tag, metadata)
           select %(type)s, ts, 'v1', jsonb_build_object('status', case when ts > %(outage)s then 'error'
                                                                       else 'success' end, 'duration_ms', 1000)
           from generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '10 seconds') ts""",
        {"type": VAL, "outage": OUTAGE, "first": D + timedelta(seconds=5), "last": NOW - timedelta(seconds=5)},
    )
    conn.execute("insert into public.telemetry_events (event_type, event_timestamp, tag, metadata)"
                 " values (%s, %s, 'v1', '{\"status\": \"error\"}')", (VAL, D - timedelta(seconds=5)))
    conn.execute(
        "insert into public.slo_episodes (slo_name, sli, started_at, pair, last_firing_at, closed_at, alert_key)"
        " values ('validation', 'availability', %s, '1h&5m>=14.4', %s, null, 'k1'),"
        "        ('validation', 'error_rate', %s, '6h&30m>=6', %s, %s, 'k2')",
        (OUTAGE + timedelta(minutes=1), NOW - timedelta(minutes=1), D + timedelta(hours=8),
         D + timedelta(hours=8, minutes=20), D + timedelta(hours=8, minutes=30)),
    )
    conn.execute(
        "insert into public.slo_no_data (slo_name, source, last_row_at, raised_at, alert_key)"
        " values ('audit_observer', 'audits', %s, %s, 'k3')",
        (D + timedelta(hours=9), D + timedelta(hours=11)),
    )
    conn.execute(
        "insert into public.slo_maintenance_windows (slo_name, sli, starts_at, ends_at, reason)"
        " values ('validation', null, %s, %s, 'database failover')",
        (D + timedelta(hours=3), D + timedelta(hours=4)),
    )


def empty(conn: psycopg.Connection) -> None:
    """Leave nothing behind for the other modules sharing the test database."""
    conn.execute("truncate " + ", ".join(f"public.{t}" for t in TABLES) + " restart identity")
