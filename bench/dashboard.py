"""Benchmark: the dashboard API on a year of hourly KPIs computed from 10 million events.

Builds the benchmark data the product's own way: `demo.generate.copy_events` COPYs N synthetic
events (default 10,000,000) and audits over one year, `kpis.sql.replace_window` computes every
catalog metric per hour, day and week, and `slos.sql.replace_window` evaluates the SLO catalog
on them. Then it serves the dashboard on 127.0.0.1 (uvicorn, as `telemetry-pipeline dashboard`
does) and times, over HTTP, 20 requests of each view after 2 warm-up requests:

  kpis 1y hourly       /api/kpis over the whole year at hour granularity, every metric,
                       downsampled in SQL to the default 1,000-point budget (the target:
                       p95 < 200 ms);
  baseline             the same view with max_points=20000, i.e. all 8,760 points per series
                       (what the page would fetch without downsampling);
  slo-status, violations  the same 1-year hourly view.

Prints the data size, p50/p95/max per view and the ratios: p95 to the 200 ms budget, and the
baseline's p95 to the downsampled one's.

    .venv/bin/python bench/dashboard.py [--events 10000000] [--audits 500000] [--database NAME]

The server is TELEMETRY_DATABASE_URL's when set, else the embedded PostgreSQL. Without
--database a scratch database is created and dropped at the end; with --database NAME the data
is kept and reused on the next run when already built (the build takes minutes, the timing
seconds).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from telemetry_pipeline.apps.dashboard.app import APPLICATION_NAME, create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.demo.generate import copy_audits, copy_events
from telemetry_pipeline.core.kpis import sql as kpi_sql
from telemetry_pipeline.core.slos import sql as slo_sql
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.core.warehouse.migrate import migrate

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
BUDGET_MS = 200.0
REQUESTS = 20
WARMUP = 2


def step(label: str, fn):
    began = time.perf_counter()
    out = fn()
    print(f"  {label}: {time.perf_counter() - began:.1f} s", flush=True)
    return out


def build(url: str, events: int, audits: int) -> None:
    """Events and audits for the year, then KPIs and SLO status at every granularity."""
    catalog = load_slos()
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        conn.execute("truncate public.telemetry_events, public.slsa_audit_metrics,"
                     " public.kpi_aggregations, public.slo_status")
        step(f"copy {events:,} events", lambda: copy_events(conn, events, START, END, seed=11))
        step(f"copy {audits:,} audits", lambda: copy_audits(conn, audits, START, END, seed=12))
        conn.commit()
        step("analyze", lambda: conn.execute("analyze public.telemetry_events, public.slsa_audit_metrics"))
        for granularity in ("hour", "day", "week"):
            step(f"KPIs per {granularity}", lambda g=granularity: kpi_sql.replace_window(conn, g, START, END))
            step(f"SLO status per {granularity}",
                 lambda g=granularity: slo_sql.replace_window(conn, catalog, g, START, END))


def data_size(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("public", table))).fetchone()[0]
            for table in ("telemetry_events", "slsa_audit_metrics", "kpi_aggregations", "slo_status")
        } | {
            "hourly_kpi_rows": conn.execute(
                "select count(*) from public.kpi_aggregations where aggregation_period = 'hour'"
            ).fetchone()[0]
        }


def backend_cpu_seconds(db_url: str) -> float:
    """CPU time used so far by the dashboard's PostgreSQL sessions (local server: /proc/<pid>/stat)."""
    with psycopg.connect(db_url) as conn:
        pids = [r[0] for r in conn.execute(
            "select pid from pg_stat_activity where application_name = %s and datname = current_database()",
            (APPLICATION_NAME,))]
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")  # not a local server we may inspect
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def time_requests(url: str, db_url: str) -> tuple[list[float], int, float, float]:
    """Milliseconds of REQUESTS sequential GETs (after WARMUP), the response size, and CPU ms per
    request of this process (server and client) and of the PostgreSQL sessions: unlike the wall
    time, the CPU time does not grow when other processes compete for the cores."""
    size = 0
    for _ in range(WARMUP):
        with urllib.request.urlopen(url) as response:
            size = len(response.read())
    samples = []
    cpu_before, pg_before = time.process_time(), backend_cpu_seconds(db_url)
    for _ in range(REQUESTS):
        began = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            response.read()
            assert response.status == 200
        samples.append((time.perf_counter() - began) * 1000)
    app_cpu = (time.process_time() - cpu_before) * 1000 / REQUESTS
    pg_cpu = (backend_cpu_seconds(db_url) - pg_before) * 1000 / REQUESTS
    return samples, size, app_cpu, pg_cpu


