"""The README run command's bootstrap: no demo rows in an external warehouse, catch-up backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg.types.json import Jsonb

from telemetry_pipeline.apps import devserver
from telemetry_pipeline.core.granularity import period_start_of
from telemetry_pipeline.core.warehouse import scratch


def test_bootstrap_materialises_the_window_once_and_seeds_nothing_external(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("TELEMETRY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(devserver.DAGSTER_PG_URL_ENV, raising=False)
    hour = period_start_of(datetime.now(UTC), "hour") - timedelta(hours=3)
    with warehouse.connect() as conn:
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s)",
            ("provenance.generation", hour + timedelta(minutes=5), Jsonb({"status": "success", "duration_ms": 10})),
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
        assert events == 1 and hours == 1 and slo_rows == 3  # provenance_generation's three SLIs
        assert devserver.missing_ranges(devserver.dagster_environment(), 1) == []  # nothing left to catch up
    finally:
        scratch.drop_database(scratch.server_url(), storage.rsplit("/", 1)[1].split("?")[0])
