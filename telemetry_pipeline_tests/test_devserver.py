"""The README run command's bootstrap: no demo rows in an external warehouse, catch-up backfill."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from dagster import AssetKey, DagsterEventType, DagsterInstance, EventRecordsFilter
from psycopg.types.json import Jsonb

from telemetry_pipeline import devserver, settings
from telemetry_pipeline.partitions import partition_key_for, period_start_of
from telemetry_pipeline.warehouse import scratch


def test_bootstrap_materialises_the_window_once_and_seeds_nothing_external(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("TELEMETRY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(devserver.DAGSTER_PG_URL_ENV, raising=False)
    monkeypatch.setenv(settings.PARTITIONS_START_ENV, "")  # unset, and restored after the test
    hour = period_start_of(datetime.now(UTC), "hour") - timedelta(hours=3)
    audit_hour = hour - timedelta(hours=1)
    first_day = (hour - timedelta(days=3)).date()  # an old event: outside the 1-day window, first data
    with warehouse.connect() as conn:
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s)",
            ("provenance.generation", hour + timedelta(minutes=5), Jsonb({"status": "success", "duration_ms": 10})),
        )
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s)",
            ("provenance.generation", f"{first_day}T00:30Z", Jsonb({"status": "success", "duration_ms": 10})),
        )
        conn.execute(
            "insert into public.slsa_audit_metrics (audited_at, status, sha256_verified,"
            " predicate_type_verified, supabase_synced) values (%s, 'success', true, true, true)",
            (audit_hour + timedelta(minutes=7),),
        )
    storage = devserver.dagster_storage_url()  # <test db>_dagster on the same server
    try:
        devserver.bootstrap(days=1, seed=7)  # TELEMETRY_DATABASE_URL is set: external, no demo rows
        with warehouse.connect() as conn:
            events = conn.execute("select count(*) from public.telemetry_events").fetchone()[0]
            hours = conn.execute(
                "select count(*) from public.kpi_aggregations where metric_name = 'event_count'"
                " and aggregation_period = 'hour' and period_start = %s", (hour,)
            ).fetchone()[0]
            slo_rows = conn.execute(
                "select count(*) from public.slo_status where aggregation_period = 'hour' and period_start = %s",
                (hour,),
            ).fetchone()[0]
        assert events == 2 and hours == 1 and slo_rows == 3  # provenance_generation's three SLIs
        env = devserver.dagster_environment()
        assert devserver.missing_ranges(env, 1) == []  # nothing left to catch up
        # The partitions start on the first day with data, in the Dagster processes too.
        assert env[settings.PARTITIONS_START_ENV] == f"{first_day}"
        assert _first_partition_keys(env) == {
            "hour": f"{first_day}-00:00",
            "day": f"{first_day}",
            "week": f"{first_day - timedelta(days=first_day.weekday())}",
        }
        # The window starts at 00:00 UTC of its first day: that day's first hour is materialised too.
        assert f"{datetime.now(UTC) - timedelta(days=1):%Y-%m-%d}-00:00" in _materialized(env, monkeypatch)
        # slsa_audit_metrics was observed at start-up: a data version for the audit's hour.
        assert _observed_versions(env, monkeypatch) == {partition_key_for(audit_hour, "hour"): "1"}
    finally:
        scratch.drop_database(scratch.server_url(), storage.rsplit("/", 1)[1].split("?")[0])


def _first_partition_keys(env: dict[str, str]) -> dict[str, str]:
    """The first partition key of each granularity as a Dagster process started with `env` sees it."""
    code = (
        "import json; from telemetry_pipeline.definitions import defs; "
        "g = defs.get_repository_def().asset_graph; "
        "print(json.dumps({p: g.get(k).partitions_def.get_first_partition_key() for p, k in "
        "[('hour', 'kpi_aggregations_hourly'), ('day', 'kpi_aggregations_daily'), ('week', 'kpi_aggregations_weekly')]"
        " for k in [__import__('dagster').AssetKey(k)]}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _observed_versions(env: dict[str, str], monkeypatch) -> dict[str, str]:
    """Partition -> audit count of the data versions recorded for slsa_audit_metrics in the instance."""
    for name in ("DAGSTER_HOME", devserver.DAGSTER_PG_URL_ENV):
        monkeypatch.setenv(name, env[name])
    with DagsterInstance.get() as instance:
        records = instance.get_event_records(
            EventRecordsFilter(DagsterEventType.ASSET_OBSERVATION, asset_key=AssetKey("slsa_audit_metrics"))
        )
    return {r.partition_key: r.asset_observation.tags["dagster/data_version"].split(":")[0] for r in records}


def test_dagster_yaml_is_valid_and_switches_the_onboarding_modal_off(tmp_path, monkeypatch):
    """Dagster validates the project's instance file; `nux: enabled: false` keeps the UI unobstructed."""
    from dagster._core.instance.config import dagster_instance_config

    monkeypatch.setenv(devserver.DAGSTER_PG_URL_ENV, "postgresql+psycopg2://u@127.0.0.1:5432/d")
    (tmp_path / "dagster.yaml").write_text((settings.PROJECT_ROOT / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["nux"] == {"enabled": False}
    assert config["telemetry"] == {"enabled": False}


def _materialized(env: dict[str, str], monkeypatch) -> set[str]:
    """The hourly partitions of slo_status_hourly materialised in the instance `env` points at."""
    for name in ("DAGSTER_HOME", devserver.DAGSTER_PG_URL_ENV):
        monkeypatch.setenv(name, env[name])
    with DagsterInstance.get() as instance:
        return set(instance.get_materialized_partitions(AssetKey("slo_status_hourly")))