def p95(samples: list[float]) -> float:
    """95th percentile, linear interpolation (numpy's default)."""
    ordered = sorted(samples)
    rank = 0.95 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timed_view(base: str, path: str, db_url: str, label: str) -> float:
    """Time one view (time_requests), print its line, return its p95 in ms."""
    samples, body, app_cpu, pg_cpu = time_requests(base + path, db_url)
    result = p95(samples)
    print(f"{label:40s} p50 {statistics.median(samples):7.1f} ms  p95 {result:7.1f} ms  "
          f"max {max(samples):7.1f} ms  ({body / 1024:,.0f} KiB, {REQUESTS} requests); "
          f"CPU per request: app {app_cpu:.0f} ms, PostgreSQL {pg_cpu:.0f} ms", flush=True)
    return result


def timed_views(url: str, views: dict[str, str]) -> dict[str, float]:
    """Serve the dashboard over `url` on 127.0.0.1 and time each view (label -> path): p95s in ms."""
    print(f"load average before timing: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(other processes' CPU use inflates every figure below)")
    with running(create_app(url)) as base:
        return {label: timed_view(base, path, url, label) for label, path in views.items()}


def prepare(url: str, name: str, built: bool, build: Callable[[], None], size: Callable[[], dict[str, int]]) -> None:
    """Build the data unless `built`, print its size, and bring the tables to a steady state, as
    autovacuum leaves them between writes: statistics current and the visibility map set, so
    the series indexes are read index-only."""
    if not built:
        print(f"building benchmark data in database {name} ({START:%Y-%m-%d} .. {END:%Y-%m-%d}):", flush=True)
        build()
    else:
        print(f"reusing benchmark data in database {name}")
    print("data: " + ", ".join(f"{k} {v:,}" for k, v in size().items()))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze public.kpi_aggregations, public.slo_status")


@contextmanager
def bench_database(keep: str | None, prefix: str) -> Iterator[tuple[str, str]]:
    """(URL, name) of a migrated database on the benchmark server: `keep` (kept for the next run)
    when given, else a scratch one named after `prefix`, dropped at the end."""
    server = scratch.server_url()
    name = keep or f"{prefix}_{secrets.token_hex(3)}"
    url = scratch.create_database(server, name, fresh=False, migrated=False)
    try:
        migrate(url)
        yield url, name
    finally:
        if not keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--audits", type=int, default=500_000)
    parser.add_argument("--database", help="keep the data in this database and reuse it when built")
    args = parser.parse_args()
    with bench_database(args.database, "tp_bench_dashboard") as (url, name):
        size = data_size(url)
        built = size["telemetry_events"] == args.events and size["hourly_kpi_rows"] > 0
        prepare(url, name, built, lambda: build(url, args.events, args.audits), lambda: data_size(url))

        year = f"granularity=hour&from={START:%Y-%m-%dT%H:%M:%SZ}&to={END:%Y-%m-%dT%H:%M:%SZ}"
        views = {
            "kpis 1y hourly (downsampled)": f"/api/kpis?{year}",
            "baseline: kpis 1y hourly, all points": f"/api/kpis?{year}&max_points=20000",
            "slo-status 1y hourly": f"/api/slo-status?{year}",
            "violations 1y hourly": f"/api/violations?{year}",
        }
        results = timed_views(url, views)
        main_p95 = results["kpis 1y hourly (downsampled)"]
        print(f"ratio p95 / {BUDGET_MS:.0f} ms budget: {main_p95 / BUDGET_MS:.2f} "
              f"({'within' if main_p95 < BUDGET_MS else 'OVER'} budget)")
        print(f"ratio baseline p95 / downsampled p95: "
              f"{results['baseline: kpis 1y hourly, all points'] / main_p95:.1f}x")


if __name__ == "__main__":
    main()
