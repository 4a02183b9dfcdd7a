"""Benchmark: a year of KPI backfill through Dagster vs the raw-SQL floor (issue 2, item 9), or
the year backfill with scoped rows vs the global-only one (issue 10, item 7).

    .venv/bin/python bench/backfill.py [--events 10000000] [--reuse]
    .venv/bin/python bench/backfill.py --repositories 200 --workflows-per-repository 3 --teams 12 [--reuse]

Seeds N synthetic events (and N/20 audits) over 2025 into a scratch database on the warehouse
server (embedded PostgreSQL, or TELEMETRY_DATABASE_URL's server), then in one run times:
  (a) the floor: the plain INSERT ... SELECT ... GROUP BY statements for every metric at each
      granularity over the whole year, into a scratch table, nothing else (run before and after
      (b); the faster time counts);
  (b) `dagster asset materialize --select kpi_aggregations_{hourly,daily,weekly}
      --partition-range <year>` with the project's dagster.yaml on PostgreSQL storage (a scratch
      `..._dagster` database), i.e. what a user's backfill costs, process start-up included.
Prints both, the ratio (target <= 3) and where (b)'s time goes: the window replace SQL, the asset
checks, and Dagster (process start, run creation, per-partition event storage).

With --repositories N the generator attributes every run to one of N repositories x
--workflows-per-repository workflows (the events and audits of a run share them), a teams file
of --teams teams is generated (overlapping globs: the first team that matches owns a
repository), and instead of (a)/(b) the run times the year backfill as the single-run backfill
runs it (`kpis.sql.replace_window` over the whole year, hour + day + week) five times, each in
its own process: global-only (no scoped granularity), with scoped rows at day and week (the
default TELEMETRY_DIMENSION_GRANULARITIES; --dimension-granularities week times the lighter
setting an operator can choose), and three floors of the latter: the same statement
inserting the same day/week rows into a table with no index at all; its SELECT alone, the rows
computed and counted but not written (the computation no write path removes); and the
contract's floor, those rows already computed and only inserted into a table whose one index is
the uniqueness SPEC section 10 requires (the hour computed as in the others). Each starts, untimed,
with no KPI rows where it writes (a first backfill, not a re-run over another variant's rows). It prints the five
times, the ratio scoped / global (target <= 2), the floors' ratios to global, the server's version and
bulk-write settings, and the peak RSS of each
backfill process and of its PostgreSQL backend (--rounds 0 seeds only); run it with 20 and with
200 repositories to see memory stay flat in the number of repositories (each N has its own
database, so --reuse keeps both; a process's peak RSS from wait4 includes its parent's pages at
fork, so compare runs that both reuse their data or both seed).
Not a test: the machine is shared and noisy, so compare figures within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.demo.fleet import Fleet, numbered
from telemetry_pipeline.core.demo.generate import copy_audits, copy_events
from telemetry_pipeline.core.granularity import PERIODS
from telemetry_pipeline.core.kpis.catalog import Source
from telemetry_pipeline.core.kpis.sql import kpi_insert, kpi_select, replace_window, sources_with_scopes
from telemetry_pipeline.core.scopes.teams import TeamCatalog, load_teams
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.defs.partitions import partitions_for

YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2026, 1, 1, tzinfo=UTC)
ASSETS = {"hour": "kpi_aggregations_hourly", "day": "kpi_aggregations_daily", "week": "kpi_aggregations_weekly"}


def seed(url: str, n_events: int, reuse: bool, fleet: Fleet | None = None) -> None:
    with psycopg.connect(url) as conn:
        have = conn.execute("select count(*) from public.telemetry_events").fetchone()[0]
        if reuse and have == n_events:
            print(f"seed: reusing {have:,} events")
            return
        conn.execute("truncate public.telemetry_events, public.slsa_audit_metrics, public.kpi_aggregations")
        started = time.perf_counter()
        events = copy_events(conn, n_events, YEAR_START, YEAR_END, seed=42, fleet=fleet)
        audits = copy_audits(conn, max(n_events // 20, 1), YEAR_START, YEAR_END, seed=43, fleet=fleet)
        conn.commit()
        took = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze public.telemetry_events")
        conn.execute("vacuum analyze public.slsa_audit_metrics")
    print(f"seed: {events:,} events + {audits:,} audits in {took:.1f} s ({(events + audits) / took:,.0f} rows/s)")


def year_window(granularity: str) -> tuple[str, str, datetime, datetime]:
    """First/last partition keys covering 2025 and their combined [start, end)."""
    partitions = partitions_for(granularity)
    keys = [
        k for k in partitions.get_partition_keys(current_time=YEAR_END + PERIODS["week"])
        if partitions.time_window_for_partition_key(k).end > YEAR_START
        and partitions.time_window_for_partition_key(k).start < YEAR_END
    ]
    first, last = keys[0], keys[-1]
    return (first, last, partitions.time_window_for_partition_key(first).start,
            partitions.time_window_for_partition_key(last).end)


def floor(url: str, indexed: bool = False) -> dict[str, float]:
    """(a): the INSERT ... SELECT ... GROUP BY per granularity, nothing else.

    Into an unindexed temp table (no WAL, no index: the computation alone), or with `indexed`
    into a scratch table shaped like kpi_aggregations with its indexes and generated columns
    (`like ... including all`): the write a hand-written backfill of the real table makes.
    """
    times: dict[str, float] = {}
    label = "floor, indexed table" if indexed else "floor"
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        conn.execute("select count(*) from public.telemetry_events")  # warm the cache for both sides
        if indexed:
            conn.execute("create table public.bench_floor (like public.kpi_aggregations including all)")
        else:
            conn.execute("create temp table bench_floor (like public.kpi_aggregations including defaults)")
        for granularity in ASSETS:
            _, _, start, end = year_window(granularity)
            conn.execute("truncate bench_floor")
            conn.execute("set work_mem = '256MB'")
            started = time.perf_counter()
            cur = conn.execute(
                kpi_insert("bench_floor"),
                {"granularity": granularity, "start": start, "end": end, "length": PERIODS[granularity]},
            )
            times[granularity] = time.perf_counter() - started
            print(f"{label} {granularity:>4}: {times[granularity]:6.1f} s  ({cur.rowcount:,} rows)")
        conn.rollback()
    return times


def through_dagster(url: str, dagster_url: str) -> dict[str, dict[str, float]]:
    """(b): the CLI backfill per KPI asset, with the asset's own SQL/check timings."""
    from dagster import AssetKey, DagsterInstance

    home = tempfile.mkdtemp(prefix="tp-bench-dagster-")
    shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", os.path.join(home, "dagster.yaml"))
    env = {**os.environ, "DAGSTER_HOME": home, "DAGSTER_PG_URL": dagster_url, settings.DATABASE_URL_ENV: url}
    results: dict[str, dict[str, float]] = {}
    try:
        for granularity, asset in ASSETS.items():
            first, last, _, _ = year_window(granularity)
            cmd = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "telemetry_pipeline.definitions",
                   "--select", asset, "--partition-range", f"{first}...{last}"]
            started = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            total = time.perf_counter() - started
            if proc.returncode != 0:
                print(proc.stderr[-4000:])
                raise SystemExit(f"dagster asset materialize failed for {asset}")
            os.environ["DAGSTER_HOME"], os.environ["DAGSTER_PG_URL"] = home, dagster_url
            with DagsterInstance.get() as instance:
                record = instance.fetch_materializations(AssetKey(asset), limit=1).records[0]
                metadata = record.asset_materialization.metadata
                n = instance.get_materialized_partitions(AssetKey(asset))
            sql_s, check_s = metadata["sql_seconds"].value, metadata["check_seconds"].value
            results[granularity] = {"total": total, "sql": sql_s, "checks": check_s, "partitions": len(n)}
            print(f"dagster {granularity:>4}: {total:6.1f} s  = SQL {sql_s:5.1f} + checks {check_s:5.1f}"
                  f" + Dagster {total - sql_s - check_s:5.1f}  ({len(n):,} partitions)")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return results


