"""GET /metrics over HTTP: exposition parsed back with prometheus_client, scopes, escaping, bounds, speed.

The Prometheus end-to-end comparison is in test_prometheus.py; here the text itself is checked,
on the hand-made rows (seeded.py) and on a larger scoped warehouse: a scratch database whose
slo_status and kpi_aggregations gained SPEC section 10's dimension columns and a 5m burn-rate
column, as later migrations will add them.
"""

from __future__ import annotations

import os
import statistics
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from telemetry_pipeline.apps.dashboard import metrics
from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline_tests.dashboard import rows
from telemetry_pipeline_tests.interop import seeded

#: (dimension, value) of the scoped rows, a demo-sized platform: 4 repositories, 5 workflows, 3 teams;
#: one repository name needs every escape of the exposition format
REPOSITORIES = ["acme/api", "acme/web", "acme/cli", 'acme/we"ird\\repo\nname']
SCOPES = ([("repository", r) for r in REPOSITORIES]
          + [("workflow", f"{r}/release") for r in REPOSITORIES] + [("workflow", "acme/api/nightly")]
          + [("team", t) for t in ("payments", "platform", "unowned")])
SCOPED_NOW = datetime(2025, 4, 1, 0, 30, tzinfo=UTC)


def scrape(base: str) -> tuple[str, dict[str, list]]:
    with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    families = {f.name: f.samples for f in text_string_to_metric_families(text)}
    return text, families


@pytest.fixture(scope="module")
def dashboard(warehouse_url: str) -> Iterator[str]:
    with psycopg.connect(warehouse_url) as conn:
        seeded.seed(conn)
        # a row of an SLO the catalog no longer has: not exported (cardinality follows the catalog)
        conn.execute(
            "insert into public.slo_status (slo_name, sli, metric_name, aggregation_period, period_start,"
            " period_end, value, target, comparator, met, sample_size)"
            " values ('retired_slo', 'availability', 'x', 'hour', %s, %s, 1, 2, '>=', false, 10)",
            (rows.H0 - (rows.NOW - rows.H0), rows.H0),
        )
        # the open hour 12:00-13:00 (ends after the clock): not the latest *closed* period
        conn.execute(
            "insert into public.slo_status (slo_name, sli, metric_name, aggregation_period, period_start,"
            " period_end, value, target, comparator, met, sample_size)"
            " values ('provenance_generation', 'latency_p95', 'provenance_p95_duration_ms', 'hour', %s,"
            " %s + interval '1 hour', 123, 300000, '<', true, 20)",
            (rows.H0, rows.H0),
        )
    with running(create_app(warehouse_url, clock=lambda: rows.NOW)) as base:
        yield base


def test_exposition_values_follow_the_latest_closed_period(dashboard: str) -> None:
    _text, families = scrape(dashboard)
    values = {(s.labels["slo"], s.labels["sli"], s.labels["granularity"]): s.value
              for s in families["telemetry_slo_sli_value"]}
    # by hand (rows.py): hour k = 1 back (11:00) and day d = 1 back (2025-03-09); the open 12:00 row is skipped
    assert values == {
        ("provenance_generation", "availability", "hour"): 99.5,
        ("provenance_generation", "latency_p95", "hour"): 1000.0,
        ("provenance_generation", "error_rate", "hour"): 5.0,
        ("provenance_generation", "availability", "day"): 99.95,
        ("provenance_generation", "latency_p95", "day"): 50001.0,
        ("provenance_generation", "error_rate", "day"): 0.2,
    }
    met = {(s.labels["sli"], s.labels["granularity"]): s.value for s in families["telemetry_slo_met"]}
    assert met[("availability", "hour")] == 0.0 and met[("availability", "day")] == 1.0
    assert all("dimension" not in s.labels for s in families["telemetry_slo_sli_value"])
    windows = sorted({s.labels["window"] for s in families["telemetry_slo_burn_rate"]})
    assert windows == ["1h", "3d", "6h"]  # the columns slo_status has today (sql/0020)
    assert [s.value for s in families["telemetry_alerts_pending"]] == [3.0]
    assert {s.labels["event_type"]: s.value for s in families["telemetry_last_event_timestamp_seconds"]} == \
        seeded.LAST_EVENT


def _scope_arrays() -> tuple[list[str], list[str]]:
    return [d for d, _ in SCOPES], [v for _, v in SCOPES]


