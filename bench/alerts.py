"""Benchmark: one slo_alert_sensor tick over 10,000 new slo_status rows with 1,000 violations.

    .venv/bin/python bench/alerts.py [--rows 10000] [--small 1000]

Two shapes, each at --small and --rows rows (a tenth of them violations), against the Slack
Web API stand-in on 127.0.0.1 (a real HTTP server; email is not configured, so it is skipped):
  backfill  rows spread over consecutive hours ending now (9 SLIs per hour: ~1,112 hourly
            partitions, one materialisation event each): the cursor pages through the events,
            the rules run set-based, nearly every violation is an old period -> suppressed;
  burst     all rows in the last two hours (many SLIs per hour): every violation is recent,
            so the tick records and *delivers* 1,000 Slack messages.
Per case: tick time (target < 5 s), and the Python heap peak during the tick (tracemalloc, in a
second, separately timed tick on a fresh outbox and cursor) to show memory does not grow with
the rows. The scratch databases (warehouse + Dagster storage on PostgreSQL) live on the
warehouse server (embedded, or TELEMETRY_DATABASE_URL's) and are dropped at the end.
Not a test: the machine is shared and noisy, so compare figures within one run.
"""

from __future__ import annotations

import argparse
import logging
import random
import secrets
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import psycopg
from dagster import BackfillPolicy, asset, instance_for_test, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.alerting.messages import SLO_STATUS_ASSETS
from telemetry_pipeline.core.granularity import partition_key_for, period_start_of
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.core.warehouse.migrate import migrate
from telemetry_pipeline.defs.alerting.email import EmailAlertResource
from telemetry_pipeline.defs.alerting.sensor import channels_of, run_tick
from telemetry_pipeline.defs.alerting.slack import SlackAlertResource
from telemetry_pipeline.defs.dagster_tuning import apply_defaults
from telemetry_pipeline.defs.partitions import hourly_partitions
from telemetry_pipeline.defs.resources import WarehouseResource

#: The Slack Web API stand-in of the tests, in its own process (as Slack is another machine):
#: sharing this process's GIL would bill its request handling to the tick.
_SLACK_SERVER = (
    "import sys; from telemetry_pipeline_tests.alerting.slack_api_server import SlackApiServer; "
    "s = SlackApiServer().start(); print(s.base_url, flush=True); sys.stdin.read(); s.stop()"
)

TARGET_SECONDS = 5.0
SLIS = [("provenance_generation", "availability", "provenance_availability", ">=", 99.9),
        ("provenance_generation", "latency_p95", "provenance_p95_duration_ms", "<", 300000),
        ("provenance_generation", "error_rate", "provenance_failure_rate", "<", 1.0),
        ("validation", "availability", "validation_availability", ">=", 99.9),
        ("validation", "latency_p95", "validation_p95_duration_ms", "<", 120000),
        ("validation", "error_rate", "validation_failure_rate", "<", 0.5),
        ("audit_observer", "availability", "audit_availability", ">=", 99.5),
        ("audit_observer", "latency_p95", "audit_p95_duration_ms", "<", 180000),
        ("audit_observer", "error_rate", "audit_failure_rate", "<", 2.0)]


