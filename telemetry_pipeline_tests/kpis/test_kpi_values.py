"""Every SPEC section 5 metric against hand-computed values, through the Dagster assets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from dagster import instance_for_test

from telemetry_pipeline.core.kpis.catalog import METRICS
from telemetry_pipeline.defs.kpis.assets import (
    kpi_aggregations_daily,
    kpi_aggregations_hourly,
    kpi_aggregations_weekly,
)
from telemetry_pipeline_tests import events_fixture as fx
from telemetry_pipeline_tests.dagster_run import run_partitions


def kpi_rows(conn, granularity: str, period_start: datetime) -> dict[str, tuple[float, int, str, datetime]]:
    return {
        name: (float(value), md["sample_size"], md["unit"], end)
        for name, value, md, end in conn.execute(
            "select metric_name, metric_value, metadata, period_end from public.kpi_aggregations"
            " where aggregation_period = %s and period_start = %s",
            (granularity, period_start),
        )
    }


def assert_matches(actual: dict, expected: dict[str, tuple[float, int]], exhaustive: bool) -> None:
    if exhaustive:
        assert set(actual) == set(expected)
    for name, (value, sample) in expected.items():
        assert name in actual, f"missing {name}"
        assert actual[name][0] == pytest.approx(value, rel=1e-12, abs=1e-12), name
        assert actual[name][1] == sample, f"{name} sample_size"


@pytest.fixture
def loaded(warehouse):
    with warehouse.connect() as conn:
        fx.load(conn)
    return warehouse


def test_every_metric_of_an_hour(loaded):
    with instance_for_test() as instance:
        run_partitions([kpi_aggregations_hourly], loaded, instance, "2025-01-05-23:00", "2025-01-06-00:00")
    with loaded.connect() as conn:
        h0 = kpi_rows(conn, "hour", fx.H0)
        before = kpi_rows(conn, "hour", fx.H0 - timedelta(hours=1))
    # the fixture covers the whole catalog, so this pins every metric's formula
    assert set(fx.EXPECTED_H0) == {m.name for m in METRICS}
    assert_matches(h0, fx.EXPECTED_H0, exhaustive=True)
    assert_matches(before, fx.EXPECTED_PREVIOUS_HOUR, exhaustive=True)
    assert all(end == fx.H0 + timedelta(hours=1) for *_, end in h0.values())
    assert h0["provenance_p95_duration_ms"][2] == "ms" and h0["error_rate"][2] == "percent"


def test_every_metric_of_an_hour_ticked_alone(loaded):
    # One partition, as every scheduled tick runs: the events statement groups the hour's rows by
    # event type and status before the catalog's aggregates (kpi_select one_period).
    with instance_for_test() as instance:
        run_partitions([kpi_aggregations_hourly], loaded, instance, "2025-01-06-00:00")
        run_partitions([kpi_aggregations_hourly], loaded, instance, "2025-01-05-23:00")
    with loaded.connect() as conn:
        assert_matches(kpi_rows(conn, "hour", fx.H0), fx.EXPECTED_H0, exhaustive=True)
        assert_matches(kpi_rows(conn, "hour", fx.H0 - timedelta(hours=1)), fx.EXPECTED_PREVIOUS_HOUR,
                       exhaustive=True)


def test_day_and_week_percentiles_come_from_raw_rows(loaded):
    with instance_for_test() as instance:
        run_partitions([kpi_aggregations_daily], loaded, instance, "2025-01-05", "2025-01-07")
        run_partitions([kpi_aggregations_weekly], loaded, instance, "2024-12-30", "2025-01-13")
    with loaded.connect() as conn:
        day = kpi_rows(conn, "day", fx.H0)
        week = kpi_rows(conn, "week", fx.H0)
        previous_week = kpi_rows(conn, "week", fx.H0 - timedelta(weeks=1))
        next_week = kpi_rows(conn, "week", fx.H0 + timedelta(weeks=1))
        next_day = kpi_rows(conn, "day", fx.H0 + timedelta(days=1))
    assert_matches(day, fx.EXPECTED_DAY, exhaustive=False)
    assert_matches(week, fx.EXPECTED_WEEK, exhaustive=False)
    assert day["provenance_count"][3] == fx.H0 + timedelta(days=1)
    assert week["provenance_count"][3] == fx.H0 + timedelta(weeks=1)
    # the Sunday-night events belong to the week starting Monday 2024-12-30
    assert previous_week["provenance_count"][:2] == (2.0, 2)
    assert next_week["provenance_count"][:2] == (1.0, 1)
    assert next_day == {}  # an empty period has no rows at all


def test_empty_window_writes_nothing_and_unreadable_values_never_fail(warehouse):
    with warehouse.connect() as conn:
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values"
            " ('provenance.generation', '2025-02-01T10:00:00Z', %s),"
            " ('provenance.generation', '2025-02-01T10:01:00Z', %s),"
            " ('provenance.generation', '2025-02-01T10:02:00Z', null),"
            " ('provenance.generation', '2025-02-01T10:03:00Z', '[1, 2]')",
            ('{"status": "success", "duration_ms": "1e999999"}', '{"status": "success", "duration_ms": "NaN"}'),
        )
    with instance_for_test() as instance:
        run_partitions([kpi_aggregations_hourly], warehouse, instance, "2025-02-01-09:00", "2025-02-01-10:00")
        run_partitions([kpi_aggregations_hourly], warehouse, instance, "2025-02-01-09:00")  # one period, empty
    with warehouse.connect() as conn:
        rows = kpi_rows(conn, "hour", datetime.fromisoformat("2025-02-01T10:00:00+00:00"))
        empty = kpi_rows(conn, "hour", datetime.fromisoformat("2025-02-01T09:00:00+00:00"))
    assert empty == {}
    assert rows["provenance_count"][:2] == (4.0, 4)
    assert rows["provenance_success_rate"][:2] == (50.0, 4)  # null/array metadata has no status
    assert "provenance_avg_duration_ms" not in rows  # no readable duration -> no row
    assert "provenance_p95_duration_ms" not in rows