def _scoped_warehouse(server: str, name: str) -> str:
    """A scratch warehouse with scope columns, 90 days of global hourly rows and 12 scopes per day."""
    url = scratch.create_database(server, name)
    with psycopg.connect(url) as conn:
        # the scope columns and their unique indexes come from sql/0070-0071; the 5m window may not yet
        conn.execute("alter table public.slo_status add column if not exists burn_rate_5m numeric")
        slis = [(s.name, sli.name, sli.metric) for s in metrics.load_slos() for sli in s.slis]
        conn.execute(
            """
            insert into public.slo_status (slo_name, sli, metric_name, aggregation_period, period_start, period_end,
              value, target, comparator, met, sample_size, burn_rate_1h, burn_rate_5m, dimension, dimension_value)
            select k.slo, k.sli, k.metric, g.period, p, p + g.len, extract(hour from p) + 0.5, 99.9, '>=', true, 50,
                   case when g.period = 'hour' then 1.5 end, case when g.period = 'hour' then 2.5 end,
                   s.dim, s.val
            from unnest(%s::text[], %s::text[], %s::text[]) as k (slo, sli, metric)
            cross join (values ('hour', interval '1 hour'), ('day', interval '1 day')) as g (period, len)
            cross join lateral generate_series(timestamptz '2025-01-01', timestamptz '2025-03-31 23:00', g.len) p
            cross join lateral (select null::text, null::text
                                union all select * from unnest(%s::text[], %s::text[]) where g.period = 'day') s (dim, val)
            """,
            ([s[0] for s in slis], [s[1] for s in slis], [s[2] for s in slis], *_scope_arrays()),
        )
        conn.execute(
            """
            insert into public.kpi_aggregations (metric_name, metric_value, aggregation_period, period_start,
              period_end, dimension, dimension_value)
            select m, 7, g.period, p, p + g.len, s.dim, s.val
            from unnest(%s::text[]) m
            cross join (values ('hour', interval '1 hour'), ('day', interval '1 day')) as g (period, len)
            cross join lateral generate_series(timestamptz '2025-01-01', timestamptz '2025-03-31 23:00', g.len) p
            cross join lateral (select null::text, null::text
                                union all select * from unnest(%s::text[], %s::text[]) where g.period = 'day') s (dim, val)
            """,
            ([m.name for m in metrics.METRICS], *_scope_arrays()),
        )
        conn.execute("analyze")
    return url


@pytest.fixture(scope="module")
def scoped(pg_server_url: str) -> Iterator[str]:
    name = f"tp_test_scoped_{os.getpid()}"
    url = _scoped_warehouse(pg_server_url, name)
    try:
        with running(create_app(url, clock=lambda: SCOPED_NOW)) as base:
            yield base
    finally:
        scratch.drop_database(pg_server_url, name)


def test_scope_labels_and_new_windows_appear_with_the_columns(scoped: str) -> None:
    _text, families = scrape(scoped)
    values = families["telemetry_slo_sli_value"]
    day = [s for s in values if s.labels["granularity"] == "day"]
    # 9 SLIs x (1 global + 12 scoped) rows of 2025-03-31
    assert len(day) == 9 * 13
    scoped_values = {(s.labels["dimension"], s.labels["dimension_value"]) for s in day if "dimension" in s.labels}
    assert scoped_values == set(SCOPES)  # escaped on the wire, read back exactly
    hour = {(s.labels["slo"], s.labels["sli"]): s.value for s in values if s.labels["granularity"] == "hour"}
    assert set(hour.values()) == {23.5}  # the 23:00 hour of 2025-03-31, value = hour + 0.5
    windows = {s.labels["window"]: s.value for s in families["telemetry_slo_burn_rate"]
               if s.labels["slo"] == "validation" and s.labels["sli"] == "availability"}
    assert windows == {"5m": 2.5, "1h": 1.5}
    kpi_day = [s for s in families["telemetry_kpi_value"] if s.labels["granularity"] == "day"]
    assert len(kpi_day) == len(metrics.METRICS) * 13


def test_scopes_per_series_are_capped_and_the_cut_is_reported(scoped: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "MAX_SCOPES_PER_SERIES", 8)
    _text, families = scrape(scoped)
    day = [s for s in families["telemetry_slo_sli_value"] if s.labels["granularity"] == "day"
           and s.labels["slo"] == "validation" and s.labels["sli"] == "error_rate"]
    assert len(day) == 8  # the global row first, then 7 scopes by (dimension, value)
    assert "dimension" not in day[0].labels
    assert [(s.labels["dimension"], s.labels["dimension_value"]) for s in day[1:]] == sorted(SCOPES)[:7]
    truncated = {(s.labels.get("slo"), s.labels.get("metric"), s.labels["granularity"])
                 for s in families["telemetry_metrics_scopes_truncated"]}
    assert ("validation", None, "day") in truncated and ("validation", None, "hour") not in truncated
    assert (None, "event_count", "day") in truncated


def test_scrape_is_cheap_on_a_scoped_warehouse(scoped: str) -> None:
    """SPEC: < 50 ms per scrape for the demo catalog with scopes (here 90 days, 12 scopes per day).

    Measured twice: the dashboard process's CPU per scrape (exposition rendering is the bulk; it
    holds on a busy machine too) and wall time over HTTP, asserted when this machine has a core
    free (on a shared, overloaded one wall time measures the neighbours).
    """
    scrape(scoped)  # warm the pool and the column check
    walls, cpus = [], []
    for _ in range(15):
        started, cpu = time.perf_counter(), time.process_time()
        with urllib.request.urlopen(scoped + "/metrics", timeout=30) as response:
            response.read()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    print(f"/metrics on the scoped warehouse: wall median {statistics.median(walls) * 1000:.1f} ms, "
          f"best {min(walls) * 1000:.1f} ms; process CPU best {min(cpus) * 1000:.1f} ms")
    assert min(cpus) < 0.050
    if os.getloadavg()[0] < (os.cpu_count() or 1):
        assert min(walls) < 0.050