def teams_document(fleet: Fleet, n_teams: int) -> dict:
    """`n_teams` teams owning consecutive blocks of the fleet's repositories, one glob each, plus
    an overlapping catch-all for the last team listed (so "first match wins" decides many)."""
    repositories = fleet.repositories
    block = -(-len(repositories) // n_teams)
    teams = [
        {"name": f"team-{i:02d}", "repositories": list(repositories[i * block:(i + 1) * block]) or ["none/none"]}
        for i in range(n_teams)
    ]
    owner = repositories[0].split("/")[0]
    teams[-1]["repositories"].append(f"{owner}/*")
    return {"teams": teams}


#: The scoped comparison's contenders: global-only, the product with scoped day/week rows,
#: "unindexed": the product's statement writing the same rows into a table with no index and no
#: key (computing the rows and writing their heap, without index maintenance), "computed": its
#: SELECT alone, the rows counted and not written (the computation), and "precomputed",
#: the contract's floor: the rows the scoped run wrote, already computed (staged, untimed),
#: inserted into a table shaped like kpi_aggregations whose only index is the uniqueness SPEC
#: section 10 requires (writing alone, under the one index the contract asks for). It reads the
#: scoped variant's rows, so it runs after it.
VARIANTS = ("global", "scoped", "unindexed", "computed", "precomputed")
UNINDEXED = "public.bench_scoped_unindexed"
PRECOMPUTED = "public.bench_scoped_precomputed"


def backfill_variant(url: str, teams_file: str, variant: str,
                     scoped_granularities: tuple[str, ...] = settings.DEFAULT_DIMENSION_GRANULARITIES,
                     ) -> dict[str, float]:
    """The year's replace_window per granularity in this process; times and the backend's peak RSS.
    For "unindexed" and "precomputed", the scoped granularities write into their own tables
    instead, and "computed" writes none (above)."""
    dimension_granularities = scoped_granularities if variant != "global" else ()
    teams = load_teams(Path(teams_file))
    times: dict[str, float] = {}
    # Every variant starts from the same state, untimed: no KPI rows where it writes into
    # kpi_aggregations. Otherwise a variant's window delete would be timed removing what the one
    # before it wrote (a global-only run after a scoped one deletes 6.7M scoped rows). The floors
    # keep the scoped run's rows of the scoped granularities, which "precomputed" stages.
    with psycopg.connect(url, autocommit=True) as conn:
        if variant in ("global", "scoped"):
            conn.execute("truncate public.kpi_aggregations")
        else:
            conn.execute("delete from public.kpi_aggregations where aggregation_period <> all(%s)",
                         (list(dimension_granularities),))
            conn.execute("vacuum public.kpi_aggregations")
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        backend = conn.info.backend_pid
        for granularity in ASSETS:
            _, _, start, end = year_window(granularity)
            started = time.perf_counter()
            if variant == "unindexed" and granularity in dimension_granularities:
                times[f"{granularity}_rows"] = _insert_unindexed(conn, granularity, start, end, teams)
            elif variant == "computed" and granularity in dimension_granularities:
                times[f"{granularity}_rows"] = _count_computed(conn, granularity, start, end, teams)
            elif variant == "precomputed" and granularity in dimension_granularities:
                rows, took = _insert_precomputed(conn, granularity, start, end)
                times[f"{granularity}_rows"], times[granularity] = rows, took
                continue
            else:
                result = replace_window(conn, granularity, start, end, teams=teams,
                                        dimension_granularities=dimension_granularities)
                times[f"{granularity}_rows"] = result.inserted
            times[granularity] = time.perf_counter() - started
        times["backend_peak_mib"] = _peak_rss_kib(backend) / 1024
    return times


def _window_params(granularity: str, start: datetime, end: datetime, teams: TeamCatalog) -> dict[str, object]:
    """The parameters of the product's scoped window statement, as replace_window binds them."""
    return {"granularity": granularity, "start": start, "end": end, "length": PERIODS[granularity],
            **teams.sql_params()}


def _insert_unindexed(conn: psycopg.Connection, granularity: str, start: datetime, end: datetime,
                      teams: TeamCatalog) -> int:
    """The window's rows (global and scoped, the product's statement) into a fresh UNINDEXED table."""
    params = _window_params(granularity, start, end, teams)
    with conn.transaction():
        conn.execute("set local work_mem = '256MB'")
        conn.execute(f"drop table if exists {UNINDEXED}")
        conn.execute(f"create table {UNINDEXED} (like public.kpi_aggregations including defaults)")
        rows = conn.execute(kpi_insert(UNINDEXED, scoped=sources_with_scopes(conn, params)), params).rowcount
    return rows


def _count_computed(conn: psycopg.Connection, granularity: str, start: datetime, end: datetime,
                    teams: TeamCatalog) -> int:
    """The window's rows (global and scoped, the product's SELECT) computed and counted, not written:
    what the computation alone costs, the part of the scoped backfill no write path can remove."""
    params = _window_params(granularity, start, end, teams)
    with conn.transaction():
        conn.execute("set local work_mem = '256MB'")
        scoped = sources_with_scopes(conn, params)
        select = sql.SQL("select count(*) from ({} union all {}) as k").format(
            *(kpi_select(source, scoped=source in scoped) for source in Source))
        row = conn.execute(select, params).fetchone()
        assert row is not None
        return int(row[0])


def _insert_precomputed(conn: psycopg.Connection, granularity: str, start: datetime,
                        end: datetime) -> tuple[int, float]:
    """The window's kpi_aggregations rows (written by the scoped variant), staged in a temp table
    untimed, then inserted into a fresh PRECOMPUTED table with only the unique index SPEC section
    10 requires: (rows, seconds of that insert alone). The rows go in that index's key order, the
    cheapest for it (a year of day rows at 1M events, 2.2M: 15-16 s, against 25-30 s in the
    order the rows are computed in)."""
    cols = sql.SQL(", ").join(map(sql.Identifier, (
        "metric_name", "metric_value", "aggregation_period", "period_start", "period_end", "dimension",
        "dimension_value", "metadata", "sample_size", "value_float8")))
    with conn.transaction():
        conn.execute("drop table if exists pg_temp.bench_stage")
        conn.execute(sql.SQL(
            "create temp table bench_stage as select {} from public.kpi_aggregations"
            " where aggregation_period = %s and period_start >= %s and period_start < %s"
            " order by aggregation_period, dimension, dimension_value, metric_name, period_start").format(cols),
            (granularity, start, end))
        conn.execute("analyze pg_temp.bench_stage")
        conn.execute(f"drop table if exists {PRECOMPUTED}")
        conn.execute(f"create table {PRECOMPUTED} (like public.kpi_aggregations including defaults)")
        conn.execute(f"create unique index on {PRECOMPUTED}"
                     " (aggregation_period, dimension, dimension_value, metric_name, period_start) nulls not distinct")
    started = time.perf_counter()
    with conn.transaction():
        rows = conn.execute(sql.SQL("insert into {} ({}) select {} from pg_temp.bench_stage").format(
            sql.Identifier(*PRECOMPUTED.split(".")), cols, cols)).rowcount
    return rows, time.perf_counter() - started


def _peak_rss_kib(pid: int) -> float:
    """VmHWM of a process on this machine (0 when it cannot be read, e.g. a remote server)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def run_variant(url: str, teams_file: str, variant: str, scoped_granularities: tuple[str, ...]) -> dict[str, float]:
    """`backfill_variant` in a child process; its peak RSS from wait4 (this child only)."""
    cmd = [sys.executable, __file__, "--variant", variant, "--url", url, "--teams-file", teams_file,
           "--dimension-granularities", ",".join(scoped_granularities)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the {variant} backfill failed")
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    figures["client_peak_mib"] = usage.ru_maxrss / 1024
    return figures


LABELS = {"global": "global only        ", "scoped": "scoped             ",
          "unindexed": "scoped, no index   ", "computed": "scoped, not written",
          "precomputed": "scoped, rows given "}
#: The server settings a bulk write depends on, printed with the figures so runs on differently
#: sized servers are not compared unawares.
SERVER_SETTINGS = ("shared_buffers", "max_wal_size", "wal_compression", "work_mem", "max_parallel_workers_per_gather")


def server_settings(url: str) -> str:
    """The server's version and SERVER_SETTINGS, one line."""
    with psycopg.connect(url) as conn:
        shown = conn.execute("select current_setting('server_version'), array_agg(n || ' ' || current_setting(n) order by i)"
                             " from unnest(%s::text[]) with ordinality as s(n, i)", (list(SERVER_SETTINGS),)).fetchone()
    assert shown is not None
    return f"PostgreSQL {shown[0]}: " + ", ".join(shown[1])


def compare_scoped(url: str, fleet: Fleet, n_teams: int, rounds: int, scoped_granularities: tuple[str, ...]) -> None:
    """The VARIANTS in turn, `rounds` each; the fastest of each counts."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="tp-bench-teams-", delete=False) as f:
        yaml.safe_dump(teams_document(fleet, n_teams), f, sort_keys=False)
    best: dict[str, dict[str, float]] = {}
    try:
        for _ in range(rounds):
            for variant in VARIANTS:
                figures = run_variant(url, f.name, variant, scoped_granularities)
                total = sum(figures[g] for g in ASSETS)
                print(f"{LABELS[variant]}: " + "  ".join(
                    f"{g} {figures[g]:6.1f} s ({int(figures[g + '_rows']):,} rows)" for g in ASSETS)
                      + f"  total {total:6.1f} s; peak RSS backfill process {figures['client_peak_mib']:.0f} MiB,"
                        f" its PostgreSQL backend {figures['backend_peak_mib']:.0f} MiB", flush=True)
                if variant not in best or total < sum(best[variant][g] for g in ASSETS):
                    best[variant] = figures
    finally:
        os.unlink(f.name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"drop table if exists {UNINDEXED}")
            conn.execute(f"drop table if exists {PRECOMPUTED}")
    if not best:  # --rounds 0: seed only
        return
    part = " + ".join(scoped_granularities)
    totals = {v: sum(best[v][g] for g in ASSETS) for v in VARIANTS}
    scoped_part = {v: sum(best[v][g] for g in scoped_granularities) for v in VARIANTS}
    print()
    print(f"repositories {len(fleet.repositories)} x workflows {len(fleet.workflows)}, teams {n_teams},"
          f" scoped granularities {','.join(scoped_granularities)}; load average {os.getloadavg()[0]:.1f}")
    print(server_settings(url))
    for variant, what in (("global", "global only"), ("scoped", f"scoped {','.join(scoped_granularities)}"),
                          ("unindexed", "scoped rows, no index"), ("computed", "scoped rows, not written"),
                          ("precomputed", "scoped rows given")):
        print(f"year backfill, {what:24s}: {totals[variant]:7.1f} s  ({part} {scoped_part[variant]:.1f} s)")
    print(f"ratio scoped / global                  : {totals['scoped'] / totals['global']:7.2f}  (target <= 2;"
          f" {part} alone {scoped_part['scoped'] / scoped_part['global']:.2f})")
    print(f"ratio unindexed floor / global         : {totals['unindexed'] / totals['global']:7.2f}  (the same"
          f" rows into a table without indexes; scoped / floor {totals['scoped'] / totals['unindexed']:.2f})")
    # The unscoped granularities are the same work in every variant, so the scoped ones get what
    # 2x the global-only run leaves after its unscoped ones: its total plus its scoped part.
    budget = totals["global"] + scoped_part["global"]
    print(f"ratio computation alone / global       : {totals['computed'] / totals['global']:7.2f}  (the same"
          f" SELECT, its rows counted and not written: {part} {scoped_part['computed']:.1f} s of the"
          f" {budget:.1f} s the 2x budget leaves them after the other granularities,"
          f" {budget - scoped_part['computed']:.1f} s left for writing them)")
    print(f"ratio contract floor / global          : {totals['precomputed'] / totals['global']:7.2f}  (the"
          f" unscoped granularities computed, the {part} rows already computed and only inserted under"
          f" the unique index SPEC section 10 requires)")
    print(f"peak RSS scoped backfill process: {best['scoped']['client_peak_mib']:.0f} MiB,"
          f" PostgreSQL backend {best['scoped']['backend_peak_mib']:.0f} MiB")


def dimension_granularities(raw: str) -> tuple[str, ...]:
    """--dimension-granularities, parsed by the product's own TELEMETRY_DIMENSION_GRANULARITIES rules."""
    try:
        return settings.Settings({settings.DIMENSION_GRANULARITIES_ENV: raw}).dimension_granularities
    except settings.SettingsError as err:
        raise SystemExit(f"--dimension-granularities: {err}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="events to seed over 2025")
    parser.add_argument("--reuse", action="store_true", help="keep an already-seeded bench database")
    parser.add_argument("--repositories", type=int, default=0,
                        help="attribute runs to this many repositories and compare scoped vs global-only backfill")
    parser.add_argument("--workflows-per-repository", type=int, default=3, help="workflows of each repository")
    parser.add_argument("--teams", type=int, default=12, help="teams in the generated teams file")
    parser.add_argument("--dimension-granularities", default=",".join(settings.DEFAULT_DIMENSION_GRANULARITIES),
                        help="the scoped variants' TELEMETRY_DIMENSION_GRANULARITIES (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=1, help="scoped comparison: alternating runs of each variant")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--teams-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scoped_granularities = dimension_granularities(args.dimension_granularities)
    if args.variant:  # the child process of run_variant
        print(json.dumps(backfill_variant(args.url, args.teams_file, args.variant, scoped_granularities)))
        return

    server = scratch.server_url()
    name = "tp_bench_backfill" + (f"_r{args.repositories}" if args.repositories else "")
    url = scratch.create_database(server, name, fresh=not args.reuse)
    if args.repositories:
        fleet = numbered(args.repositories, args.workflows_per_repository)
        seed(url, args.events, args.reuse, fleet)
        compare_scoped(url, fleet, args.teams, args.rounds, scoped_granularities)
        return
    dagster_url = scratch.dagster_storage_url(
        scratch.create_database(server, name + "_dagster", migrated=False))
    seed(url, args.events, args.reuse)

    # The floor runs before and after the Dagster backfills; the faster of the two counts, so a
    # cold cache or a noisy neighbour cannot flatter the ratio.
    first_floor = floor(url)
    dagster_times = through_dagster(url, dagster_url)
    second_floor = floor(url)
    floor_times = {g: min(first_floor[g], second_floor[g]) for g in ASSETS}
    floor_total = sum(floor_times.values())
    dagster_total = sum(r["total"] for r in dagster_times.values())
    sql_total = sum(r["sql"] for r in dagster_times.values())
    check_total = sum(r["checks"] for r in dagster_times.values())
    print()
    print(f"raw-SQL floor, 3 granularities : {floor_total:7.1f} s")
    print(f"Dagster backfill, 3 assets     : {dagster_total:7.1f} s"
          f"  (window SQL {sql_total:.1f} s, checks {check_total:.1f} s,"
          f" Dagster bookkeeping {dagster_total - sql_total - check_total:.1f} s)")
    print(f"ratio Dagster / floor          : {dagster_total / floor_total:7.2f}  (target <= 3)")


if __name__ == "__main__":
    main()
