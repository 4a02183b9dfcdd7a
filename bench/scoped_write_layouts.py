"""Benchmark: where the scoped year backfill's write goes, by table layout (issue 10, item 7).

    .venv/bin/python bench/backfill.py --repositories 200 --workflows-per-repository 3 --teams 12 --rounds 0
    .venv/bin/python bench/scoped_write_layouts.py [--repositories 200] [--granularity day] [--rounds 2]

The first command seeds the 10M-event year (tp_bench_backfill_r<N> on the warehouse server). This
one computes the year's global and scoped rows of one granularity once with the product's INSERT
(core/kpis/sql.py, typed copies included) and stages them, untimed, in two unlogged tables: one in the order the
product's statement yields them (scope, value, period), one in period order. It then times
inserting the same rows into fresh tables of each layout below, `--rounds` times each (the
fastest counts), and prints each time with its ratio to the product's layout:

- the product's layout before sql/0120: a copy of kpi_aggregations with every index of the
  live table (the primary key, the scope-led unique index, the window index, the global rows'
  partial indexes) and the float8 and sample-size copies generated from each row;
- the same without the window index (aggregation_period, period_start);
- the product's layout since sql/0120: the copies written by the writer (sql/0120's trigger on
  the table, which the writer's rows skip);
- period-led: one unique index led by (aggregation_period, period_start), which also serves the
  window reads, no window index, rows in period order; with generated copies, then writer-filled;
- the product's indexes built after the rows: the rows inserted into a table with no index,
  then every index of the live table created by sorting them (timed together). That is the
  bound of a write that swaps a freshly built partition in instead of inserting into the
  indexed table (which kpi_aggregations' `id` primary key rules out as it stands: a partitioned
  table's primary key must include the partition key).

The staged rows are read with a plain sequential scan (synchronised scans off), so no variant
pays a sort.

With --with-computation it times instead, in each round, the year's rows computed and written
in one go, both ways: the product's INSERT ... SELECT into a fresh copy of the table with all
its indexes (the statement replace_window runs; its SELECT runs without parallel workers on
PostgreSQL 15), and the same SELECT through a parallel CREATE TABLE AS into a table with no
index, its columns made NOT NULL and every index of the live table then built from the rows.
The second is an optimistic bound of writing through a partition swap: its ids come from
row_number(), because nextval() would make the SELECT run without workers.
Not a test: compare figures within one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from telemetry_pipeline.core.demo.fleet import numbered
from telemetry_pipeline.core.kpis.sql import WRITTEN_COLUMNS, kpi_insert, kpi_rows, sources_with_scopes
from telemetry_pipeline.core.scopes.teams import parse_teams
from telemetry_pipeline.core.warehouse import scratch


def _backfill_bench() -> Any:
    """bench/backfill.py as a module: its teams file and year window, so both measure the same rows."""
    spec = importlib.util.spec_from_file_location("backfill_bench", Path(__file__).with_name("backfill.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COLUMNS = ("metric_name, metric_value, aggregation_period, period_start, period_end, dimension,"
           " dimension_value, metadata")
#: The typed copies as the releases before sql/0120 generated them (sql/0040, sql/0041).
GENERATED_COPIES = """;
  alter table {t} drop column sample_size, drop column value_float8;
  alter table {t} add column sample_size bigint generated always as (
      case when jsonb_typeof(metadata -> 'sample_size') = 'number'
                and (metadata ->> 'sample_size') ~ '^[0-9]{{1,18}}$'
           then (metadata ->> 'sample_size')::bigint end) stored,
    add column value_float8 double precision
      generated always as (public.telemetry_numeric_to_float8(metric_value)) stored"""
#: sql/0120's trigger, which a row the writer fills skips by its WHEN clause.
COPIES_TRIGGER = """;
  create trigger bench_copies before insert on {t} for each row
    when (new.sample_size is null or new.value_float8 is null) execute function public.telemetry_kpi_copies()"""
PERIOD_LED_INDEXES = """;
  alter table {t} add primary key (id);
  create unique index on {t} (aggregation_period, period_start, dimension, metric_name, dimension_value)
    include (value_float8, sample_size) nulls not distinct;
  create index on {t} (metric_name) where dimension is null;
  create index on {t} (period_start desc) where dimension is null;
  create index on {t} (aggregation_period, metric_name, period_start) include (value_float8, sample_size)
    where dimension is null"""
#: (label, DDL after the table's columns, staged rows to read, whether the writer fills the copies).
#: "{product_indexes}" is every index of the live kpi_aggregations, recreated on the copy; DDL
#: after AFTER_ROWS runs once the rows are in, inside the timing.
AFTER_ROWS = ";-- after the rows"
LAYOUTS = (
    ("product layout, generated copies (before 0120)", GENERATED_COPIES + ";{product_indexes}",
     "bench_layout_rows", False),
    ("product layout, without the window index", GENERATED_COPIES + ";{product_indexes_but_window}",
     "bench_layout_rows", False),
    ("product layout, copies written by the writer", ";{product_indexes}" + COPIES_TRIGGER,
     "bench_layout_rows", True),
    ("period-led unique index only, period order", GENERATED_COPIES + PERIOD_LED_INDEXES,
     "bench_layout_rows_by_period", False),
    ("period-led, copies written by the writer", PERIOD_LED_INDEXES, "bench_layout_rows_by_period", True),
    ("product indexes built after the rows", AFTER_ROWS + ";{product_indexes}" + COPIES_TRIGGER,
     "bench_layout_rows", True),
)
WINDOW_INDEX = "idx_kpi_aggregations_period_window"


def product_indexes(conn: psycopg.Connection, table: str, skip: str | None = None) -> str:
    """CREATE INDEX statements of the live kpi_aggregations' indexes, for `table` (ours)."""
    statements = []
    for name, definition in conn.execute(
            "select indexname, indexdef from pg_indexes where schemaname = 'public'"
            " and tablename = 'kpi_aggregations' order by indexname"):
        if name != skip:
            statements.append(definition.replace(f"INDEX {name} ON public.kpi_aggregations",
                                                  f"INDEX {table}_{name} ON public.{table}"))
    return ";\n".join(statements)


