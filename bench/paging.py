"""Benchmark: the cost of one fast-burn evaluation, and time to page in real time.

    .venv/bin/python bench/paging.py [--events 10000000] [--runs 5]
    .venv/bin/python bench/paging.py --live [--rate 2] [--healthy-minutes 5] [--outage 240]
    .venv/bin/python bench/paging.py --live --healthy-minutes 60 --outage 0     # false pages

--live starts the real stack on 127.0.0.1 (bench/paging_live.py): scratch warehouse and Dagster
instance databases, the collector, `dagster-daemon run` on the project's workspace.yaml (its
default-on sensors and schedules, slo_fast_burn_sensor every 30 s) and the loopback Slack
stand-in; posts steady traffic (--rate events/s, current timestamps) to the collector; after
--healthy-minutes, a full validation outage (every validation event errors) from a random second
of the next minute for --outage seconds, then healthy traffic until each FIRING has its RESOLVED.
Prints the time from the first failing event to each FIRING message, from recovery to each
RESOLVED, the messages per SLI and the false pages (messages before the outage; with --outage 0,
every message). Exits 1 on a false page. Everything it started is stopped and dropped at the end.

Builds a scratch warehouse (on the embedded PostgreSQL, or TELEMETRY_DATABASE_URL's server)
with --events validation and generation events spread evenly over the year ending now (1 % of
them errors) and as many audits per day as a real observer writes, then times
`fast_burn.evaluate` (every ratio SLI of the shipped catalog, windows 5m/30m/1h/6h ending now)
--runs times and prints the median, the rows it read (EXPLAIN ANALYZE of the events statement)
and the table size. Target: < 1 s over 10M events (SPEC section 11 / issue 11), independent of
the table size because only the last 6 h are read through the event_timestamp index. It then
times the dashboard's budget as of now (`budget_now.budgets_now`: the same scan reaching back to
the open part's start, here yesterday 00:00 since the scratch warehouse has no daily slo_status
rows: the worst case) and prints its ratio to the evaluation. The scratch database is dropped at
the end. Not a test: the machine is shared; compare within a run.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime

import psycopg

from telemetry_pipeline.core.kpis.catalog import Source
from telemetry_pipeline.core.slos.budget_now import budgets_now
from telemetry_pipeline.core.slos.budgets import FAST_BURN
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.slos.fast_burn import _ratio_slis, _statement, evaluate, window_params
from telemetry_pipeline.core.warehouse import scratch

TARGET_SECONDS = 1.0


def _fill(conn: psycopg.Connection, events: int, now: datetime) -> None:
    """`events` events over the year before `now`, alternating the two event types."""
    conn.execute(
        """insert into public.telemetry_events (event_type, event_timestamp, tag, metadata)
           select case when i %% 2 = 0 then 'provenance.validation' else 'provenance.generation' end,
                  %(now)s - (interval '365 days') * (i::float8 / %(n)s),
                  'v1.' || (i %% 50),
                  jsonb_build_object('status', case when i %% 100 = 0 then 'error' else 'success' end,
                                     'duration_ms', 1000 + i %% 5000)
           from generate_series(1, %(n)s) i""",
        {"now": now, "n": events},
    )
    conn.execute(
        """insert into public.slsa_audit_metrics (audited_at, status, duration_ms, sha256_verified,
                                                  predicate_type_verified, supabase_synced)
           select %(now)s - interval '1 minute' * i, 'success', 1000, true, true, true
           from generate_series(1, 525600) i""",
        {"now": now},
    )
    conn.execute("analyze public.telemetry_events")
    conn.execute("analyze public.slsa_audit_metrics")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--live", action="store_true",
                        help="real-time paging run through dagster-daemon instead of the cost run")
    parser.add_argument("--rate", type=float, default=2.0,
                        help="--live: events per second (validation and generation alternating)")
    parser.add_argument("--healthy-minutes", type=float, default=5.0,
                        help="--live: minutes of healthy traffic before the outage (the whole run with --outage 0)")
    parser.add_argument("--outage", type=float, default=240.0,
                        help="--live: outage length in seconds; 0: no outage, count false pages only")
    parser.add_argument("--resolve-minutes", type=float, default=30.0,
                        help="--live: longest wait after recovery for the RESOLVED messages")
    parser.add_argument("--nice", type=int, default=10, help="--live: niceness of the collector and the daemon")
    args = parser.parse_args()
    if args.live:
        from paging_live import run_live  # bench/ is on sys.path when run as a script

        sys.exit(run_live(args.rate, args.healthy_minutes, args.outage, args.resolve_minutes, args.nice))

    server = scratch.server_url()
    name = f"tp_bench_paging_{secrets.token_hex(3)}"
    url = scratch.create_database(server, name)
    try:
        now = datetime.now(UTC)
        with psycopg.connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            _fill(conn, args.events, now)
            print(f"filled {args.events:,} events + 525,600 audits in {time.perf_counter() - started:.1f} s")
            catalog = load_slos()
            timings = []
            for _ in range(args.runs):
                started = time.perf_counter()
                burns = evaluate(conn, catalog, now)
                timings.append(time.perf_counter() - started)
            budget_timings = []
            for _ in range(args.runs):
                started = time.perf_counter()
                budgets = budgets_now(conn, catalog, now)
                budget_timings.append(time.perf_counter() - started)
            slis = [t for t in _ratio_slis(catalog) if t[2].source is Source.EVENTS]
            statement = _statement(Source.EVENTS, slis, FAST_BURN.windows).as_string(conn)
            params = window_params(slis, now, FAST_BURN)
            plan = [r[0] for r in conn.execute("explain (analyze, buffers) " + statement, params)]
            size = conn.execute("select pg_size_pretty(pg_total_relation_size('public.telemetry_events'))").fetchone()
        median = statistics.median(timings)
        print(f"telemetry_events: {args.events:,} rows, {size[0] if size else '?'}")
        print(f"one fast-burn evaluation ({len(burns)} ratio SLIs x {len(FAST_BURN.windows)} windows): "
              f"median {median * 1000:.1f} ms of {args.runs} (min {min(timings) * 1000:.1f}, "
              f"max {max(timings) * 1000:.1f}); target < {TARGET_SECONDS:.0f} s: "
              f"{'ok' if median < TARGET_SECONDS else 'MISSED'}")
        for line in plan:
            if "Index" in line or "Execution Time" in line or "Buffers" in line.strip()[:8]:
                print("  plan:", line.strip())
        for b in burns:
            print(f"  {b.slo.name}/{b.sli.name}: {b.rates_text()}")
        budget_median = statistics.median(budget_timings)
        print(f"dashboard budget as of now ({len(budgets)} ratio SLIs, open part from "
              f"{budgets[0].open_from:%Y-%m-%d %H:%M} UTC, {budgets[0].open_rows:,} rows of the first SLI): "
              f"median {budget_median * 1000:.1f} ms of {args.runs} (min {min(budget_timings) * 1000:.1f}, "
              f"max {max(budget_timings) * 1000:.1f}); ratio to the fast-burn evaluation: {budget_median / median:.1f}x")
    finally:
        scratch.drop_database(server, name)


if __name__ == "__main__":
    main()
