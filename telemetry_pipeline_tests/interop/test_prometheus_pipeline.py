"""The whole stack: demo telemetry -> KPI and SLO assets through Dagster -> /metrics -> a real Prometheus.

Three days of demo events and audits (demo/seed.py, with its incident ending at END) are
materialised by the product's own assets, one single run per granularity as a backfill does; a
real Prometheus then scrapes the dashboard and must hold exactly the numbers slo_status and
kpi_aggregations hold for the latest closed periods, and the last event of each type.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from dagster import instance_for_test

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.demo.seed import seed_demo
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.defs.kpis.assets import kpi_aggregations_daily, kpi_aggregations_hourly
from telemetry_pipeline.defs.resources import WarehouseResource
from telemetry_pipeline.defs.slos.assets import build_slo_assets
from telemetry_pipeline_tests.dagster_run import run_partitions
from telemetry_pipeline_tests.interop import seeded
from telemetry_pipeline_tests.interop.prometheus import (
    Prometheus,
    assert_holds_slo_rows,
    by_labels,
    require_binaries,
    running_prometheus,
    wait_for,
)

END = datetime(2025, 3, 10, tzinfo=UTC)
DAYS = 3


@pytest.fixture(scope="module")
def stack(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, str]]:
    require_binaries()
    warehouse = WarehouseResource(database_url=warehouse_url)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("truncate public.telemetry_events, public.slsa_audit_metrics, public.kpi_aggregations,"
                     " public.slo_status, public.slo_alerts restart identity")
    seed_demo(warehouse_url, days=DAYS, end=END)
    slo_hourly, slo_daily, _weekly = build_slo_assets(load_slos())
    with instance_for_test() as instance:
        for assets, first, last in (
            ([kpi_aggregations_hourly, slo_hourly], "2025-03-07-00:00", "2025-03-09-23:00"),
            ([kpi_aggregations_daily, slo_daily], "2025-03-07", "2025-03-09"),
        ):
            assert run_partitions(assets, warehouse, instance, first, last).success
    tmp = Path(tmp_path_factory.mktemp("prometheus-pipeline"))
    with running(create_app(warehouse_url, clock=lambda: END)) as base:
        with running_prometheus(tmp, base.removeprefix("http://")) as prometheus:
            wait_for(lambda: prometheus.query("telemetry_last_event_timestamp_seconds"),
                     timeout=60, what="prometheus to scrape the dashboard")
            yield prometheus, warehouse_url


def test_prometheus_holds_the_pipelines_numbers(stack: tuple[Prometheus, str]) -> None:
    prometheus, url = stack
    with psycopg.connect(url) as conn:
        expected = seeded.latest_slo_rows(conn, END)
        kpis = seeded.latest_kpi_values(conn, END)
        last = dict(conn.execute(
            "select event_type, extract(epoch from max(event_timestamp))::float8 from public.telemetry_events"
            " where event_type in ('provenance.generation', 'provenance.validation', 'workflow.run', 'api.request')"
            " group by event_type").fetchall())
    # 3 SLOs x 3 SLIs x (hour, day), every one evaluated by the assets
    assert len(expected) == 18
    assert_holds_slo_rows(prometheus, expected)
    # the global series (no dimension label); the demo's scoped rows are exported beside them, and
    # without a teams file (none is set here) every repository is `unowned`
    assert by_labels(prometheus.query('telemetry_kpi_value{dimension=""}'), "metric", "granularity") == kpis
    teams = {r["metric"]["dimension_value"] for r in prometheus.query('telemetry_kpi_value{dimension="team"}')}
    assert teams == {"unowned"}
    assert by_labels(prometheus.query("telemetry_last_event_timestamp_seconds"), "event_type") == {
        (t,): s for t, s in last.items()}
    # the demo's last incident ends at END: its latest hour is a real violation, not a constant
    assert 0.0 in {float(r["met"]) for r in expected.values()}
