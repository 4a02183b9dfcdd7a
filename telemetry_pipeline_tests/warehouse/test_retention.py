"""Retention drops a raw month only when every KPI and slo_status period it feeds is stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from telemetry_pipeline.cli import cli as main
from telemetry_pipeline.core import settings
from telemetry_pipeline.core.events.store import insert_events
from telemetry_pipeline.core.kpis.sql import replace_window as replace_kpis
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.slos.sql import replace_window as replace_slos
from telemetry_pipeline.core.warehouse import retention
from telemetry_pipeline.core.warehouse.maintenance import ensure_all_partitions
from telemetry_pipeline_tests.warehouse.rows import event

NOW = datetime(2024, 6, 15, tzinfo=UTC)  # 2 months kept: April, May (and June); Jan-Mar are past
#: One week (Monday 2024-01-29) straddles January and February.
HOURS = ["2024-01-31T10", "2024-02-01T10", "2024-02-20T10", "2024-03-10T10"]
WINDOW = (datetime(2024, 1, 29, tzinfo=UTC), datetime(2024, 3, 18, tzinfo=UTC))
OURS = {"telemetry_events_p202401", "telemetry_events_p202402", "telemetry_events_p202403"}


@pytest.fixture
def materialised(warehouse):
    """Events in four hours of Jan-Mar 2024 with every KPI and slo_status period computed."""
    events = [
        event(f"{hour}:{minute:02d}:00Z", event_type="provenance.generation")
        for hour in HOURS for minute in range(0, 60, 5)
    ]
    with warehouse.connect() as conn:
        insert_events(conn, events)
        conn.commit()
    ensure_all_partitions(warehouse.url(), NOW)
    with warehouse.connect(autocommit=True) as conn:
        for granularity in ("hour", "day", "week"):
            replace_kpis(conn, granularity, *WINDOW)
            replace_slos(conn, load_slos(), granularity, *WINDOW)
    return warehouse


def _ours(decisions: list[retention.MonthDecision]) -> dict[str, retention.MonthDecision]:
    return {d.partition.name: d for d in decisions if d.partition.name in OURS}


def _counts(conn) -> tuple[int, int]:
    kpis = conn.execute("select count(*) from public.kpi_aggregations").fetchone()[0]
    slos = conn.execute("select count(*) from public.slo_status").fetchone()[0]
    return kpis, slos


def test_every_materialised_month_past_retention_is_droppable(materialised):
    with materialised.connect(autocommit=True) as conn:
        decisions = _ours(retention.plan(conn, NOW, 2))
    assert {n: (d.rows, d.droppable) for n, d in decisions.items()} == {
        "telemetry_events_p202401": (12, True),
        "telemetry_events_p202402": (24, True),
        "telemetry_events_p202403": (12, True),
    }


def test_a_month_whose_kpis_are_missing_is_kept(materialised):
    with materialised.connect(autocommit=True) as conn:
        conn.execute(
            "delete from public.kpi_aggregations where aggregation_period = 'hour'"
            " and period_start = '2024-02-20T10:00Z'"
        )
        conn.execute(  # the week both January and February feed
            "delete from public.kpi_aggregations where aggregation_period = 'week' and period_start = '2024-01-29'"
        )
        conn.execute(
            "delete from public.slo_status where aggregation_period = 'day' and period_start = '2024-03-10'"
        )
        before = _counts(conn)
        decisions = retention.plan(conn, NOW, 2)
        ours = _ours(decisions)
        assert [(g, p.isoformat(), t) for g, p, t in ours["telemetry_events_p202402"].missing] == [
            ("week", "2024-01-29T00:00:00+00:00", "kpi_aggregations"),
            ("hour", "2024-02-20T10:00:00+00:00", "kpi_aggregations"),
        ]
        assert [(g, t) for g, _, t in ours["telemetry_events_p202401"].missing] == [("week", "kpi_aggregations")]
        assert [(g, t) for g, _, t in ours["telemetry_events_p202403"].missing] == [("day", "slo_status")]

        dropped = retention.apply(conn, decisions)

        assert not {d.partition.name for d in dropped} & OURS
        assert conn.execute("select count(*) from public.telemetry_events").fetchone()[0] == 48
        assert _counts(conn) == before


def test_apply_drops_the_months_and_keeps_kpis_and_slo_history(materialised):
    with materialised.connect(autocommit=True) as conn:
        conn.execute(
            "delete from public.kpi_aggregations where aggregation_period = 'hour'"
            " and period_start = '2024-03-10T10:00Z'"
        )
        before = _counts(conn)
        dropped = retention.apply(conn, retention.plan(conn, NOW, 2))
        assert {d.partition.name for d in dropped} & OURS == {"telemetry_events_p202401", "telemetry_events_p202402"}
        assert [d.as_dict()["rows"] for d in dropped if d.partition.name in OURS] == [12, 24]
        left = conn.execute(
            "select to_char(event_timestamp, 'YYYY-MM'), count(*) from public.telemetry_events group by 1"
        ).fetchall()
        assert left == [("2024-03", 12)]
        assert conn.execute("select to_regclass('public.telemetry_events_p202401')").fetchone()[0] is None
        assert _counts(conn) == before


def test_cli_lists_then_applies(materialised, monkeypatch):
    runner = CliRunner()
    monkeypatch.delenv(retention.RETENTION_MONTHS_ENV, raising=False)
    unset = runner.invoke(main, ["db", "retention"])
    assert unset.exit_code == 0 and "keeping every month" in unset.output

    monkeypatch.setenv(retention.RETENTION_MONTHS_ENV, "2")
    listed = runner.invoke(main, ["db", "retention"])
    assert listed.exit_code == 0, listed.output
    assert "would drop telemetry_events_p202402 (2024-02, 24 rows)" in listed.output
    with materialised.connect() as conn:
        assert conn.execute("select count(*) from public.telemetry_events").fetchone()[0] == 48

    applied = runner.invoke(main, ["db", "retention", "--apply"])
    assert applied.exit_code == 0, applied.output
    assert "dropped   telemetry_events_p202402 (2024-02, 24 rows)" in applied.output
    with materialised.connect() as conn:
        assert conn.execute("select count(*) from public.telemetry_events").fetchone()[0] == 0


def test_a_bad_retention_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv(retention.RETENTION_MONTHS_ENV, "six")
    result = CliRunner().invoke(main, ["db", "retention"])
    assert result.exit_code != 0 and "TELEMETRY_RETENTION_MONTHS='six'" in result.output


@pytest.mark.parametrize("raw", ["six", "0", "-2", "+3", "1.5"])
def test_the_retention_setting_is_typed_and_checked_with_the_others(monkeypatch, raw):
    monkeypatch.setenv(settings.RETENTION_MONTHS_ENV, " 7 ")
    assert retention.retention_months() == 7
    monkeypatch.setenv(settings.RETENTION_MONTHS_ENV, "")
    assert retention.retention_months() is None
    monkeypatch.setenv(settings.RETENTION_MONTHS_ENV, raw)
    expected = f"TELEMETRY_RETENTION_MONTHS={raw!r} is not a whole number of months >= 1"
    with pytest.raises(settings.SettingsError, match=re.escape(expected)):
        retention.retention_months()
    with pytest.raises(settings.SettingsError, match=re.escape(expected)):  # the code location's check
        settings.current().validate()


def test_the_daily_job_splits_the_default_partition_then_drops_and_says_what(materialised, monkeypatch):
    from dagster import DefaultScheduleStatus, instance_for_test, materialize

    from telemetry_pipeline.definitions import defs
    from telemetry_pipeline.defs.maintenance.assets import raw_partitions, raw_retention

    schedule = next(s for s in defs.schedules if s.name == "warehouse_maintenance_daily")
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    with materialised.connect() as conn:  # a late event of a month without a partition
        insert_events(conn, [event("2023-07-04T10:00:00Z", "late")])
        conn.commit()
    monkeypatch.setenv(retention.RETENTION_MONTHS_ENV, "2")
    with instance_for_test() as instance:
        result = materialize([raw_partitions, raw_retention], resources={"warehouse": materialised},
                             instance=instance)
    assert result.success
    created = result.asset_materializations_for_node("raw_partitions")[0].metadata["created"].value
    assert "telemetry_events_p202307" in created
    meta = result.asset_materializations_for_node("raw_retention")[0].metadata
    dropped = {d["partition"]: d["rows"] for d in meta["dropped"].value}
    # July 2023 has no KPIs: kept back, named with what is missing
    assert {"telemetry_events_p202401": 12, "telemetry_events_p202402": 24, "telemetry_events_p202403": 12}.items() \
        <= dropped.items()
    kept = {d["partition"]: d for d in meta["kept_back"].value}
    assert kept["telemetry_events_p202307"]["missing"] == [
        "kpi_aggregations week 2023-07-03T00:00:00+00:00", "kpi_aggregations day 2023-07-04T00:00:00+00:00",
        "kpi_aggregations hour 2023-07-04T10:00:00+00:00",
    ]
    with materialised.connect() as conn:
        assert conn.execute("select count(*) from public.telemetry_events").fetchone()[0] == 1
