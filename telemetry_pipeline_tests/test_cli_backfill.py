"""SPEC section 8: `dagster asset materialize ... --partition-range A...B` backfills as one run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from telemetry_pipeline_tests import events_fixture as fx


def test_dagster_cli_partition_range_is_one_run_with_exact_kpis(warehouse, tmp_path):
    with warehouse.connect() as conn:
        fx.load(conn)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home)}  # a SQLite instance: any instance storage works
    env.pop("DAGSTER_PG_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "telemetry_pipeline.definitions",
         "--select", "raw_events,kpi_aggregations_hourly,slo_status_hourly",
         "--partition-range", "2025-01-05-23:00...2025-01-06-01:00"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("RUN_START") == 1  # one run for the three partitions
    with warehouse.connect() as conn:
        rows = dict(conn.execute(
            "select metric_name, metric_value from public.kpi_aggregations"
            " where aggregation_period = 'hour' and period_start = %s", (fx.H0,)
        ).fetchall())
        periods = conn.execute(
            "select count(distinct period_start) from public.slo_status where aggregation_period = 'hour'"
        ).fetchone()[0]
    assert set(rows) == set(fx.EXPECTED_H0)
    for name, (value, _) in fx.EXPECTED_H0.items():
        assert float(rows[name]) == pytest.approx(value, rel=1e-12), name
    assert periods == 2  # 23:00 and 00:00 have provenance/validation/audit KPIs; 01:00 is empty
