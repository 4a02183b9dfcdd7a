"""A real Prometheus holds the rolling burn rates the fast-burn sensor computed on its last tick.

Raw validation events go into a scratch warehouse; the sensor's own tick function
(`run_fast_burn_tick`, no alert channel) evaluates them at a chosen instant and stores the
evaluation (slo_fast_burn_latest); Prometheus scrapes the dashboard every second and must hold
exactly the rates of that evaluation, which are also worked out by hand below. A second tick
replaces them, and Prometheus follows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.slos.fast_burn import evaluate
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.defs.alerting.fast_burn import run_fast_burn_tick
from telemetry_pipeline.defs.resources import WarehouseResource
from telemetry_pipeline_tests.interop.prometheus import (
    Prometheus,
    by_labels,
    require_binaries,
    running_prometheus,
    wait_for,
)

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
LOG = logging.getLogger("test_prometheus_fast_burn")
ROLLING = 'telemetry_slo_burn_rate{granularity="rolling"}'

#: One validation every 10 s in (NOW - 6h, NOW], the last 3 minutes (18 rows) errors. Windows are
#: (NOW - w, NOW]: 5m 30 rows, 30m 180, 1h 360, 6h 2160, 18 bad in each. Availability allows 1/1000
#: bad, error_rate 1/200 (the tests' catalog), so burn = 18 / rows / allowed:
BY_HAND = {
    ("validation", "availability", "5m"): 600.0, ("validation", "availability", "30m"): 100.0,
    ("validation", "availability", "1h"): 50.0, ("validation", "availability", "6h"): 25 / 3,
    ("validation", "error_rate", "5m"): 120.0, ("validation", "error_rate", "30m"): 20.0,
    ("validation", "error_rate", "1h"): 10.0, ("validation", "error_rate", "6h"): 5 / 3,
}
#: Two minutes later no new rows arrived: the 5m window (NOW - 3m, NOW + 2m] holds the 18 errors only.
LATER = NOW + timedelta(minutes=2)


@pytest.fixture(scope="module")
def stack(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, str, list]]:
    require_binaries()
    name = f"tp_test_fast_burn_{os.getpid()}"
    url = scratch.create_database(pg_server_url, name)
    with psycopg.connect(url) as conn:
        conn.execute(
            """insert into public.telemetry_events (event_type, event_timestamp, metadata)
               select 'provenance.validation', ts,
                      jsonb_build_object('status', case when ts > %(now)s - interval '3 minutes'
                                                        then 'error' else 'success' end)
               from generate_series(%(now)s - interval '6 hours' + interval '10 seconds', %(now)s,
                                    interval '10 seconds') ts""",
            {"now": NOW},
        )
    clock = [NOW + timedelta(seconds=20)]  # the dashboard's clock: 20 s after the tick
    tmp = Path(tmp_path_factory.mktemp("prometheus-fast-burn"))
    try:
        with running(create_app(url, clock=lambda: clock[0])) as base:
            with running_prometheus(tmp, base.removeprefix("http://")) as prometheus:
                yield prometheus, url, clock
    finally:
        scratch.drop_database(pg_server_url, name)


def _rolling(prometheus: Prometheus) -> dict[tuple, float]:
    return by_labels(prometheus.query(ROLLING), "slo", "sli", "window")


def test_prometheus_holds_the_stored_fast_burn_evaluation(stack: tuple[Prometheus, str, list]) -> None:
    prometheus, url, clock = stack
    warehouse = WarehouseResource(database_url=url)
    summary = run_fast_burn_tick(warehouse, [], LOG, now=NOW)
    assert "validation/availability: 5m 600x (30 rows)" in summary

    held = wait_for(lambda: _rolling(prometheus) or None, timeout=60, what="the rolling burn rates in Prometheus")
    assert held == BY_HAND
    # the same numbers as the evaluation itself (no episode had closed, so no window was shortened)
    with psycopg.connect(url) as conn:
        evaluated = {(b.slo.name, b.sli.name, w.window): w.rate for b in evaluate(conn, load_slos(), NOW)
                     for w in b.windows.values() if w.rate is not None}
        stored = dict(((s, i, w), r) for s, i, w, r in conn.execute(
            "select slo_name, sli, burn_window, burn_rate from public.slo_fast_burn_latest"
            " where burn_rate is not null"))
    assert held == evaluated == stored
    # SLIs without rows in their windows have no rate; the evaluation's time is exported per SLI
    stamps = by_labels(prometheus.query("telemetry_slo_fast_burn_evaluated_timestamp_seconds"), "slo", "sli")
    assert stamps[("validation", "availability")] == NOW.timestamp()
    assert len(stamps) == 6  # every ratio SLI of the 3 global SLOs was evaluated

    # the next tick replaces the evaluation (one transaction); Prometheus follows on its next scrape
    run_fast_burn_tick(warehouse, [], LOG, now=LATER)
    clock[0] = LATER + timedelta(seconds=20)
    later = wait_for(lambda: (r := _rolling(prometheus)).get(("validation", "availability", "5m")) == 1000.0 and r,
                     timeout=60, what="Prometheus to hold the second evaluation")
    # 5m: 18 of 18 rows bad; 30m: 18 of 168 (rows of (NOW - 28m, NOW])
    assert later[("validation", "error_rate", "5m")] == 200.0
    assert later[("validation", "availability", "30m")] == 750 / 7
