"""GET /metrics over HTTP: exposition parsed back with prometheus_client, scopes, escaping, bounds, speed.

The Prometheus end-to-end comparison is in test_prometheus.py; here the text itself is checked,
on the hand-made rows (seeded.py) and on a larger scoped warehouse: a scratch database with 90
days of global and scoped rows, a catalog with scoped SLOs, a teams file and a stored fast-burn
evaluation.
"""

from __future__ import annotations

import os
import statistics
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from telemetry_pipeline.apps.dashboard import metrics
from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core import settings
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline_tests.dashboard import rows
from telemetry_pipeline_tests.interop import seeded
from telemetry_pipeline_tests.interop.prometheus import (
    by_labels,
    require_binaries,
    running_prometheus,
    wait_for,
)
from telemetry_pipeline_tests.testdata import TEST_SLOS_FILE

#: (dimension, value) of the scoped rows, a demo-sized platform: 4 repositories, 5 workflows, 3 teams
#: of the teams file plus one it no longer has; one repository name needs every escape of the format
REPOSITORIES = ["acme/api", "acme/web", "acme/cli", 'acme/we"ird\\repo\nname']
TEAMS = ["payments", "platform", "unowned"]
SCOPES = ([("repository", r) for r in REPOSITORIES]
          + [("workflow", f"{r}/release") for r in REPOSITORIES] + [("workflow", "acme/api/nightly")]
          + [("team", t) for t in TEAMS])
RETIRED_TEAM = ("team", "retired")
SCOPED_NOW = datetime(2025, 4, 1, 0, 30, tzinfo=UTC)
#: the tests' catalog (testdata/slos.yaml) plus two scoped SLOs
SCOPED_SLOS = """
  - name: validation_by_repo
    description: Validation per repository.
    scope: repository
    slis:
      - {name: availability, metric: validation_availability, comparator: ">=", target: 99.9}
      - {name: error_rate, metric: validation_failure_rate, comparator: "<", target: 0.5}
  - name: audit_by_team
    description: Audits per team.
    scope: team
    slis:
      - {name: availability, metric: audit_availability, comparator: ">=", target: 99.5}
"""
TEAMS_FILE = """
teams:
  - {name: payments, repositories: ["acme/api"]}
  - {name: platform, repositories: ["acme/*"]}
"""


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
    scopes = [*SCOPES, RETIRED_TEAM]
    return [d for d, _ in scopes], [v for _, v in scopes]


def _scoped_warehouse(server: str, name: str) -> str:
    """A scratch warehouse with 90 days of hourly and daily rows, each period global and per scope.

    Every SLO, global or scoped, and every metric gets rows for every scope (hourly ones for the last
    two days; value = hour of the period + 0.5; acme/web violates), so what the endpoint leaves
    out is decided by the catalog, the teams file and TELEMETRY_DIMENSION_GRANULARITIES alone.
    """
    url = scratch.create_database(server, name)
    with psycopg.connect(url) as conn:
        slis = [(s.name, sli.name, sli.metric) for s in metrics.load_slos() for sli in s.slis]
        conn.execute(
            """
            insert into public.slo_status (slo_name, sli, metric_name, aggregation_period, period_start, period_end,
              value, target, comparator, met, sample_size, burn_rate_1h, dimension, dimension_value)
            select k.slo, k.sli, k.metric, g.period, p, p + g.len, extract(hour from p) + 0.5, 99.9, '>=',
                   s.val is distinct from 'acme/web', 50, case when g.period = 'hour' then 1.5 end, s.dim, s.val
            from unnest(%s::text[], %s::text[], %s::text[]) as k (slo, sli, metric)
            cross join (values ('hour', interval '1 hour'), ('day', interval '1 day')) as g (period, len)
            cross join lateral generate_series(timestamptz '2025-01-01', timestamptz '2025-03-31 23:00', g.len) p
            cross join lateral (select null::text, null::text
                                union all select * from unnest(%s::text[], %s::text[])
                                where g.period = 'day' or p >= timestamptz '2025-03-30') s (dim, val)
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
                                union all select * from unnest(%s::text[], %s::text[])
                                where g.period = 'day' or p >= timestamptz '2025-03-30') s (dim, val)
            """,
            ([m.name for m in metrics.METRICS], *_scope_arrays()),
        )
        # the fast-burn sensor's last evaluation: validation's a minute old, audit_observer's stale
        # (10 min), and a key of an SLO the catalog no longer has
        conn.execute(
            """
            insert into public.slo_fast_burn_latest (slo_name, sli, burn_window, evaluated_at, sample_rows,
              bad_rows, burn_rate)
            values ('validation', 'availability', '5m', %(fresh)s, 40, 1, 25),
                   ('validation', 'availability', '30m', %(fresh)s, 0, 0, null),
                   ('validation', 'availability', '1h', %(fresh)s, 400, 1, 2.5),
                   ('validation', 'error_rate', '1h', %(fresh)s, 400, 2, 1),
                   ('audit_observer', 'availability', '5m', %(stale)s, 10, 10, 200),
                   ('retired_slo', 'availability', '5m', %(fresh)s, 10, 10, 1000)
            """,
            {"fresh": SCOPED_NOW - timedelta(minutes=1), "stale": SCOPED_NOW - timedelta(minutes=10)},
        )
        conn.execute("analyze")
    return url


