"""Writes are idempotent window replaces: twice = once, range = per partition, crash = untouched."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from dagster import AssetKey, DagsterEventType, EventRecordsFilter, instance_for_test

from telemetry_pipeline.core.kpis.sql import replace_window
from telemetry_pipeline.defs.events.assets import raw_events
from telemetry_pipeline.defs.kpis.assets import kpi_aggregations_daily, kpi_aggregations_hourly
from telemetry_pipeline_tests import events_fixture as fx
from telemetry_pipeline_tests.dagster_run import run_partitions

UTC = UTC
SNAPSHOT = (
    "select metric_name, aggregation_period, period_start, period_end, metric_value, metadata"
    " from public.kpi_aggregations order by 1, 2, 3"
)


@pytest.fixture
def loaded(warehouse):
    with warehouse.connect() as conn:
        fx.load(conn)
    return warehouse


def snapshot(warehouse) -> list[tuple]:
    with warehouse.connect() as conn:
        return conn.execute(SNAPSHOT).fetchall()


def test_materialising_twice_changes_nothing(loaded):
    with instance_for_test() as instance:
        run_partitions([kpi_aggregations_hourly], loaded, instance, "2025-01-05-22:00", "2025-01-06-14:00")
        first = snapshot(loaded)
        run_partitions([kpi_aggregations_hourly], loaded, instance, "2025-01-05-22:00", "2025-01-06-14:00")
        run_partitions([kpi_aggregations_hourly], loaded, instance, "2025-01-06-00:00")
        second = snapshot(loaded)
    assert first and first == second
    with loaded.connect() as conn:
        dupes = conn.execute(
            "select count(*) - count(distinct (metric_name, aggregation_period, period_start))"
            " from public.kpi_aggregations"
        ).fetchone()[0]
    assert dupes == 0


@pytest.mark.parametrize(("asset", "keys", "periods_with_events"), [
    (kpi_aggregations_daily, [f"2025-01-{day:02d}" for day in range(5, 14)], 4),  # Jan 5, 6, 12, 13
    (kpi_aggregations_hourly, ["2025-01-05-22:00", "2025-01-05-23:00", "2025-01-06-00:00", "2025-01-06-01:00",
                               "2025-01-06-02:00"], 2),
], ids=["day", "hour"])
def test_range_run_equals_per_partition_runs(loaded, asset, keys, periods_with_events):
    # A one-partition run takes the statement without GROUP BY (kpi_select one_period), a range
    # the grouped one: the rows, values and metadata must be the same to the last digit.
    with instance_for_test() as instance:
        run_partitions([asset], loaded, instance, keys[0], keys[-1])
        ranged = snapshot(loaded)
        with loaded.connect() as conn:
            conn.execute("truncate public.kpi_aggregations")
        for key in keys:
            run_partitions([asset], loaded, instance, key)
        single = snapshot(loaded)
    assert ranged == single
    assert len({row[2] for row in ranged}) == periods_with_events


def test_changed_data_replaces_the_window(loaded):
    with instance_for_test() as instance:
        run_partitions([kpi_aggregations_hourly], loaded, instance, "2025-01-06-00:00")
        with loaded.connect() as conn:
            conn.execute("delete from public.telemetry_events where event_type <> 'provenance.generation'")
            conn.execute("delete from public.slsa_audit_metrics")
        run_partitions([kpi_aggregations_hourly], loaded, instance, "2025-01-06-00:00")
    with loaded.connect() as conn:
        names = {r[0] for r in conn.execute("select metric_name from public.kpi_aggregations")}
        count = conn.execute(
            "select metric_value from public.kpi_aggregations where metric_name = 'event_count'"
        ).fetchone()[0]
    assert "validation_count" not in names and "audit_count" not in names
    assert count == 4


def test_a_crash_half_way_leaves_the_previous_window(loaded):
    start, end = datetime(2025, 1, 6, tzinfo=UTC), datetime(2025, 1, 7, tzinfo=UTC)
    with loaded.connect() as conn:
        replace_window(conn, "hour", start, end)
    before = snapshot(loaded)
    with loaded.connect() as conn:
        # a failure in the middle of the insert (after some rows went in)
        conn.execute(
            """
            create function public.fail_on_error_rate() returns trigger language plpgsql as $$
            begin
              if new.metric_name = 'error_rate' then raise exception 'simulated crash'; end if;
              return new;
            end $$;
            create trigger fail_on_error_rate before insert on public.kpi_aggregations
              for each row execute function public.fail_on_error_rate();
            """
        )
    try:
        with loaded.connect() as conn, pytest.raises(psycopg.errors.RaiseException):
            replace_window(conn, "hour", start, end)
    finally:
        with loaded.connect() as conn:
            conn.execute("drop trigger fail_on_error_rate on public.kpi_aggregations")
            conn.execute("drop function public.fail_on_error_rate()")
    assert snapshot(loaded) == before


def test_each_partition_records_its_own_metadata(loaded):
    with instance_for_test() as instance:
        run_partitions([raw_events, kpi_aggregations_hourly], loaded, instance,
                       "2025-01-05-23:00", "2025-01-06-01:00")
        records = instance.get_event_records(
            EventRecordsFilter(DagsterEventType.ASSET_MATERIALIZATION, asset_key=AssetKey("kpi_aggregations_hourly"))
        )
        raw = instance.get_event_records(
            EventRecordsFilter(DagsterEventType.ASSET_MATERIALIZATION, asset_key=AssetKey("raw_events"))
        )
    by_partition = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert set(by_partition) == {"2025-01-05-23:00", "2025-01-06-00:00", "2025-01-06-01:00"}
    assert by_partition["2025-01-06-00:00"]["provenance_success_rate"].value == pytest.approx(50.0)
    assert by_partition["2025-01-05-23:00"]["provenance_success_rate"].value == pytest.approx(100.0)
    assert "provenance_success_rate" not in by_partition["2025-01-06-01:00"]  # empty hour
    raw_md = {r.partition_key: r.asset_materialization.metadata for r in raw}
    assert raw_md["2025-01-06-00:00"]["events"].value == 11
    assert raw_md["2025-01-06-00:00"]["type:provenance.generation"].value == 4
    assert raw_md["2025-01-06-00:00"]["status:error"].value == 4
    assert raw_md["2025-01-06-01:00"]["events"].value == 0