def rows_for(shape: str, n_rows: int, now: datetime, rng: random.Random) -> list[tuple]:
    """(slo, sli, metric, comparator, target, period_start, value, met) rows, a tenth violations."""
    violating = set(rng.sample(range(n_rows), n_rows // 10))
    current = period_start_of(now, "hour")
    out = []
    for i in range(n_rows):
        if shape == "backfill":
            slo, sli, metric, comparator, target = SLIS[i % len(SLIS)]
            start = current - timedelta(hours=1 + i // len(SLIS))
        else:  # burst: synthetic SLOs (default min_sample_size), two recent hours
            base = SLIS[i % len(SLIS)]
            slo, sli, metric, comparator, target = (f"{base[0]}_{i // len(SLIS)}", *base[1:])
            start = current - timedelta(hours=1 + (i // len(SLIS)) % 2)  # one hour per SLO: no resolves
        bad = i in violating
        good_value, bad_value = (target + 0.05, target - 5) if comparator == ">=" else (target * 0.5, target * 2)
        out.append((slo, sli, metric, comparator, target, start, bad_value if bad else good_value, not bad))
    return out


def load(conn: psycopg.Connection, rows: list[tuple]) -> None:
    conn.execute("truncate public.slo_status, public.slo_alerts")
    with conn.cursor().copy(
        "copy public.slo_status (slo_name, sli, metric_name, comparator, target, aggregation_period,"
        " period_start, period_end, value, met, sample_size) from stdin"
    ) as copy:
        for slo, sli, metric, comparator, target, start, value, met in rows:
            copy.write_row((slo, sli, metric, comparator, target, "hour", start, start + timedelta(hours=1),
                            value, met, 100))


_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@asset(key=SLO_STATUS_ASSETS["hour"], partitions_def=hourly_partitions(),
       backfill_policy=BackfillPolicy.single_run())
def slo_status_stand_in(context) -> None:
    """Stands in for slo_status_hourly (whose rows the bench loads itself): the same key and
    partitions, so one run stores the same materialisation events as a real single-run backfill."""


def materialise(instance, rows: list[tuple]) -> int:
    """One single-run backfill over the rows' hours (events stored in batches, as in production)."""
    keys = sorted({partition_key_for(r[5], "hour") for r in rows})
    result = materialize([slo_status_stand_in], instance=instance, run_config=_QUIET,
                         tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]})
    assert result.success
    return len(keys)


def start_slack() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", _SLACK_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=settings.PROJECT_ROOT, text=True)
    return proc, proc.stdout.readline().strip()


def one_case(shape: str, n_rows: int, url: str, dagster_url: str, slack_url: str) -> dict:
    warehouse = WarehouseResource(database_url=url)
    channels = channels_of(
        SlackAlertResource(token="xoxb-bench", channel="#bench", base_url=slack_url), EmailAlertResource()
    )
    log = logging.getLogger("bench.alerts")
    rows = rows_for(shape, n_rows, datetime.now(UTC), random.Random(7))
    result: dict = {"shape": shape, "rows": n_rows, "violations": sum(1 for r in rows if not r[7])}
    with instance_for_test(overrides={"storage": {"postgres": {"postgres_url": dagster_url}}}) as instance:
        with warehouse.connect() as conn:
            load(conn, rows)
        start_cursor = str(instance.event_log_storage.get_maximum_record_id() or 0)
        started = time.perf_counter()
        result["partitions"] = materialise(instance, rows)
        result["event_setup_s"] = time.perf_counter() - started
        started = time.perf_counter()
        report = run_tick(instance, start_cursor, warehouse, channels, log)
        result["tick_s"] = time.perf_counter() - started
        with warehouse.connect() as conn:
            result["slack_posts"] = conn.execute(
                "select count(*) from public.slo_alerts where slack_state = 'sent'").fetchone()[0]
        result["recorded"] = (report.recorded_pending, report.recorded_suppressed)
        # memory: the same tick again on a fresh outbox and cursor, under tracemalloc
        with warehouse.connect() as conn:
            conn.execute("truncate public.slo_alerts")
        tracemalloc.start()
        run_tick(instance, start_cursor, warehouse, channels, log)
        result["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=30_000, help="a third size, to show the memory ceiling")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    apply_defaults()  # the Dagster switches definitions.py sets for runs

    server = scratch.server_url()
    name = f"tp_bench_alerts_{secrets.token_hex(3)}"
    url = scratch.create_database(server, name, migrated=False)
    dagster_url = scratch.dagster_storage_url(scratch.create_database(server, name + "_dagster", migrated=False))
    slack, slack_url = start_slack()
    try:
        migrate(url)
        results = [one_case(shape, n, url, dagster_url, slack_url)
                   for shape in ("backfill", "burst") for n in (args.small, args.rows, args.large)]
    finally:
        slack.stdin.close()
        slack.wait(timeout=10)
        scratch.drop_database(server, name)
        scratch.drop_database(server, name + "_dagster")

    print(f"{'shape':8} {'rows':>6} {'viol.':>5} {'parts':>5} {'pending/suppr.':>14} {'posts':>5}"
          f" {'tick s':>7} {'x target':>8} {'peak MiB':>8}")
    for r in results:
        print(f"{r['shape']:8} {r['rows']:6} {r['violations']:5} {r['partitions']:5} "
              f"{r['recorded'][0]:6}/{r['recorded'][1]:<7} {r['slack_posts']:5} {r['tick_s']:7.2f}"
              f" {r['tick_s'] / TARGET_SECONDS:8.2f} {r['peak_mib']:8.1f}")
    for shape in ("backfill", "burst"):
        small, big, large = (r for r in results if r["shape"] == shape)
        print(f"{shape}: {big['rows'] // small['rows']}x the rows -> tick {big['tick_s'] / small['tick_s']:.1f}x, "
              f"peak memory {big['peak_mib'] / small['peak_mib']:.2f}x; "
              f"{large['rows'] // big['rows']}x more -> peak memory {large['peak_mib'] / big['peak_mib']:.2f}x "
              f"(materialisation events stored beforehand, not timed: {big['event_setup_s']:.1f} s for "
              f"{big['partitions']} partitions)")


if __name__ == "__main__":
    main()