@pytest.fixture(scope="module")
def scoped(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"tp_test_scoped_{os.getpid()}"
    folder = tmp_path_factory.mktemp("scoped")
    (folder / "slos.yaml").write_text(TEST_SLOS_FILE.read_text() + SCOPED_SLOS)
    (folder / "teams.yaml").write_text(TEAMS_FILE)
    with pytest.MonkeyPatch.context() as env:
        env.setenv(settings.SLOS_FILE_ENV, str(folder / "slos.yaml"))
        env.setenv(settings.TEAMS_FILE_ENV, str(folder / "teams.yaml"))
        env.delenv(settings.DIMENSION_GRANULARITIES_ENV, raising=False)  # day,week
        url = _scoped_warehouse(pg_server_url, name)
        try:
            with running(create_app(url, clock=lambda: SCOPED_NOW)) as base:
                yield base
        finally:
            scratch.drop_database(pg_server_url, name)


def _keyed(samples: list, *labels: str) -> dict[tuple, float]:
    return {tuple(s.labels.get(label) for label in labels): s.value for s in samples}


def test_scoped_series_follow_the_catalog_and_the_teams_file(scoped: str) -> None:
    _text, families = scrape(scoped)
    values = _keyed(families["telemetry_slo_sli_value"], "slo", "sli", "granularity", "dimension", "dimension_value")
    # global SLOs: their global rows only (9 SLIs x hour, day), the latest hour 23:00 and day 2025-03-31
    global_slos = {k: v for k, v in values.items() if k[0] in ("provenance_generation", "validation", "audit_observer")}
    assert set(global_slos) == {(slo, sli, g, None, None) for slo in ("provenance_generation", "validation",
                                                                      "audit_observer")
                                for sli in ("availability", "latency_p95", "error_rate") for g in ("hour", "day")}
    assert {v for k, v in global_slos.items() if k[2] == "hour"} == {23.5}
    # scoped SLOs: rows of their own dimension, at the dimension granularity day only (no hour rows),
    # every repository escaped on the wire and read back exactly; the team the file lost is gone
    scoped_keys = {k for k in values if k[0] in ("validation_by_repo", "audit_by_team")}
    assert scoped_keys == (
        {("validation_by_repo", sli, "day", "repository", r) for sli in ("availability", "error_rate")
         for r in REPOSITORIES}
        | {("audit_by_team", "availability", "day", "team", t) for t in TEAMS})
    assert {values[k] for k in scoped_keys} == {0.5}
    met = _keyed(families["telemetry_slo_met"], "slo", "sli", "dimension_value")
    assert met[("validation_by_repo", "availability", "acme/web")] == 0.0
    assert met[("validation_by_repo", "availability", "acme/api")] == 1.0
    # KPIs: global at hour and day, per scope at day only, the retired team left out
    kpis = _keyed(families["telemetry_kpi_value"], "metric", "granularity", "dimension", "dimension_value")
    assert set(kpis) == ({(m.name, g, None, None) for m in metrics.METRICS for g in ("hour", "day")}
                         | {(m.name, "day", d, v) for m in metrics.METRICS for d, v in SCOPES})
    assert "telemetry_metrics_scopes_truncated" not in families or not families["telemetry_metrics_scopes_truncated"]


def test_rolling_burn_rates_come_from_the_fast_burn_evaluation(scoped: str) -> None:
    _text, families = scrape(scoped)
    burn = _keyed(families["telemetry_slo_burn_rate"], "slo", "sli", "granularity", "window", "dimension")
    rolling = {k: v for k, v in burn.items() if k[2] == "rolling"}
    # fresh validation rows (a window without rows has no rate); audit_observer's are stale, the
    # retired SLO is not in the catalog
    assert rolling == {("validation", "availability", "rolling", "5m", None): 25.0,
                       ("validation", "availability", "rolling", "1h", None): 2.5,
                       ("validation", "error_rate", "rolling", "1h", None): 1.0}
    # the closed hour's trailing windows (slo_status) stay beside them, of global rows only
    assert burn[("validation", "availability", "hour", "1h", None)] == 1.5
    assert not any(k[4] for k in burn)
    evaluated = _keyed(families["telemetry_slo_fast_burn_evaluated_timestamp_seconds"], "slo", "sli")
    assert evaluated == {("audit_observer", "availability"): (SCOPED_NOW - timedelta(minutes=10)).timestamp(),
                         ("validation", "availability"): (SCOPED_NOW - timedelta(minutes=1)).timestamp(),
                         ("validation", "error_rate"): (SCOPED_NOW - timedelta(minutes=1)).timestamp()}


def test_scopes_per_series_are_capped_and_the_cut_is_reported(scoped: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "MAX_SCOPES_PER_SERIES", 2)
    _text, families = scrape(scoped)
    repos = [s for s in families["telemetry_slo_sli_value"]
             if s.labels["slo"] == "validation_by_repo" and s.labels["sli"] == "availability"]
    # violations first (acme/web), then by value
    assert [s.labels["dimension_value"] for s in repos] == ["acme/web", "acme/api"]
    truncated = _keyed(families["telemetry_metrics_scopes_truncated"], "slo", "sli", "metric", "granularity",
                       "dimension")
    assert truncated[("validation_by_repo", "availability", None, "day", "repository")] == 1.0
    assert truncated[("audit_by_team", "availability", None, "day", "team")] == 1.0
    # the cut is per dimension: every dimension of a metric keeps its first 2 values
    events = [s for s in families["telemetry_kpi_value"] if s.labels["metric"] == "event_count"
              and s.labels["granularity"] == "day"]
    assert {(s.labels.get("dimension"), s.labels.get("dimension_value")) for s in events} == {
        (None, None), ("repository", "acme/api"), ("repository", "acme/cli"),
        ("team", "payments"), ("team", "platform"),
        ("workflow", "acme/api/nightly"), ("workflow", "acme/api/release")}
    assert {k[4] for k in truncated if k[2] == "event_count"} == {"repository", "team", "workflow"}
    assert not any(k[0] in ("provenance_generation", "validation", "audit_observer") for k in truncated)


def test_scrape_is_cheap_on_a_scoped_warehouse(scoped: str) -> None:
    """SPEC: < 50 ms per scrape for the demo catalog with scopes (90 days, 12 scopes per period, 2 scoped SLOs).

    Measured twice: the dashboard process's CPU per scrape (exposition rendering is the bulk; it
    holds on a busy machine too) and wall time over HTTP, asserted when this machine has a core
    free (on a shared, overloaded one wall time measures the neighbours).
    """
    _text, families = scrape(scoped)  # warms the pool
    series = sum(len(samples) for samples in families.values())
    walls, cpus = [], []
    for _ in range(15):
        started, cpu = time.perf_counter(), time.process_time()
        with urllib.request.urlopen(scoped + "/metrics", timeout=30) as response:
            response.read()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    print(f"/metrics on the scoped warehouse ({series} series): wall median {statistics.median(walls) * 1000:.1f} ms, "
          f"best {min(walls) * 1000:.1f} ms; process CPU best {min(cpus) * 1000:.1f} ms")
    assert min(cpus) < 0.050
    if os.getloadavg()[0] < (os.cpu_count() or 1):
        assert min(walls) < 0.050


def test_a_real_prometheus_holds_the_scoped_rows(scoped: str, tmp_path: Path) -> None:
    """Prometheus (Debian's package) scraping the scoped warehouse stores every scope label exactly,
    the hostile repository name included, with the values worked out above (0.5; acme/web violates)."""
    require_binaries()
    with running_prometheus(tmp_path, scoped.removeprefix("http://")) as prometheus:
        wait_for(lambda: prometheus.query("telemetry_alerts_pending"), timeout=60, what="a complete scrape")
        labels = ("slo", "sli", "dimension", "dimension_value")
        values = by_labels(prometheus.query('telemetry_slo_sli_value{dimension!=""}'), *labels)
        assert values == (
            {("validation_by_repo", sli, "repository", r): 0.5 for sli in ("availability", "error_rate")
             for r in REPOSITORIES}
            | {("audit_by_team", "availability", "team", t): 0.5 for t in TEAMS})
        violated = by_labels(prometheus.query('telemetry_slo_met{dimension!=""} == 0'), *labels)
        assert set(violated) == {("validation_by_repo", sli, "repository", "acme/web")
                                 for sli in ("availability", "error_rate")}
        kpis = by_labels(prometheus.query('telemetry_kpi_value{metric="event_count"}'), "granularity", "dimension",
                         "dimension_value")
        assert kpis == {("hour", None, None): 7.0, ("day", None, None): 7.0} | {
            ("day", d, v): 7.0 for d, v in SCOPES}
