"""Hand-made kpi_aggregations and slo_status rows for the dashboard tests, with their expectations.

The clock is pinned at NOW = Monday 2025-03-10 12:30 UTC. Rows exist for the 48 hours before
12:00 (k = 1..48 hours back: period_start = H0 - k h) and the 40 days before 2025-03-10 (d = 1..40).
Every number a test expects is derived by hand in the comments from these rules:

hourly, hour k back (sample 20, except k = 13 where every metric has sample 5):
  provenance_availability     99.5 when k % 6 == 1 else 100      (SLO >= 99.9 -> violated when k % 6 == 1)
  provenance_failure_rate     5.0  when k % 6 == 1 else 0        (SLO <  1.0  -> violated when k % 6 == 1)
  provenance_p95_duration_ms  1000 * k                           (SLO <  300000 -> always met)
  audit_success_rate          95 + k % 5                         (no SLO)
  event_count                 100 + k                            (no SLO)
daily, day d back (sample 500):
  provenance_availability     99.85 when d % 10 == 0 else 99.95  (violated when d % 10 == 0)
  provenance_failure_rate     0.2                                (met)
  provenance_p95_duration_ms  50000 + d                          (met)
  audit_success_rate          97
  event_count                 2400 + d
slo_status mirrors the provenance_generation SLIs (value, target, comparator, met, sample).
  daily ratio SLIs: error_budget_remaining = 50 + d, burn_rate = d / 10
  hourly ratio SLIs: k = 1 -> burn 15 / 7 / 2 (1h / 6h / 3d), burn_alert 'page' '1h>=14.4';
                     other k -> 0.5 / 0.5 / 0.5, no alert
The validation and audit_observer SLOs have no rows at all (their panel rows say no_data).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg

NOW = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
H0 = datetime(2025, 3, 10, 12, tzinfo=UTC)
D0 = datetime(2025, 3, 10, tzinfo=UTC)
HOURS_BACK = range(1, 49)
DAYS_BACK = range(1, 41)
SEEDED_METRICS = (
    "provenance_availability", "provenance_failure_rate", "provenance_p95_duration_ms",
    "audit_success_rate", "event_count",
)
UNITS = {
    "provenance_availability": "percent", "provenance_failure_rate": "percent",
    "provenance_p95_duration_ms": "ms", "audit_success_rate": "percent", "event_count": "count",
}
#: (sli, metric, comparator, target) of provenance_generation in slos.yaml
PROVENANCE_SLIS = (
    ("availability", "provenance_availability", ">=", 99.9),
    ("latency_p95", "provenance_p95_duration_ms", "<", 300000.0),
    ("error_rate", "provenance_failure_rate", "<", 1.0),
)


def hourly_value(metric: str, k: int) -> float:
    bad = k % 6 == 1
    return {
        "provenance_availability": 99.5 if bad else 100.0,
        "provenance_failure_rate": 5.0 if bad else 0.0,
        "provenance_p95_duration_ms": 1000.0 * k,
        "audit_success_rate": 95.0 + k % 5,
        "event_count": 100.0 + k,
    }[metric]


def daily_value(metric: str, d: int) -> float:
    return {
        "provenance_availability": 99.85 if d % 10 == 0 else 99.95,
        "provenance_failure_rate": 0.2,
        "provenance_p95_duration_ms": 50000.0 + d,
        "audit_success_rate": 97.0,
        "event_count": 2400.0 + d,
    }[metric]


def hourly_sample(k: int) -> int:
    return 5 if k == 13 else 20


def _met(value: float, comparator: str, target: float) -> bool:
    return value >= target if comparator == ">=" else value < target


def seed(conn: psycopg.Connection) -> None:
    """Replace all KPI and SLO rows with the hand-made ones above."""
    conn.execute("truncate public.kpi_aggregations, public.slo_status restart identity")
    kpis: list[tuple] = []
    slos: list[tuple] = []
    for granularity, length, starts in (
        ("hour", timedelta(hours=1), [(H0 - timedelta(hours=k), k) for k in HOURS_BACK]),
        ("day", timedelta(days=1), [(D0 - timedelta(days=d), d) for d in DAYS_BACK]),
    ):
        for start, n in starts:
            sample = hourly_sample(n) if granularity == "hour" else 500
            for metric in SEEDED_METRICS:
                value = hourly_value(metric, n) if granularity == "hour" else daily_value(metric, n)
                kpis.append((metric, value, granularity, start, start + length,
                             json.dumps({"sample_size": sample, "unit": UNITS[metric]})))
            for sli, metric, comparator, target in PROVENANCE_SLIS:
                value = hourly_value(metric, n) if granularity == "hour" else daily_value(metric, n)
                ratio = sli != "latency_p95"
                budget = burn = b1 = b6 = b3 = alert = windows = None
                if ratio and granularity == "day":
                    budget, burn = 50.0 + n, n / 10
                if ratio and granularity == "hour":
                    b1, b6, b3 = (15.0, 7.0, 2.0) if n == 1 else (0.5, 0.5, 0.5)
                    alert, windows = ("page", "1h>=14.4") if n == 1 else (None, None)
                slos.append(("provenance_generation", sli, metric, granularity, start, start + length, value,
                             target, comparator, _met(value, comparator, target), sample, budget, burn,
                             b1, b6, b3, alert, windows))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into public.kpi_aggregations (metric_name, metric_value, aggregation_period, period_start,"
            " period_end, metadata) values (%s, %s, %s, %s, %s, %s)",
            kpis,
        )
        cur.executemany(
            "insert into public.slo_status (slo_name, sli, metric_name, aggregation_period, period_start,"
            " period_end, value, target, comparator, met, sample_size, error_budget_remaining, burn_rate,"
            " burn_rate_1h, burn_rate_6h, burn_rate_3d, burn_alert, burn_alert_windows)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            slos,
        )
