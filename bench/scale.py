"""Benchmark: the partitioned warehouse at scale (issue 12, item 6). Not run in CI.

    .venv/bin/python bench/scale.py [--events 2000000] [--ingest-events 500000] [--backfill-rounds 2]
                                    [--keep] [--db-prefix P]

On scratch databases of the warehouse server (embedded PostgreSQL, or TELEMETRY_DATABASE_URL's),
in one run, in this order (each figure printed as soon as it is measured, each step announced
with the time and load average, so a run stopped early still reports what it reached):
  ingest     `telemetry-pipeline ingest` of M NDJSON events (with event_ids) into the partitioned
             telemetry_events vs plain COPY of the same rows into an unpartitioned table shaped
             like the previous release's (same columns, generated columns, indexes and unique
             event_id index); best of 2 rounds each; target ratio >= 0.8;
  seed       N events (and N/20 audits) over 2025 with demo.generate (COPY, monthly partitions
             created first), into the "big" database; 1M into the "small" one;
  disk       bytes per million events: telemetry_events partitions with their indexes, plus the
             event_id key table (TOAST included);
  tick       one hourly tick (KPI hour window + SLO hour window replaced) at N vs at 1M events,
             5 hours, each ticked cold (first read) and then 4 times warm (the hour's pages
             cached, as for the hour that just ended), the two databases taking turns tick by
             tick; medians; target ratio <= 1.5 (warm); then the same ticks at
             N vs a "dense" database whose events cover only the ticks' 17 days at the big
             one's hourly rate (same rows per hour, a small table): what grows with the table
             alone, apart from the hour's own rows (N/8760 of them, which any tick must read);
  brin       an hour-window aggregate on one month (a copy of the July partition) with the btree
             index on the timestamp vs a BRIN index, median of 9 hours, and both index sizes;
  backfill   a year of KPIs at hour, day and week through kpis.sql.replace_window (what the
             single-run backfill executes) vs the hand-written INSERT ... SELECT ... GROUP BY over
             the same typed columns (bench/backfill.py's floor) into a scratch table shaped like
             kpi_aggregations with its indexes (the write a hand-written backfill makes; target
             ratio <= 1.5), and into an unindexed temp table (the computation alone, printed
             too); each twice, alternating, the faster counts;
  dashboard  /api/kpis, a year at hour granularity, p95 of 20 requests; target < 200 ms;
  retention  plan + detach/drop of the oldest month (January 2025) with every KPI and SLO period
             materialised: seconds, not minutes;
  upgrade    `db migrate` of an install of the previous release holding --upgrade-events events
             (default 1M) in its unpartitioned table.
Disk: the big database needs about (disk per million events) x N / 1M plus a third for the KPI
rows, WAL and the ingest inputs (docs/benchmarks.md gives the figure: ~40 GB free for 100M). The machine is shared and
noisy: compare figures within one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core import settings
from telemetry_pipeline.core.demo.generate import copy_audits, copy_events
from telemetry_pipeline.core.kpis.sql import replace_window as replace_kpis
from telemetry_pipeline.core.slos import budgets
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.slos.sql import replace_window as replace_slos
from telemetry_pipeline.core.warehouse import retention, scratch
from telemetry_pipeline.core.warehouse.migrate import migrate
from telemetry_pipeline.core.warehouse.partitioning import (
    TABLES,
    add_months,
    ensure_months,
    month_start,
    partitions,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
SMALL_EVENTS = 1_000_000
TICK_HOURS = [datetime(2025, 7, 1, 10, tzinfo=UTC) + timedelta(days=3 * i, hours=i) for i in range(5)]
PLAIN = "bench_plain_events"


def _bench_module(name: str):
    """A sibling benchmark script as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


ingest_bench = _bench_module("ingest")
backfill_bench = _bench_module("backfill")
dashboard_bench = _bench_module("dashboard")


def timed(fn) -> tuple[float, object]:
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def connect(url: str, **kw) -> psycopg.Connection:
    return psycopg.connect(url, options="-c TimeZone=UTC", **kw)


