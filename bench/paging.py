"""Benchmark: the cost of one fast-burn evaluation, and time to page in real time.

    .venv/bin/python bench/paging.py [--events 10000000] [--runs 5]
    .venv/bin/python bench/paging.py --live [--rate 2] [--warmup 300] [--outage 300]

--live: steady validation traffic (--rate events/s, current timestamps) into a scratch warehouse,
a full outage (every event errors) from a random second for --outage seconds, then healthy
again; the fast-burn tick (run_fast_burn_tick, the sensor's body) runs every 30 s on the wall
clock, as the daemon runs it, against the Slack stand-in on 127.0.0.1. Prints the time from the
first failing event to each FIRING message, from recovery to each RESOLVED, the messages per
SLI and any message during the healthy warm-up (a false page). Note: the ticks run in this
process, not in dagster-daemon; the daemon adds its own scheduling delay (<= its tick loop).

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


def _live(url: str, rate: float, warmup: float, outage: float) -> None:
    """Real-time run: traffic, a random outage, 30 s ticks; prints latencies and message counts."""
    import logging
    import random
    import sys
    import threading

    from telemetry_pipeline.core import settings
    from telemetry_pipeline.defs.alerting.email import EmailAlertResource
    from telemetry_pipeline.defs.alerting.fast_burn import MINIMUM_INTERVAL_SECONDS, run_fast_burn_tick
    from telemetry_pipeline.defs.alerting.sensor import channels_of
    from telemetry_pipeline.defs.alerting.slack import SlackAlertResource
    from telemetry_pipeline.defs.resources import WarehouseResource

    sys.path.insert(0, str(settings.PROJECT_ROOT))  # the tests' Slack stand-in lives beside the package
    from telemetry_pipeline_tests.alerting.slack_api_server import SlackApiServer

    slack = SlackApiServer().start()
    channels = channels_of(SlackAlertResource(token="bench-token", channel="#bench", base_url=slack.base_url),
                           EmailAlertResource())
    warehouse = WarehouseResource(database_url=url)
    log = logging.getLogger("bench.paging")
    start = time.time()
    outage_at = start + warmup + random.uniform(0, 60)
    recovery_at = outage_at + outage
    end_at = recovery_at + 20 * 60
    arrivals: list[tuple[float, str]] = []
    stop = threading.Event()

    def traffic() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                now = time.time()
                status = "error" if outage_at <= now < recovery_at else "success"
                conn.execute("insert into public.telemetry_events (event_type, event_timestamp, metadata) "
                             "values ('provenance.validation', now(), jsonb_build_object('status', %s::text))",
                             (status,))
                stop.wait(1 / rate)

    writer = threading.Thread(target=traffic, daemon=True)
    writer.start()
    seen = 0
    while time.time() < end_at:
        run_fast_burn_tick(warehouse, channels, log)
        for text in slack.texts()[seen:]:
            arrivals.append((time.time(), text.split(":")[0]))
        seen = len(slack.texts())
        if any(t.startswith("[RESOLVED]") for _, t in arrivals) and \
                sum(t.startswith("[RESOLVED]") for _, t in arrivals) >= sum(t.startswith("[FIRING]") for _, t in arrivals):
            break
        time.sleep(MINIMUM_INTERVAL_SECONDS)
    stop.set()
    writer.join()
    slack.stop()
    false_pages = [t for at, t in arrivals if at < outage_at]
    print(f"traffic {rate}/s; warm-up {warmup:.0f} s; outage at +{outage_at - start:.0f} s for {outage:.0f} s")
    for at, text in arrivals:
        ref, what = (outage_at, "first failing event") if text.startswith("[FIRING]") else (recovery_at, "recovery")
        print(f"  {text}: {at - ref:.0f} s after the {what}")
    print(f"messages: {len(arrivals)}; false pages during warm-up: {len(false_pages)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--live", action="store_true", help="real-time paging run instead of the cost run")
    parser.add_argument("--rate", type=float, default=2.0, help="--live: events per second")
    parser.add_argument("--warmup", type=float, default=300.0, help="--live: healthy seconds before the outage")
    parser.add_argument("--outage", type=float, default=300.0, help="--live: outage length in seconds")
    args = parser.parse_args()
    if args.live:
        server = scratch.server_url()
        name = f"tp_bench_paging_live_{secrets.token_hex(3)}"
        url = scratch.create_database(server, name)
        try:
            _live(url, args.rate, args.warmup, args.outage)
        finally:
            scratch.drop_database(server, name)
        return

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
