"""Hand-made scoped rows (SPEC section 10) on top of rows.py, with the numbers the tests expect.

Same clock as rows.py: NOW = 2025-03-10 12:30 UTC; day d back starts at D0 - d days
(d = 1 is 2025-03-09). A 7-day view (range=7d) starts 2025-03-03 12:30, so its first period is
the day 2025-03-03 (d = 7) and it holds d = 7..1; d = 8..10 lie before it.

provenance_availability, daily, per repository (value, sample):
  acme/api       100 (10) for d = 1..7; 0 (10) at d = 8 (outside the 7-day view: must not count)
  acme/web       99 (20) when d is odd, 100 (20) when even, d = 1..10
  acme/pay-api   90 (30) at d = 1; 100 (10) for d = 2..10
  beta/tool      98 (5) for d = 1..7
  gamma/old      one weekly row only (week of 2025-02-24): listed by the picker, never ranked by day
Over the 7-day view (sample-weighted means, hand-computed):
  acme/api 100 (70); acme/web (4*99 + 3*100)/7 = 99.428571... (140);
  acme/pay-api (90*30 + 100*60)/90 = 96.666... (90); beta/tool 98 (35)
  worst first: acme/pay-api, beta/tool, acme/web, acme/api
event_count, daily, per repository: acme/api 50, acme/web 10, d = 1..7 -> sums 350 and 70.
team payments: provenance_availability 99.9 (100) for d = 1..7; workflow acme/web/build: same as acme/web.

Scoped SLO `provenance_by_repository` (SCOPED_SLOS_FILE: the test catalog plus this SLO),
availability >= 99.5 with min_sample_size 10, daily rows mirroring acme/web and acme/pay-api:
  met = value >= 99.5; error_budget_remaining = 80 + d (acme/web), 10 - d (acme/pay-api); burn d / 10
  -> in the 7-day view acme/web violates at d = 1, 3, 5, 7 (4 of 7); acme/pay-api at d = 1 (1 of 7)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import yaml

from telemetry_pipeline_tests.dashboard import rows
from telemetry_pipeline_tests.testdata import TEST_SLOS_FILE

DAY = timedelta(days=1)
SCOPED_SLO = {
    "name": "provenance_by_repository",
    "description": "Every repository's release builds get provenance.",
    "scope": "repository",
    "min_sample_size": 10,
    "runbook_url": None,
    "slis": [{"name": "availability", "metric": "provenance_availability", "comparator": ">=", "target": 99.5}],
}
REPOSITORIES = ("acme/api", "acme/pay-api", "acme/web", "beta/tool", "gamma/old")


def write_scoped_slos(folder: Path) -> Path:
    """The tests' SLO catalog plus the scoped SLO above, as a file in `folder`."""
    catalog = yaml.safe_load(TEST_SLOS_FILE.read_text())
    catalog["slos"].append(SCOPED_SLO)
    path = folder / "slos_scoped.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def availability(repository: str, d: int) -> tuple[float, int] | None:
    """(value, sample) of provenance_availability for a repository on day d back, or None."""
    if repository == "acme/api":
        return (100.0, 10) if d <= 7 else (0.0, 10) if d == 8 else None
    if repository == "acme/web":
        return (99.0 if d % 2 else 100.0), 20
    if repository == "acme/pay-api":
        return (90.0, 30) if d == 1 else (100.0, 10)
    if repository == "beta/tool":
        return (98.0, 5) if d <= 7 else None
    return None


def seed(conn: psycopg.Connection) -> None:
    """rows.seed, then the scoped rows above (global rows unchanged)."""
    rows.seed(conn)
    kpis: list[tuple] = []
    slos: list[tuple] = []

    def kpi(metric: str, value: float, sample: int, start: datetime, length: timedelta, dimension: str,
            scope: str, granularity: str = "day") -> None:
        kpis.append((metric, value, granularity, start, start + length, json.dumps({"sample_size": sample}),
                     dimension, scope))

    for d in range(1, 11):
        start = rows.D0 - d * DAY
        for repository in REPOSITORIES:
            found = availability(repository, d)
            if found is None:
                continue
            value, sample = found
            kpi("provenance_availability", value, sample, start, DAY, "repository", repository)
            if repository == "acme/web":
                kpi("provenance_availability", value, sample, start, DAY, "workflow", "acme/web/build")
            if repository in ("acme/web", "acme/pay-api"):
                budget = 80.0 + d if repository == "acme/web" else 10.0 - d
                slos.append(("provenance_by_repository", "availability", "provenance_availability", "day", start,
                             start + DAY, value, 99.5, ">=", value >= 99.5, sample, budget, d / 10,
                             "repository", repository))
        if d <= 7:
            kpi("event_count", 50.0, 50, start, DAY, "repository", "acme/api")
            kpi("event_count", 10.0, 10, start, DAY, "repository", "acme/web")
            kpi("provenance_availability", 99.9, 100, start, DAY, "team", "payments")
    week = datetime(2025, 2, 24, tzinfo=UTC)
    kpi("provenance_availability", 97.0, 40, week, 7 * DAY, "repository", "gamma/old", "week")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into public.kpi_aggregations (metric_name, metric_value, aggregation_period, period_start,"
            " period_end, metadata, dimension, dimension_value) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            kpis,
        )
        cur.executemany(
            "insert into public.slo_status (slo_name, sli, metric_name, aggregation_period, period_start,"
            " period_end, value, target, comparator, met, sample_size, error_budget_remaining, burn_rate,"
            " dimension, dimension_value)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            slos,
        )