def ingest_tables(url: str) -> None:
    """The 2025 months of the partitioned tables, and the plain baseline table (PLAIN) shaped like
    the previous release's telemetry_events."""
    with connect(url, autocommit=True) as conn:
        for table in TABLES:
            ensure_months(conn, table, START, END)
        conn.execute(sql.SQL(
            "create table if not exists {} (like public.telemetry_events including defaults including generated,"
            " primary key (id))").format(sql.Identifier(PLAIN)))
        conn.execute(sql.SQL("create index if not exists bench_plain_type on {} (event_type)").format(
            sql.Identifier(PLAIN)))
        conn.execute(sql.SQL("create index if not exists bench_plain_ts on {} (event_timestamp desc)").format(
            sql.Identifier(PLAIN)))
        conn.execute(sql.SQL("create unique index if not exists bench_plain_event_id on {} (event_id)"
                             " where event_id is not null").format(sql.Identifier(PLAIN)))


def bench_ingest(url: str, n: int) -> dict[str, float]:
    """Rows/s of plain COPY into an old-style table, of COPY into the partitioned one, and of
    `telemetry-pipeline ingest` into the partitioned one."""
    ingest_tables(url)
    columns = sql.SQL(", ").join(map(sql.Identifier, ingest_bench.COLUMNS))
    targets = {
        "plain": sql.SQL("copy {} ({}) from stdin (format csv)").format(sql.Identifier(PLAIN), columns),
        "partitioned": sql.SQL("copy public.telemetry_events ({}) from stdin (format csv)").format(columns),
    }
    rates: dict[str, list[float]] = {"plain": [], "partitioned": [], "ingest": []}
    with tempfile.TemporaryDirectory(prefix="tp-scale-") as folder:
        ndjson, csv_path = ingest_bench.write_inputs(Path(folder), n)
        for _ in range(2):
            for kind, statement in targets.items():
                with connect(url, autocommit=True) as conn:
                    conn.execute(sql.SQL("truncate {}, public.telemetry_events").format(sql.Identifier(PLAIN)))
                    conn.execute("checkpoint")
                    began = time.perf_counter()
                    with conn.cursor() as cursor, cursor.copy(statement) as copy, csv_path.open("rb") as f:
                        while block := f.read(1 << 20):
                            copy.write(block)
                    rates[kind].append(n / (time.perf_counter() - began))
            ingest_bench.truncate(url)
            wall, summary, _ = ingest_bench.run_ingest(url, ndjson)
            assert summary["accepted"] == n, summary
            rates["ingest"].append(n / wall)
        ingest_bench.truncate(url)
    return {kind: max(values) for kind, values in rates.items()}


