"""Benchmark: what the event_id key trigger (sql/0061) costs COPY into telemetry_events. Not run in CI.

    .venv/bin/python bench/copy_keys.py [--events 200000] [--rounds 3]

On a scratch database of the warehouse server (TELEMETRY_DATABASE_URL's, or the embedded one),
the same CSV of M events with event_ids is COPYed, in alternating rounds (the machine is shared
and noisy: only figures of one run compare), into:
  plain        an unpartitioned table shaped like the previous release's, its unique event_id
               index included (bench/scale.py's baseline);
  partitioned  public.telemetry_events with the statement-level key trigger of sql/0061, which
               inserts the statement's event_ids (from its transition table) into
               telemetry_event_ids: what ingest's fast path runs;
  capture      the same, with a trigger that only reads the transition table (the cost of
               capturing the rows, keys not written: not correct, a bound);
  no trigger   the key trigger disabled (nothing enforces event_id uniqueness: a bound).
Prints rows/s (best of the rounds) and each one's ratio to plain; the target for partitioned is
>= 0.8.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

from psycopg import sql

from telemetry_pipeline.core.warehouse import scratch

# bench/ is not a package: bench/scale.py (its setup and baseline table) loaded by path
_spec = importlib.util.spec_from_file_location("bench_scale", Path(__file__).with_name("scale.py"))
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)  # type: ignore[union-attr]
ingest_bench = scale.ingest_bench

CAPTURE = """
    create or replace function public.bench_capture_only() returns trigger language plpgsql as $$
    begin perform count(*) from new_rows; return null; end $$
"""
VARIANTS = ("plain", "partitioned", "capture", "no trigger")


def _set_variant(conn, variant: str) -> None:
    """Which trigger runs on telemetry_events for this variant (the 0061 one is restored after)."""
    conn.execute("alter table public.telemetry_events enable trigger telemetry_event_ids_insert")
    conn.execute("drop trigger if exists bench_capture_only on public.telemetry_events")
    if variant in ("capture", "no trigger"):
        conn.execute("alter table public.telemetry_events disable trigger telemetry_event_ids_insert")
    if variant == "capture":
        conn.execute(CAPTURE)
        conn.execute("create trigger bench_capture_only after insert on public.telemetry_events"
                     " referencing new table as new_rows for each statement"
                     " execute function public.bench_capture_only()")


def run(url: str, n: int, rounds: int) -> dict[str, float]:
    scale.ingest_tables(url)
    columns = sql.SQL(", ").join(map(sql.Identifier, ingest_bench.COLUMNS))
    into = {"plain": sql.Identifier(scale.PLAIN), **dict.fromkeys(VARIANTS[1:], sql.SQL("public.telemetry_events"))}
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="tp-copy-keys-") as folder:
        _, csv_path = ingest_bench.write_inputs(Path(folder), n)
        for _ in range(rounds):
            for variant in VARIANTS:
                with scale.connect(url, autocommit=True) as conn:
                    conn.execute(sql.SQL("truncate {}, public.telemetry_events").format(sql.Identifier(scale.PLAIN)))
                    conn.execute("checkpoint")
                    _set_variant(conn, variant)
                    statement = sql.SQL("copy {} ({}) from stdin (format csv)").format(into[variant], columns)
                    began = time.perf_counter()
                    with conn.cursor() as cursor, cursor.copy(statement) as copy, csv_path.open("rb") as f:
                        while block := f.read(1 << 20):
                            copy.write(block)
                    rates[variant].append(n / (time.perf_counter() - began))
                    _set_variant(conn, "partitioned")
    return {v: max(r) for v, r in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = scratch.server_url()
    name = f"tp_bench_copy_keys_{os.getpid()}"
    url = scratch.create_database(server, name)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    try:
        best = run(url, args.events, args.rounds)
    finally:
        scratch.drop_database(server, name)
    for variant in VARIANTS:
        print(f"{variant:12} {best[variant]:>10,.0f} rows/s  ratio to plain {best[variant] / best['plain']:.2f}",
              flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