def stage(conn: psycopg.Connection, params: dict[str, object]) -> int:
    """The year's rows of one granularity (`params` as replace_window binds them), global and
    scoped, written by the product's own INSERT into an unlogged copy of the table (its typed
    copies included), then a copy of those in period order."""
    conn.execute("drop table if exists public.bench_layout_rows, public.bench_layout_rows_by_period")
    conn.execute("create unlogged table public.bench_layout_rows (like public.kpi_aggregations including defaults)")
    count = conn.execute(kpi_insert("public.bench_layout_rows", scoped=sources_with_scopes(conn, params)),
                         params).rowcount
    conn.execute("create unlogged table public.bench_layout_rows_by_period as select * from public.bench_layout_rows"
                 " order by period_start, dimension, dimension_value, metric_name")
    return count


def empty_copy(conn: psycopg.Connection, table: str, ddl: str) -> None:
    """A fresh, empty copy of kpi_aggregations' columns named `table`, then `ddl` (both ours)."""
    conn.execute(f"drop table if exists public.{table}")
    conn.execute(
        f"create table public.{table} (like public.kpi_aggregations including defaults including constraints)" + ddl)


def insert(conn: psycopg.Connection, ddl: str, source: str, writer_filled: bool) -> float:
    """Seconds to insert the staged rows into a fresh table built by `ddl` (our own constants)."""
    table = "bench_layout_target"
    before, _, after = (ddl.replace("{product_indexes}", product_indexes(conn, table))
                        .replace("{product_indexes_but_window}", product_indexes(conn, table, WINDOW_INDEX))
                        .format(t=table).partition(AFTER_ROWS))
    empty_copy(conn, table, before)
    # The writer-filled layouts compute value_float8 in the timed insert, as the product's does.
    columns = COLUMNS + (", sample_size, value_float8" if writer_filled else "")
    values = COLUMNS + (", sample_size, public.telemetry_numeric_to_float8(metric_value)" if writer_filled else "")
    started = time.perf_counter()
    conn.execute(sql.SQL("insert into public.bench_layout_target ({}) select {} from {}").format(
        sql.SQL(columns), sql.SQL(values), sql.Identifier("public", source)))
    if after:
        conn.execute(after.lstrip(";"))
    took = time.perf_counter() - started
    conn.execute("drop table public.bench_layout_target")
    return took


