"""The layers hold: programs outside Dagster never import it, and a bad setting stops only
the code location that reads it, naming the variable."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from telemetry_pipeline.core import settings

NO_DAGSTER = (
    "import importlib, sys; importlib.import_module(sys.argv[1]); "
    "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'dagster_slack')); "
    "print(','.join(loaded[:5])); sys.exit(1 if loaded else 0)"
)


@pytest.mark.parametrize(
    "module",
    [
        "telemetry_pipeline.apps.emit",
        "telemetry_pipeline.apps.collector",
        "telemetry_pipeline.apps.dashboard.app",
        "telemetry_pipeline.apps.dashboard.cli",
        "telemetry_pipeline.apps.events_cli",
        "telemetry_pipeline.cli",
    ],
)
def test_programs_outside_dagster_do_not_import_it(module):
    proc = subprocess.run([sys.executable, "-c", NO_DAGSTER, module], capture_output=True, text=True)
    assert proc.returncode == 0, f"{module} imports {proc.stdout.strip()}{proc.stderr[-500:]}"


def test_the_plain_library_imports_no_dagster():
    walk = (
        "import importlib, pkgutil, sys, telemetry_pipeline.core as core; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(core.__path__, 'telemetry_pipeline.core.')]; "
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'dagster']; sys.exit(1 if loaded else 0)"
    )
    assert subprocess.run([sys.executable, "-c", walk]).returncode == 0


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)


def test_a_bad_setting_stops_the_code_location_naming_it_and_emit_still_works(warehouse_url):
    import os

    env = {**os.environ, settings.PARTITIONS_START_ENV: "2025-13-01", settings.DATABASE_URL_ENV: warehouse_url}
    env.pop(settings.COLLECTOR_URL_ENV, None)
    location = _run([sys.executable, "-c", "import telemetry_pipeline.definitions"], env)
    assert location.returncode != 0
    assert "TELEMETRY_PARTITIONS_START='2025-13-01' is not a date (expected YYYY-MM-DD)" in location.stderr

    cli = [sys.executable, "-m", "telemetry_pipeline.cli"]
    emitted = _run([*cli, "emit", "--type", "provenance.generation", "--status", "success",
                    "--event-id", "bad-setting-1"], env)
    assert (emitted.returncode, emitted.stdout) == (0, "provenance.generation: recorded (warehouse)\n")
    with psycopg.connect(warehouse_url) as conn:
        found = conn.execute(
            "select count(*) from public.telemetry_events where event_id = 'bad-setting-1'"
        ).fetchone()
    assert found == (1,)
    # the dashboard's app (page, API, links into Dagster) builds with the bad value in place
    dashboard = _run([sys.executable, "-c", "from telemetry_pipeline.apps.dashboard.app import create_app"], env)
    assert dashboard.returncode == 0, dashboard.stderr[-500:]


def test_dg_loads_the_defs_folder_as_the_code_location(tmp_path):
    """`dg check defs` / `dg list defs` see the same assets, jobs and sensors as SPEC section 8."""
    import json
    import os
    from pathlib import Path

    dg = Path(sys.executable).with_name("dg")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    checked = _run([str(dg), "check", "defs"], env)
    assert checked.returncode == 0, checked.stderr[-1000:]
    listed = _run([str(dg), "list", "defs", "--json"], env)
    assert listed.returncode == 0, listed.stderr[-1000:]
    found = json.loads(listed.stdout)
    assert {a["asset_key"] for a in found["assets"]} == {
        "raw_events", "slsa_audit_metrics", "kpi_aggregations_hourly", "kpi_aggregations_daily",
        "kpi_aggregations_weekly", "slo_status_hourly", "slo_status_daily", "slo_status_weekly",
        "raw_partitions", "raw_retention",  # the daily warehouse maintenance (defs/maintenance)
    }
    assert {s["name"] for s in found["sensors"]} == {"slo_alert_sensor", "late_data_sensor"}
    assert {j["name"] for j in found["jobs"]} >= {
        "hourly_telemetry_job", "daily_telemetry_job", "weekly_telemetry_job",
    }