def seed(url: str, n_events: int, label: str, start: datetime = START, end: datetime = END) -> float:
    """N events + N/20 audits over [start, end) (2025) into monthly partitions; returns seconds
    (printed as soon as the rows are committed, before the VACUUM ANALYZE that follows, which at
    100M takes minutes)."""
    with connect(url) as conn:
        for table in TABLES:
            ensure_months(conn, table, START, END)
        conn.commit()
        conn.execute("truncate public.telemetry_events, public.slsa_audit_metrics,"
                     " public.kpi_aggregations, public.slo_status")
        # The demo rows carry no event_id, so the key trigger (sql/0061) has nothing to record; but
        # as a statement-level trigger it holds the statement's rows in a transition table, and the
        # seed is one COPY: at 100M rows that spilled ~0.2 GB per million rows into temp files on top
        # of the 292 MB per million of data, and the run ran out of disk. Off for the seed only (in
        # its transaction); ingest's COPYs are per chunk and keep it.
        conn.execute("alter table public.telemetry_events disable trigger telemetry_event_ids_insert")
        began = time.perf_counter()
        copy_events(conn, n_events, start, end, seed=42)
        copy_audits(conn, max(n_events // 20, 1), start, end, seed=43)
        conn.execute("alter table public.telemetry_events enable trigger telemetry_event_ids_insert")
        conn.commit()
        took = time.perf_counter() - began
    print(f"seed {label}: {n_events:,} events + {n_events // 20:,} audits in {took:.1f} s "
          f"({n_events * 1.05 / took:,.0f} rows/s)", flush=True)
    step(f"vacuum analyze {label}")
    with connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze public.telemetry_events, public.slsa_audit_metrics")
    return took


#: The dense database's span: the tick hours with the 3-day burn window before the first one.
DENSE_START, DENSE_END = datetime(2025, 6, 27, tzinfo=UTC), datetime(2025, 7, 14, tzinfo=UTC)


def seed_dense(url: str, n_events: int) -> int:
    """`seed` over DENSE_START..DENSE_END at the hourly rate of N events a year; the number seeded."""
    n = round(n_events / 8760 * ((DENSE_END - DENSE_START) / timedelta(hours=1)))
    seed(url, n, "dense", DENSE_START, DENSE_END)
    return n


def disk_per_million(url: str, n_events: int) -> float:
    """MB of telemetry_events (all partitions, indexes, TOAST) and its key table per 1M events."""
    with connect(url) as conn:
        total = conn.execute(
            "select coalesce(sum(pg_total_relation_size(inhrelid)), 0) from pg_inherits"
            " where inhparent = 'public.telemetry_events'::regclass"
        ).fetchone()[0] + conn.execute(
            "select pg_total_relation_size('public.telemetry_event_ids')"
        ).fetchone()[0]
    return float(total) / 1e6 / (n_events / 1e6)


def backfill(url: str, rounds: int = 2) -> dict[str, float]:
    """Seconds: the year's KPIs through the product vs the two floors; then the year's SLO rows."""
    floors, indexed_floors, products = [], [], []
    for _ in range(rounds):  # alternate; the faster of each counts
        floors.append(sum(backfill_bench.floor(url).values()))
        indexed_floors.append(sum(backfill_bench.floor(url, indexed=True).values()))
        product = 0.0
        with connect(url, autocommit=True) as conn:
            for granularity in backfill_bench.ASSETS:
                _, _, start, end = backfill_bench.year_window(granularity)
                product += timed(lambda g=granularity, s=start, e=end: replace_kpis(conn, g, s, e))[0]
        products.append(product)
    with connect(url, autocommit=True) as conn:
        catalog = load_slos()
        slos = 0.0
        for granularity in backfill_bench.ASSETS:
            _, _, start, end = backfill_bench.year_window(granularity)
            slos += timed(lambda g=granularity, s=start, e=end: replace_slos(conn, catalog, g, s, e))[0]
        conn.execute("vacuum analyze public.kpi_aggregations, public.slo_status")
    return {"product": min(products), "floor": min(floors), "indexed_floor": min(indexed_floors), "slos": slos}


#: Warm ticks per hour and database: the hour that just ended is ticked once, but one warm tick
#: of a few tens of ms on a shared machine is mostly noise.
WARM_ROUNDS = 4


def hourly_ticks(urls: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per database: median milliseconds of one hourly tick (the hour's KPIs, then its SLO rows,
    replaced). "cold" is the first read of an old hour (as a late-data re-run reads it), "warm"
    the same tick again with the hour's pages cached, as they are for the hour that just ended
    (its events were written during that hour), WARM_ROUNDS times. EXPLAIN (ANALYZE, BUFFERS)
    shows the only part that grows with N is reading and aggregating the hour's own rows
    (docs/benchmarks.md), so cold and warm differ by how those pages are read.

    The databases take turns tick by tick, in an order that alternates, so that the machine's
    drift during the step falls on both sides of the ratio alike. Runs before the year backfill
    (the longest step, so a partial run at 100M still measures the tick): first the hourly KPIs
    the ticks' SLO burn windows read (budgets.LOOKBACK before the first tick hour, through the
    last) are materialised, as a running deployment has them, all but the tick hours
    themselves, so that the cold tick is the first read of its hour's rows.
    """
    catalog = load_slos()
    samples: dict[str, dict[str, list[float]]] = {k: {"cold": [], "warm": []} for k in urls}
    conns = {k: connect(url, autocommit=True) for k, url in urls.items()}
    try:
        for conn in conns.values():
            gap_start = TICK_HOURS[0] - budgets.LOOKBACK["hour"]
            for hour in TICK_HOURS:
                if gap_start < hour:
                    replace_kpis(conn, "hour", gap_start, hour)
                gap_start = hour + timedelta(hours=1)
        turn = 0
        for hour in TICK_HOURS:
            for kind in ["cold"] + ["warm"] * WARM_ROUNDS:
                names = list(conns) if turn % 2 == 0 else list(reversed(list(conns)))
                turn += 1
                for name in names:
                    began = time.perf_counter()
                    replace_kpis(conns[name], "hour", hour, hour + timedelta(hours=1))
                    replace_slos(conns[name], catalog, "hour", hour, hour + timedelta(hours=1))
                    samples[name][kind].append((time.perf_counter() - began) * 1000)
    finally:
        for conn in conns.values():
            conn.close()
    return {name: {kind: statistics.median(v) for kind, v in kinds.items()} for name, kinds in samples.items()}


def brin_vs_btree(url: str) -> dict[str, float]:
    """Hour-window aggregate on a copy of one month: btree vs BRIN on the timestamp."""
    month = datetime(2025, 7, 1, tzinfo=UTC)
    hours = [month + timedelta(days=3 * i, hours=i) for i in range(9)]
    query = ("select count(*), avg(m_duration_ms) from bench_month"
             " where event_timestamp >= %s and event_timestamp < %s")
    out: dict[str, float] = {}
    with connect(url, autocommit=True) as conn:
        conn.execute("drop table if exists bench_month")
        conn.execute("create table bench_month as select * from public.telemetry_events_p202507")
        conn.execute("set max_parallel_workers_per_gather = 0")
        for kind, ddl in (("btree", "create index bench_month_ts on bench_month (event_timestamp desc)"),
                          ("brin", "create index bench_month_ts on bench_month using brin (event_timestamp)")):
            conn.execute("drop index if exists bench_month_ts")
            conn.execute(ddl)
            conn.execute("vacuum analyze bench_month")
            conn.execute(query, (hours[0], hours[0] + timedelta(hours=1)))  # warm
            samples = []
            for hour in hours:
                began = time.perf_counter()
                conn.execute(query, (hour, hour + timedelta(hours=1))).fetchone()
                samples.append((time.perf_counter() - began) * 1000)
            out[f"{kind}_ms"] = statistics.median(samples)
            out[f"{kind}_index_mb"] = conn.execute("select pg_relation_size('bench_month_ts')").fetchone()[0] / 1e6
        out["month_rows"] = conn.execute("select count(*) from bench_month").fetchone()[0]
        conn.execute("drop table bench_month")
    return out


def dashboard_p95(url: str) -> float:
    year = f"granularity=hour&from={START:%Y-%m-%dT%H:%M:%SZ}&to={END:%Y-%m-%dT%H:%M:%SZ}"
    with running(create_app(url)) as base:
        samples, _, _, _ = dashboard_bench.time_requests(f"{base}/api/kpis?{year}", url)
    return dashboard_bench.p95(samples)


def retention_month(url: str) -> dict[str, float]:
    """Seconds to plan retention and to drop January 2025 (both tables)."""
    now = datetime.now(UTC)
    months = 0
    while add_months(month_start(now), -months) > add_months(START, 1):
        months += 1
    with connect(url, autocommit=True) as conn:
        plan_s, decisions = timed(lambda: retention.plan(conn, now, months))
        january = [d for d in decisions if d.partition.month == START]
        apply_s, dropped = timed(lambda: retention.apply(conn, january))
        left = {p.name for t in TABLES for p in partitions(conn, t)}
    assert len(dropped) == 2 and "telemetry_events_p202501" not in left, [d.render() for d in decisions]
    return {"plan": plan_s, "apply": apply_s, "rows": sum(d.rows for d in dropped)}


def upgrade(server: str, n_events: int, prefix: str) -> dict[str, float]:
    """Seconds for `db migrate` to convert an unpartitioned install holding N events over 2025."""
    name = f"{prefix}_upgrade_{os.getpid()}"
    url = scratch.create_database(server, name, migrated=False)
    try:
        with tempfile.TemporaryDirectory(prefix="tp-scale-sql-") as folder:
            for path in sorted(settings.SQL_DIR.iterdir()):
                if path.suffix in (".sql", ".py") and path.name[:4] < "0060":
                    shutil.copy(path, Path(folder) / path.name)
            migrate(url, Path(folder))
        with connect(url) as conn:
            copy_events(conn, n_events, START, END, seed=42)
            conn.commit()
        took, _ = timed(lambda: migrate(url))
        with connect(url) as conn:
            rows = conn.execute("select count(*) from public.telemetry_events").fetchone()[0]
            months = len([p for p in partitions(conn, "telemetry_events") if p.month])
        assert rows == n_events, rows
        return {"seconds": took, "months": months}
    finally:
        scratch.drop_database(server, name)


def step(name: str) -> None:
    """A partial run (stopped at a deadline) still says which step it reached, and the load."""
    print(f"-- {datetime.now(UTC):%H:%M:%S} UTC {name} (load {os.getloadavg()[0]:.1f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--ingest-events", type=int, default=500_000)
    parser.add_argument("--upgrade-events", type=int, default=1_000_000)
    parser.add_argument("--backfill-rounds", type=int, default=2,
                        help="year backfills per contender, alternating, the fastest counting (1 at 100M: each"
                             " is minutes)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--db-prefix", default="tp_bench_scale",
                        help="scratch database names start with this (then _small/_big/_upgrade_<pid>)")
    args = parser.parse_args()
    server = scratch.server_url()
    names = {k: f"{args.db_prefix}_{k}_{os.getpid()}" for k in ("small", "big", "dense")}
    urls = {k: scratch.create_database(server, v) for k, v in names.items()}
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    try:
        step("ingest")
        rates = bench_ingest(urls["small"], args.ingest_events)
        print(f"ingest {args.ingest_events:,} events: plain COPY into an unpartitioned table {rates['plain']:,.0f} "
              f"rows/s; COPY into the partitioned telemetry_events (ingest's fast path, key trigger included) "
              f"{rates['partitioned']:,.0f} rows/s, ratio {rates['partitioned'] / rates['plain']:.2f} "
              f"(target >= 0.8); `telemetry-pipeline ingest` (validation included) {rates['ingest']:,.0f} rows/s, "
              f"ratio {rates['ingest'] / rates['plain']:.2f}", flush=True)
        for key, n in (("small", SMALL_EVENTS), ("big", args.events)):
            step(f"seed {key}")
            seed(urls[key], n, key)
            print(f"disk {key}: {disk_per_million(urls[key], n):.0f} MB per million events", flush=True)
        step("tick")
        ticks = hourly_ticks({k: urls[k] for k in ("small", "big")})
        for kind, what in (("warm", "the hour that just ended, its pages cached"),
                           ("cold", "an old hour read the first time")):
            small, big = ticks["small"][kind], ticks["big"][kind]
            print(f"hourly tick, {kind} ({what}): {small:.0f} ms at 1M, {big:.0f} ms at {args.events:,}, "
                  f"ratio {big / small:.2f} (target <= 1.5)", flush=True)
        step("tick at the same hourly rate")
        dense_events = seed_dense(urls["dense"], args.events)
        same_rate = hourly_ticks({k: urls[k] for k in ("dense", "big")})
        dense, again = same_rate["dense"], same_rate["big"]
        # warm only: the big database's tick hours were read by the step before
        print(f"hourly tick, warm, the same rows per hour: {dense['warm']:.0f} ms with {dense_events:,} events "
              f"(17 days), {again['warm']:.0f} ms at {args.events:,}, ratio {again['warm'] / dense['warm']:.2f}",
              flush=True)
        brin = brin_vs_btree(urls["big"])
        print(f"hour window on one month ({brin['month_rows']:,} rows): btree {brin['btree_ms']:.1f} ms "
              f"(index {brin['btree_index_mb']:.1f} MB), BRIN {brin['brin_ms']:.1f} ms "
              f"(index {brin['brin_index_mb']:.2f} MB)", flush=True)
        step("backfill")
        results = {k: backfill(urls[k], args.backfill_rounds) for k in ("small", "big")}
        big = results["big"]
        print(f"year backfill at {args.events:,}: product {big['product']:.1f} s; hand-written SQL into a table "
              f"shaped like kpi_aggregations with its indexes {big['indexed_floor']:.1f} s, ratio "
              f"{big['product'] / big['indexed_floor']:.2f} (target <= 1.5); hand-written SQL into an unindexed "
              f"temp table (the computation alone) {big['floor']:.1f} s, ratio {big['product'] / big['floor']:.2f}; "
              f"SLO year {big['slos']:.1f} s", flush=True)
        step("dashboard")
        p95 = dashboard_p95(urls["big"])
        print(f"dashboard /api/kpis 1y hourly p95: {p95:.0f} ms (target < 200 ms)", flush=True)
        step("retention")
        dropped = retention_month(urls["big"])
        print(f"retention: plan {dropped['plan']:.1f} s, drop January ({dropped['rows']:,} rows, both tables) "
              f"{dropped['apply']:.1f} s", flush=True)
        step("upgrade")
        converted = upgrade(server, args.upgrade_events, args.db_prefix)
        print(f"upgrade of an unpartitioned install: {args.upgrade_events:,} events into {converted['months']} "
              f"months in {converted['seconds']:.1f} s", flush=True)
    finally:
        if not args.keep:
            for name in names.values():
                scratch.drop_database(server, name)


if __name__ == "__main__":
    sys.exit(main())