def computed(conn: psycopg.Connection, params: dict[str, object]) -> dict[str, float]:
    """Seconds to compute and write the window's rows of `params`, the product's way and by a
    parallel CREATE TABLE AS with the indexes built afterwards (the module's docstring)."""
    scoped = sources_with_scopes(conn, params)
    table = "bench_layout_target"
    empty_copy(conn, table, ";" + product_indexes(conn, table) + COPIES_TRIGGER.format(t=table))
    started = time.perf_counter()
    conn.execute(kpi_insert(f"public.{table}", scoped=scoped), params)
    took = {"product INSERT into the indexed table": time.perf_counter() - started}
    conn.execute(f"drop table public.{table}")
    columns = sql.SQL(", ").join(map(sql.Identifier, WRITTEN_COLUMNS))
    started = time.perf_counter()
    conn.execute(sql.SQL("create table public.{} as select row_number() over () as id, r.*, now() as created_at"
                                 " from ({}) as r ({})").format(
        sql.Identifier(table), kpi_rows(scoped), columns), params)
    took["parallel CREATE TABLE AS, no index"] = time.perf_counter() - started
    not_null = [name for name, in conn.execute(
        "select attname from pg_attribute where attrelid = 'public.kpi_aggregations'::regclass"
        " and attnum > 0 and not attisdropped and attnotnull")]
    mark = time.perf_counter()
    conn.execute(sql.SQL("alter table public.{} {}").format(sql.Identifier(table), sql.SQL(", ").join(
        sql.SQL("alter column {} set not null").format(sql.Identifier(name)) for name in not_null)))
    conn.execute(product_indexes(conn, table))
    took["  then NOT NULL and every index built"] = time.perf_counter() - mark
    took["parallel CREATE TABLE AS, indexes built after"] = time.perf_counter() - started
    conn.execute(f"drop table public.{table}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repositories", type=int, default=200, help="the seeded fleet's repositories")
    parser.add_argument("--workflows-per-repository", type=int, default=3)
    parser.add_argument("--teams", type=int, default=12)
    parser.add_argument("--granularity", choices=("day", "week"), default="day")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--with-computation", action="store_true",
                        help="time computing and writing together, the product's INSERT against a parallel"
                             " CREATE TABLE AS with the indexes built after")
    args = parser.parse_args()
    bench = _backfill_bench()
    url = scratch.create_database(scratch.server_url(), f"tp_bench_backfill_r{args.repositories}", fresh=False)
    fleet = numbered(args.repositories, args.workflows_per_repository)
    _, _, start, end = bench.year_window(args.granularity)
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC -c synchronize_seqscans=off") as conn:
        if conn.execute("select not exists (select 1 from public.telemetry_events)").fetchone() == (True,):
            raise SystemExit(f"{url}: no events; seed it first with bench/backfill.py --repositories"
                             f" {args.repositories} --rounds 0")
        conn.execute("set work_mem = '256MB'")
        teams = parse_teams(bench.teams_document(fleet, args.teams), "teams.yaml")
        params = bench._window_params(args.granularity, start, end, teams)
        if args.with_computation:
            fastest: dict[str, float] = {}
            try:
                for _ in range(args.rounds):
                    for label, took in computed(conn, params).items():
                        print(f"  {label:48s} {took:6.1f} s", flush=True)
                        fastest[label] = min(took, fastest.get(label, took))
            finally:
                conn.execute("drop table if exists public.bench_layout_target")
            product = fastest["product INSERT into the indexed table"]
            print()
            for label, took in fastest.items():
                print(f"{label:48s}: {took:6.1f} s  ratio to the product's INSERT {took / product:.2f}")
            return
        began = time.perf_counter()
        n = stage(conn, params)
        print(f"staged {n:,} {args.granularity} rows (untimed below) in {time.perf_counter() - began:.1f} s", flush=True)
        best: dict[str, float] = {}
        try:
            for _ in range(args.rounds):
                for label, ddl, source, writer_filled in LAYOUTS:
                    took = insert(conn, ddl, source, writer_filled)
                    print(f"  {label:48s} {took:6.1f} s", flush=True)
                    best[label] = min(took, best.get(label, took))
        finally:
            conn.execute("drop table if exists public.bench_layout_rows, public.bench_layout_rows_by_period,"
                         " public.bench_layout_target")
    baseline = best[LAYOUTS[0][0]]
    print()
    for label, *_ in LAYOUTS:
        print(f"{label:48s}: {best[label]:6.1f} s  ratio to the layout before sql/0120 {best[label] / baseline:.2f}")


if __name__ == "__main__":
    main()
