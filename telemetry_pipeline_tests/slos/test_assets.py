"""slo_status assets through Dagster: from events via the KPI asset, checks, metadata, re-runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dagster import AssetCheckSeverity, AssetKey, BackfillPolicy, DagsterInstance, instance_for_test

from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.defs.kpis.assets import kpi_aggregations_hourly
from telemetry_pipeline.defs.slos.assets import build_slo_assets, check_name
from telemetry_pipeline_tests.dagster_run import run_partitions
from telemetry_pipeline_tests.slos.kpi_rows import put_kpis, status
from telemetry_pipeline_tests.testdata import TEST_SLOS_FILE

SLO_HOURLY, SLO_DAILY, SLO_WEEKLY = build_slo_assets(load_slos(TEST_SLOS_FILE))
H = datetime(2025, 3, 1, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def instance():
    with instance_for_test() as dagster_instance:
        yield dagster_instance


def test_asset_specs():
    for asset, name, upstream in (
        (SLO_HOURLY, "slo_status_hourly", "kpi_aggregations_hourly"),
        (SLO_DAILY, "slo_status_daily", "kpi_aggregations_daily"),
        (SLO_WEEKLY, "slo_status_weekly", "kpi_aggregations_weekly"),
    ):
        spec = next(iter(asset.specs))
        assert asset.key == AssetKey(name)
        assert {d.asset_key for d in spec.deps} == {AssetKey(upstream)}
        assert asset.backfill_policy == BackfillPolicy.single_run()
        assert spec.group_name == "slos" and "postgres" in spec.kinds
        assert {k.name for k in asset.check_keys} == {
            check_name(s) for s in ("provenance_generation", "validation", "audit_observer")
        }


def load_events(conn) -> None:
    """Hour H: 10 provenance generations, 1 error + 1 failure, all 1000 ms; 2 validations ok."""
    statuses = ["error", "failure"] + ["success"] * 8
    rows = [("provenance.generation", H + timedelta(minutes=i), {"status": s, "duration_ms": 1000})
            for i, s in enumerate(statuses)]
    rows += [("provenance.validation", H + timedelta(minutes=30 + i), {"status": "success", "duration_ms": 5})
             for i in range(2)]
    with conn.cursor() as cur:
        cur.executemany(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s)",
            [(t, ts, json.dumps(md)) for t, ts, md in rows],
        )


def test_from_events_through_the_kpi_asset(warehouse, instance: DagsterInstance):
    with warehouse.connect() as conn:
        load_events(conn)
    key = "2025-03-01-06:00"
    result = run_partitions([kpi_aggregations_hourly, SLO_HOURLY], warehouse, instance, key)
    assert result.success
    with warehouse.connect() as conn:
        rows = status(conn, "hour")
    got = {(slo, sli): (float(r["value"]), r["met"], r["sample_size"], r["burn_alert"])
           for (slo, sli, _), r in rows.items()}
    # availability 100 * (1 - 1/10) = 90; failure rate 100 * 2/10 = 20; p95 of ten 1000s = 1000.
    # burn: availability 0.1 / 0.001 = 100, error rate 0.2 / 0.01 = 20 -> both page on 1 h.
    # validation: 2 successes of 5 ms, everything met, bad fraction 0 -> no alert.
    assert got == {
        ("provenance_generation", "availability"): (90.0, False, 10, "page"),
        ("provenance_generation", "latency_p95"): (1000.0, True, 10, None),
        ("provenance_generation", "error_rate"): (20.0, False, 10, "page"),
        ("validation", "availability"): (100.0, True, 2, None),
        ("validation", "latency_p95"): (5.0, True, 2, None),
        ("validation", "error_rate"): (0.0, True, 2, None),
    }
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()
              if e.asset_key == SLO_HOURLY.key}
    failing = checks[check_name("provenance_generation")]
    assert not failing.passed and failing.severity == AssetCheckSeverity.WARN
    assert failing.metadata["violations"].value == 2
    assert failing.metadata["violating_periods"].value.splitlines() == [
        "2025-03-01-06:00 availability=90 (target >= 99.9, n=10)",
        "2025-03-01-06:00 error_rate=20 (target < 1, n=10)",
    ]
    assert checks[check_name("validation")].passed and checks[check_name("audit_observer")].passed
    (materialization,) = result.asset_materializations_for_node(SLO_HOURLY.op.name)
    md = {k: v.value for k, v in materialization.metadata.items()}
    assert materialization.partition == key
    assert md["provenance_generation.availability"] == 90.0
    assert md["provenance_generation.availability.target"] == 99.9
    assert (md["rows_written"], md["violations"], md["burn_alerts_page"]) == (6, 2, 2)


def test_min_sample_guard_keeps_the_check_green(warehouse, instance: DagsterInstance):
    with warehouse.connect() as conn:  # 9 rows < min_sample_size 10: unmet but no violation
        put_kpis(conn, "hour", [("audit_availability", H, "50", 9)])
    result = run_partitions([SLO_HOURLY], warehouse, instance, "2025-03-01-06:00")
    check = next(e for e in result.get_asset_check_evaluations()
                 if e.check_name == check_name("audit_observer"))
    assert check.passed
    assert check.metadata["unmet_below_min_sample"].value == 1


def test_rematerialising_writes_identical_rows(warehouse, instance: DagsterInstance):
    with warehouse.connect() as conn:
        load_events(conn)
    key = "2025-03-01-06:00"
    run_partitions([kpi_aggregations_hourly, SLO_HOURLY], warehouse, instance, key)
    with warehouse.connect() as conn:
        first = status(conn, "hour")
    second = run_partitions([SLO_HOURLY], warehouse, instance, key)
    with warehouse.connect() as conn:
        assert status(conn, "hour") == first
        assert conn.execute("select count(*) from public.slo_status").fetchone()[0] == 6
    (materialization,) = second.asset_materializations_for_node(SLO_HOURLY.op.name)
    assert materialization.metadata["rows_replaced"].value == 6


def test_single_run_range_carries_metadata_per_partition(warehouse, instance: DagsterInstance):
    start = datetime(2025, 3, 3, tzinfo=UTC)
    # validation error_rate (allowed 0.005): day 0 at 1.0 % of 100 rows, day 2 at 0 % of 300 rows.
    # day 0 budget = 100 * (1 - 1 / (0.005 * 100)) = -100; day 2 window = days 0..2 (day 1 absent):
    # 1 bad of 400 rows -> 100 * (1 - 1 / 2) = 50
    with warehouse.connect() as conn:
        put_kpis(conn, "day", [("validation_failure_rate", start, "1.0", 100),
                               ("validation_failure_rate", start + timedelta(days=2), "0", 300)])
    result = run_partitions([SLO_DAILY], warehouse, instance, "2025-03-03", "2025-03-05")
    assert result.success
    by_partition = {m.partition: {k: v.value for k, v in m.metadata.items()}
                    for m in result.asset_materializations_for_node(SLO_DAILY.op.name)}
    assert set(by_partition) == {"2025-03-03", "2025-03-04", "2025-03-05"}
    assert by_partition["2025-03-03"]["validation.error_rate"] == 1.0
    assert by_partition["2025-03-03"]["validation.error_rate.budget_remaining_pct"] == -100.0
    assert by_partition["2025-03-05"]["validation.error_rate.budget_remaining_pct"] == 50.0
    assert "validation.error_rate" not in by_partition["2025-03-04"]
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == check_name("validation"))
    assert check.metadata["violating_periods"].value == "2025-03-03 error_rate=1 (target < 0.5, n=100)"


def test_weekly_partition(warehouse, instance: DagsterInstance):
    monday = datetime(2025, 3, 3, tzinfo=UTC)
    with warehouse.connect() as conn:
        put_kpis(conn, "week", [("audit_p95_duration_ms", monday, "180000", 40)])
    result = run_partitions([SLO_WEEKLY], warehouse, instance, "2025-03-03")
    assert result.success
    with warehouse.connect() as conn:
        (row,) = status(conn, "week").values()
    assert (row["sli"], row["met"], row["period_end"]) == ("latency_p95", False, monday + timedelta(weeks=1))


def test_an_empty_hour_keeps_the_check_of_a_violated_slo_warning_as_the_dashboard_shows(
    warehouse, instance: DagsterInstance
):
    """Hour H violates provenance_generation; the run of the empty hour after it must not say green."""
    from telemetry_pipeline.apps.dashboard.params import parse_view
    from telemetry_pipeline.apps.dashboard.queries import slo_status

    with warehouse.connect() as conn:
        load_events(conn)
    assert run_partitions([kpi_aggregations_hourly, SLO_HOURLY], warehouse, instance, "2025-03-01-06:00").success
    result = run_partitions([kpi_aggregations_hourly, SLO_HOURLY], warehouse, instance, "2025-03-01-07:00")
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key == SLO_HOURLY.key}
    violated = checks[check_name("provenance_generation")]
    assert not violated.passed and violated.severity == AssetCheckSeverity.WARN
    assert violated.metadata["covers"].value == (
        "no data in 2025-03-01-07:00; latest evaluated period 2025-03-01-06:00: violated"
    )
    assert violated.metadata["violating_periods"].value.splitlines() == [
        "2025-03-01-06:00 availability=90 (target >= 99.9, n=10)",
        "2025-03-01-06:00 error_rate=20 (target < 1, n=10)",
    ]
    met = checks[check_name("validation")]  # met in 06:00 (2 rows, below the minimum sample)
    assert met.passed
    assert met.metadata["covers"].value == (
        "no data in 2025-03-01-07:00; latest evaluated period 2025-03-01-06:00: met or below the minimum sample"
    )
    assert checks[check_name("audit_observer")].metadata["covers"].value == (
        "no data in 2025-03-01-07:00; never evaluated"
    )
    # The dashboard's SLO panel over the same hours shows the same verdicts.
    view = parse_view({"from": ["2025-03-01T00:00:00Z"], "to": ["2025-03-01T08:00:00Z"], "granularity": ["hour"]},
                      load_slos(), datetime(2025, 3, 1, 8, tzinfo=UTC))
    with warehouse.connect() as conn:
        panel = {(r["slo_name"], r["sli"]): r["status"] for r in slo_status(conn, view, load_slos())["slis"]}
    assert panel[("provenance_generation", "availability")] == "violated"
    assert panel[("provenance_generation", "error_rate")] == "violated"
    # A window with data covers exactly that window.
    again = run_partitions([SLO_HOURLY], warehouse, instance, "2025-03-01-06:00", "2025-03-01-07:00")
    window_check = next(e for e in again.get_asset_check_evaluations()
                        if e.check_name == check_name("provenance_generation"))
    assert window_check.metadata["covers"].value == (
        "partitions 2025-03-01-06:00…2025-03-01-07:00: violations in the window this run wrote"
    )
    assert window_check.metadata["violations"].value == 2
