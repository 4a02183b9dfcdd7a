"""Benchmark: `telemetry-pipeline ingest` vs plain COPY, and collector throughput (issue 4, item 6).

    .venv/bin/python bench/ingest.py [--events 1000000] [--rounds 2] [--batches 400] [--clients 4]

In one run, on a scratch database of the warehouse server (embedded PostgreSQL, or the server of
TELEMETRY_DATABASE_URL):
  (a) the baseline: plain `COPY telemetry_events (...) FROM STDIN (FORMAT csv)` of N rows from a
      CSV file, the floor for getting rows into the table (it pays the same stored generated
      columns and indexes as ingest, and validates nothing);
  (b) `telemetry-pipeline ingest FILE --json` of the same N rows as NDJSON, as a user runs it
      (a child process), its peak resident memory measured by the kernel (wait4), for N and N/10
      rows to show that memory does not grow with the file; then the same file once more, when
      every event is a duplicate (the staging + on-conflict path);
  (c) the collector (`telemetry-pipeline collector serve` in a child process) taking 100-event
      NDJSON batches over loopback HTTP/1.1 keep-alive from a few client threads.
Prints the rows/s of each, the ratio ingest/COPY (target >= 0.5) and events/s of the collector.
The table is truncated before each load. Not a test: the machine is shared and noisy, so compare
figures within one run (rounds alternate COPY and ingest; the best round of each is reported).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.warehouse import scratch

COLUMNS = ("event_type", "event_timestamp", "run_id", "tag", "metadata", "event_id")
TYPES = ("provenance.generation", "provenance.validation", "workflow.run", "api.request", "release.publish")
STATUSES = ("success",) * 8 + ("failure", "error")
TOKEN = "bench-token"  # a throwaway token for the scratch collector


def event(i: int, rnd: random.Random, start: datetime, prefix: str = "evt") -> dict:
    """One realistic event: every KPI field, a third of the numbers as strings, an event_id."""
    kind = TYPES[i % len(TYPES)]
    duration = rnd.randint(200, 400_000)
    metadata: dict = {"status": rnd.choice(STATUSES), "duration_ms": duration if i % 3 else str(duration)}
    if kind == "provenance.generation":
        metadata["artifact_size_bytes"] = rnd.randint(10_000, 200_000_000)
    if kind == "api.request":
        metadata["status_code"] = 200
    metadata["workflow"] = "release.yml"
    return {
        "event_type": kind,
        "event_timestamp": (start + timedelta(seconds=i * 3.1)).isoformat().replace("+00:00", "Z"),
        "run_id": 9_000_000_000 + i // 6,
        "tag": f"v2.{i % 40}.{i % 7}",
        "metadata": metadata,
        "event_id": f"{prefix}-{i:010d}",
    }


def write_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    """The same N events as NDJSON (for ingest) and CSV (for COPY)."""
    ndjson, csv_path = folder / "events.ndjson", folder / "events.csv"
    rnd = random.Random(4)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with ndjson.open("wb") as nd, csv_path.open("w", newline="") as cf:
        writer = csv.writer(cf)
        for i in range(n):
            e = event(i, rnd, start)
            nd.write(orjson.dumps(e) + b"\n")
            writer.writerow([e["event_type"], e["event_timestamp"], e["run_id"], e["tag"],
                             orjson.dumps(e["metadata"]).decode(), e["event_id"]])
    return ndjson, csv_path


def truncate(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate public.telemetry_events, public.telemetry_events_rejected")
        conn.execute("checkpoint")


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from public.telemetry_events").fetchone()[0]


def run_copy(url: str, csv_path: Path) -> float:
    """Plain COPY of the CSV file, streamed; returns seconds."""
    statement = f"copy public.telemetry_events ({', '.join(COLUMNS)}) from stdin (format csv)"
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cursor, cursor.copy(statement) as copy:
        with csv_path.open("rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)
    return time.perf_counter() - started


def run_ingest(url: str, path: Path) -> tuple[float, dict, int]:
    """`telemetry-pipeline ingest` in a child; returns (wall seconds, its summary, peak RSS KiB)."""
    env = {**os.environ, settings.DATABASE_URL_ENV: url}
    cli = Path(sys.executable).with_name("telemetry-pipeline")
    started = time.perf_counter()
    child = subprocess.Popen([str(cli), "ingest", str(path), "--json", "--no-progress"], env=env,
                             stdout=subprocess.PIPE)
    out = child.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"ingest failed with exit code {child.returncode}")
    return wall, orjson.loads(out), usage.ru_maxrss


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_collector(url: str, batches: int, clients: int) -> tuple[float, int]:
    """Events/s of the collector for 100-event NDJSON batches; returns (events/s, rows stored)."""
    port = free_port()
    env = {**os.environ, settings.DATABASE_URL_ENV: url, "TELEMETRY_COLLECTOR_TOKEN": TOKEN}
    cli = Path(sys.executable).with_name("telemetry-pipeline")
    server = subprocess.Popen([str(cli), "collector", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:  # a benchmark waiting for a child process to listen: poll /healthz
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("collector did not come up within 60 s")
            time.sleep(0.2)
        rnd = random.Random(9)
        start = datetime(2025, 6, 1, tzinfo=UTC)
        bodies = [
            b"".join(orjson.dumps(event(b * 100 + i, rnd, start, "col")) + b"\n" for i in range(100))
            for b in range(batches)
        ]
        failures: list[str] = []

        def client(mine: list[bytes]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
            for body in mine:
                conn.request("POST", "/v1/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 202:
                    failures.append(str(response.status))

        threads = [threading.Thread(target=client, args=(bodies[k::clients],)) for k in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        if failures:
            raise SystemExit(f"collector answered {len(failures)} requests with {sorted(set(failures))}")
        return batches * 100 / seconds, count(url)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batches", type=int, default=400, help="collector: 100-event batches to send")
    parser.add_argument("--clients", type=int, default=4, help="collector: concurrent client connections")
    args = parser.parse_args()

    server = scratch.server_url()
    name = f"tp_bench_ingest_{os.getpid()}"
    url = scratch.create_database(server, name)
    folder = Path(tempfile.mkdtemp(prefix="tp_bench_ingest_"))
    try:
        t = time.perf_counter()
        ndjson, csv_path = write_inputs(folder, args.events)
        (folder / "small").mkdir()
        small, _ = write_inputs(folder / "small", args.events // 10)
        print(f"inputs: {args.events:,} events, NDJSON {ndjson.stat().st_size / 1e6:.0f} MB, "
              f"CSV {csv_path.stat().st_size / 1e6:.0f} MB ({time.perf_counter() - t:.1f} s to write)")
        copy_best = ingest_best = wall_best = float("inf")
        peak_kib = 0
        for r in range(1, args.rounds + 1):
            truncate(url)
            copy_s = run_copy(url, csv_path)
            assert count(url) == args.events
            truncate(url)
            wall, summary, peak_kib = run_ingest(url, ndjson)
            assert summary["accepted"] == args.events and count(url) == args.events, summary
            print(f"round {r}: COPY {copy_s:.2f} s ({args.events / copy_s:,.0f} rows/s); ingest "
                  f"{summary['seconds']:.2f} s in the command, {wall:.2f} s wall incl. start-up "
                  f"({summary['lines_per_second']:,.0f} rows/s), ratio {copy_s / summary['seconds']:.2f}x, "
                  f"peak RSS {peak_kib / 1024:.0f} MiB")
            copy_best, ingest_best, wall_best = min(copy_best, copy_s), min(ingest_best, summary["seconds"]), min(wall_best, wall)
        _, again, _ = run_ingest(url, ndjson)  # every id stored already: the staging path
        assert again["duplicates"] == args.events and again["accepted"] == 0, again
        truncate(url)
        _, small_summary, small_kib = run_ingest(url, small)
        copy_rate, ingest_rate = args.events / copy_best, args.events / ingest_best
        print(f"COPY (baseline)  {copy_rate:>10,.0f} rows/s")
        print(f"ingest           {ingest_rate:>10,.0f} rows/s   ratio {ingest_rate / copy_rate:.2f}x "
              f"(target >= 0.5x); wall incl. process start {args.events / wall_best:,.0f} rows/s "
              f"= {args.events / wall_best / copy_rate:.2f}x")
        print(f"re-ingest        {again['lines_per_second']:>10,.0f} rows/s   (the same file again: all "
              f"{args.events:,} duplicates, through staging + on conflict)")
        print(f"ingest peak RSS  {peak_kib / 1024:.0f} MiB for {args.events:,} rows, "
              f"{small_kib / 1024:.0f} MiB for {small_summary['lines']:,} rows")
        truncate(url)
        rate, stored = bench_collector(url, args.batches, args.clients)
        assert stored == args.batches * 100, stored
        print(f"collector        {rate:>10,.0f} events/s ({args.batches} NDJSON batches of 100 events, "
              f"{args.clients} keep-alive clients, loopback)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        scratch.drop_database(server, name)


if __name__ == "__main__":
    main()
