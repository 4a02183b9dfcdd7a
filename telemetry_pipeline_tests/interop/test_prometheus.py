"""A real Prometheus scrapes the dashboard's /metrics and holds the same numbers as slo_status.

Prometheus (Debian's package) runs on a free loopback port with a 1 s scrape interval against the
dashboard served on another free port; the test polls Prometheus's query API (bounded) until the
series are there, then compares every value with the rows read back from the tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.slos import prometheus_rules
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline_tests.dashboard import rows
from telemetry_pipeline_tests.interop import seeded
from telemetry_pipeline_tests.interop.prometheus import (
    Prometheus,
    assert_holds_slo_rows,
    by_labels,
    require_binaries,
    running_prometheus,
    wait_for,
)


@pytest.fixture(scope="module")
def stack(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, str]]:
    require_binaries()
    with psycopg.connect(warehouse_url) as conn:
        seeded.seed(conn)
    tmp = Path(tmp_path_factory.mktemp("prometheus"))
    rule_file = tmp / "telemetry-slo-rules.yml"
    rule_file.write_text(prometheus_rules.render(load_slos()))
    with running(create_app(warehouse_url, clock=lambda: rows.NOW)) as base:
        target = base.removeprefix("http://")
        with running_prometheus(tmp, target, rule_files=[rule_file]) as prometheus:
            # the first scrape that reached every family: the last family in the text is the last event
            wait_for(lambda: prometheus.query('up{job="telemetry_pipeline"} == 1')
                     and prometheus.query("telemetry_last_event_timestamp_seconds"),
                     timeout=60, what="prometheus to scrape the dashboard")
            yield prometheus, warehouse_url


def test_prometheus_holds_slo_status_values(stack: tuple[Prometheus, str]) -> None:
    prometheus, url = stack
    with psycopg.connect(url) as conn:
        expected = seeded.latest_slo_rows(conn)
    assert len(expected) == 6  # provenance_generation's 3 SLIs x (hour, day); the other SLOs have no rows
    burn = assert_holds_slo_rows(prometheus, expected)
    # by hand (rows.py): the latest hour (k = 1) violates availability at 99.5 and burns 15 / 7 / 2
    assert burn[("provenance_generation", "availability", "hour", "1h")] == 15.0
    assert burn[("provenance_generation", "availability", "hour", "3d")] == 2.0


def test_prometheus_holds_kpis_alerts_and_last_events(stack: tuple[Prometheus, str]) -> None:
    prometheus, url = stack
    with psycopg.connect(url) as conn:
        kpis = seeded.latest_kpi_values(conn)
    assert by_labels(prometheus.query("telemetry_kpi_value"), "metric", "granularity") == kpis
    assert kpis[("event_count", "hour")] == 101.0 and kpis[("event_count", "day")] == 2401.0
    assert by_labels(prometheus.query("telemetry_alerts_pending"), "job") == {
        ("telemetry_pipeline",): float(seeded.PENDING_ALERTS)}
    assert by_labels(prometheus.query("telemetry_last_event_timestamp_seconds"), "event_type") == {
        (t,): s for t, s in seeded.LAST_EVENT.items()}


def test_generated_rules_fire_on_the_scraped_burn_rates(stack: tuple[Prometheus, str]) -> None:
    """Prometheus evaluates the exported rules over the scraped gauges.

    By hand (rows.py): the latest hour of provenance_generation burns 15 / 7 / 2 over 1h / 6h / 3d
    on both ratio SLIs, so every pair fires: page 1h&5m >= 14.4 (5m not exported yet: falls back to
    1h, 15), page 6h&30m >= 6 (7 and 1h's 15), ticket 3d&6h >= 1 (2 and 7). Nothing else burns.
    """
    prometheus, _url = stack

    def firing() -> list[dict]:
        alerts = prometheus.api("/api/v1/alerts")["alerts"]
        return [a for a in alerts if a["state"] == "firing"] if len(alerts) >= 6 else []

    alerts = wait_for(firing, timeout=60, what="the burn-rate alerts to fire")
    assert sorted((a["labels"]["sli"], a["labels"]["burn_pair"], a["labels"]["severity"], float(a["value"]))
                  for a in alerts) == [
        ("availability", "burn-rate-page-1h-5m", "page", 15.0),
        ("availability", "burn-rate-page-6h-30m", "page", 7.0),
        ("availability", "burn-rate-ticket-3d-6h", "ticket", 2.0),
        ("error_rate", "burn-rate-page-1h-5m", "page", 15.0),
        ("error_rate", "burn-rate-page-6h-30m", "page", 7.0),
        ("error_rate", "burn-rate-ticket-3d-6h", "ticket", 2.0),
    ]
    assert {a["labels"]["slo"] for a in alerts} == {"provenance_generation"}
    assert prometheus.query("telemetry_slo:error_budget_remaining:ratio")[0]["value"][1] == "0.51"
