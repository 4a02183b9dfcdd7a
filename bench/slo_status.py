"""Benchmark: a year of slo_status from a year of KPI rows, as one window vs one period at a time.

Fills a scratch database with every catalog metric for every hour and day of a year (all ratio
SLIs slightly burning so budgets and burn windows have work), then times
  1. replace_window over the whole year (hour, then day): what a single-run backfill does in SQL;
  2. the baseline: the same evaluation one period per statement (a sample, extrapolated);
  3. the hourly asset through Dagster as one single-run backfill of 8,760 partitions, on a
     PostgreSQL-backed instance as the product runs (per-partition metadata and checks),
     unless --no-dagster.
Prints each figure and the ratio of the baseline to the set-based run.

    .venv/bin/python bench/slo_status.py [--days 365] [--no-dagster]

The server is TELEMETRY_DATABASE_URL's when set, else the embedded PostgreSQL; a scratch
database is created there and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import time
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from telemetry_pipeline.core.kpis.catalog import METRICS
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.slos.sql import replace_window
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.core.warehouse.migrate import migrate
from telemetry_pipeline.defs.resources import WarehouseResource

START = datetime(2025, 1, 1, tzinfo=UTC)
SAMPLE_PERIODS = 240


def fill(url: str, days: int) -> int:
    """Every metric for every hour and day: rates near their targets, durations arbitrary."""
    with psycopg.connect(url) as conn:
        for granularity, step, count in (("hour", "1 hour", days * 24), ("day", "1 day", days)):
            conn.execute(
                """
                insert into public.kpi_aggregations
                  (metric_name, metric_value, aggregation_period, period_start, period_end, metadata)
                select m.name,
                       case when m.name like '%%availability' then 99.95 - (i %% 7) * 0.02
                            when m.name like '%%rate' then (i %% 5) * 0.3
                            else 1000 + (i %% 97) * 1000 end,
                       %s, %s + i * %s::interval, %s + (i + 1) * %s::interval,
                       jsonb_build_object('sample_size', 100 + i %% 50, 'unit', 'x')
                from generate_series(0, %s - 1) as i, unnest(%s::text[]) as m(name)
                """,
                (granularity, START, step, START, step, count, [m.name for m in METRICS]),
            )
        conn.execute("analyze public.kpi_aggregations")
        return conn.execute("select count(*) from public.kpi_aggregations").fetchone()[0]


def timed(fn) -> tuple[float, object]:
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--no-dagster", action="store_true")
    args = parser.parse_args()
    server = scratch.server_url()
    name = f"tp_bench_slo_{secrets.token_hex(3)}"
    url = scratch.create_database(server, name, migrated=False)
    catalog = load_slos()
    end = START + timedelta(days=args.days)
    try:
        migrate(url)
        seconds, rows = timed(lambda: fill(url, args.days))
        print(f"kpi rows: {rows:,} ({args.days} days, hour + day) filled in {seconds:.1f} s")
        with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
            for granularity, step in (("hour", timedelta(hours=1)), ("day", timedelta(days=1))):
                periods = int((end - START) / step)
                whole, result = timed(lambda g=granularity: replace_window(conn, catalog, g, START, end))
                print(f"{granularity}: one window of {periods:,} periods -> {result.inserted:,} slo_status rows "
                      f"in {whole:.2f} s")
                sample = min(SAMPLE_PERIODS, periods)
                began = time.perf_counter()
                for i in range(periods - sample, periods):
                    replace_window(conn, catalog, granularity, START + i * step, START + (i + 1) * step)
                per_period = (time.perf_counter() - began) / sample
                baseline = per_period * periods
                print(f"{granularity}: baseline one period per statement: {per_period * 1000:.1f} ms/period, "
                      f"{baseline:.1f} s extrapolated to {periods:,}; ratio baseline/set-based = "
                      f"{baseline / whole:.1f}x")
        if not args.no_dagster:
            storage = scratch.create_database(server, f"{name}_dagster", migrated=False)
            dagster_run(url, scratch.dagster_storage_url(storage), args.days)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for db in (name, f"{name}_dagster"):
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))


def dagster_run(url: str, storage_url: str, days: int) -> None:
    """The hourly asset as one single-run backfill over every hour (metadata and checks included)."""
    from dagster import instance_for_test, materialize
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from telemetry_pipeline.core.granularity import partition_key_for
    from telemetry_pipeline.defs.dagster_tuning import apply_defaults
    from telemetry_pipeline.defs.slos.assets import build_slo_asset

    apply_defaults()  # the same Dagster switches the code location sets
    asset = build_slo_asset("hour", load_slos())
    last = START + timedelta(days=days) - timedelta(hours=1)
    tags = {ASSET_PARTITION_RANGE_START_TAG: partition_key_for(START, "hour"),
            ASSET_PARTITION_RANGE_END_TAG: partition_key_for(last, "hour")}
    overrides = {"storage": {"postgres": {"postgres_url": storage_url}}}
    with instance_for_test(overrides=overrides) as instance:
        seconds, result = timed(lambda: materialize(
            [asset], resources={"warehouse": WarehouseResource(database_url=url)}, instance=instance, tags=tags,
        ))
        assert result.success
        stats = instance.get_run_stats(result.run_id)
    in_run = stats.end_time - stats.start_time  # RUN_START .. RUN_SUCCESS
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"dagster: slo_status_hourly single run over {days * 24:,} partitions in {seconds:.1f} s: "
          f"{seconds - in_run:.1f} s creating the run (one planned event per partition), {in_run:.1f} s "
          f"executing (PostgreSQL instance storage, "
          f"DAGSTER_EVENT_BATCH_SIZE={os.environ['DAGSTER_EVENT_BATCH_SIZE']}); "
          f"peak RSS of this process {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
