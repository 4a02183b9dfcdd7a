"""The real-time half of bench/paging.py: paging through a running `dagster-daemon`.

What runs (each component a process of its own, in its own process group, on 127.0.0.1):
  warehouse   a scratch database on the PostgreSQL server, migrated by `telemetry-pipeline db migrate`
  instance    a scratch `..._dagster` database behind a DAGSTER_HOME holding the project's dagster.yaml
  collector   `telemetry-pipeline collector serve`: the traffic is posted to it over HTTP
  daemon      `dagster-daemon run -w workspace.yaml` (the project's code location, python_module):
              the default-on sensors and schedules as deployed, slo_fast_burn_sensor every 30 s
              and slo_alert_sensor among them
  Slack       the tests' loopback HTTP server answering like Slack's Web API (SLACK_API_BASE_URL)
The processes, the work folder and both databases are removed at the end, also on an error.

The traffic: --rate events per second with the current time as event_timestamp, alternating
provenance.validation and provenance.generation, all `success` except the validation events of
the outage (every one of them `error`: a full validation outage). Phases: --healthy-minutes of
traffic; then, unless --outage is 0, the outage from a random second of the following minute for
--outage seconds, then healthy traffic until every FIRING has its RESOLVED (at most
--resolve-minutes). Every Slack message is timed as it arrives. A message before the outage is
a false page; so is every message of a run with --outage 0.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from telemetry_pipeline.core import settings

sys.path.insert(0, str(settings.PROJECT_ROOT))  # the tests' stack helpers and Slack stand-in live beside the package
from telemetry_pipeline_tests.deploy.topology import (  # noqa: E402
    BIN,
    COLLECTOR_TOKEN,
    Topology,
    http,
    topology,
)

FAST_BURN_SENSOR = "slo_fast_burn_sensor"
#: Seconds the daemon gets to start its code location and record its first fast-burn tick.
START_TIMEOUT_S = 300.0
_SUBJECT = re.compile(r"^\[(FIRING|RESOLVED)\] SLO (\w+)(?: / (\w+))?")


@dataclass
class Arrival:
    at: float  # wall clock (time.time()) when the Slack stand-in had answered it
    status: str  # FIRING | RESOLVED
    key: str  # "slo / sli" (or "slo" for NO DATA)
    text: str


@dataclass
class Traffic:
    """The steady event stream to the collector, and the moments the outage began and ended."""

    collector_url: str
    rate: float
    outage_at: float = float("inf")
    recovery_at: float = float("inf")
    first_error_at: float | None = None  # event_timestamp of the first failing event
    first_recovered_at: float | None = None  # event_timestamp of the first good validation after it
    sent: Counter = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        next_at = time.time()
        while not self.stop.is_set():
            now = time.time()
            event_type = "provenance.validation" if n % 2 == 0 else "provenance.generation"
            failing = event_type == "provenance.validation" and self.outage_at <= now < self.recovery_at
            status = "error" if failing else "success"
            self._post(n, event_type, status, now)
            if failing and self.first_error_at is None:
                self.first_error_at = now
            if (event_type == "provenance.validation" and not failing and now >= self.recovery_at
                    and self.first_recovered_at is None):
                self.first_recovered_at = now
            self.sent[(event_type, status)] += 1
            n += 1
            next_at += 1 / self.rate
            self.stop.wait(max(0.0, next_at - time.time()))

    def _post(self, n: int, event_type: str, status: str, now: float) -> None:
        body = json.dumps({
            "event_type": event_type,
            "event_timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
            "event_id": f"bench-paging-{int(now)}-{n}",
            "tag": "v1.0.0",
            "metadata": {"status": status, "duration_ms": 1000 + n % 500},
        }).encode()
        code, answer = http("POST", self.collector_url, body,
                            {"Authorization": f"Bearer {COLLECTOR_TOKEN}", "Content-Type": "application/json"})
        if code != 202:
            raise RuntimeError(f"collector answered {code}: {answer[:300]!r}")


def fast_burn_ticks(dagster_url: str) -> Counter:
    """slo_fast_burn_sensor's ticks the daemon recorded in the instance's database, by status."""
    with psycopg.connect(dagster_url) as conn:
        try:
            rows = conn.execute("select status, count(*) from job_ticks where tick_body like %s group by status",
                                (f"%{FAST_BURN_SENSOR}%",)).fetchall()
        except psycopg.errors.UndefinedTable:  # the daemon has not created the instance's schema yet
            return Counter()
        return Counter({str(status): int(n) for status, n in rows})


def last_tick_message(dagster_url: str) -> str:
    """The newest finished fast-burn tick's skip message (the evaluation's summary) or error."""
    with psycopg.connect(dagster_url) as conn:
        row = conn.execute("select tick_body from job_ticks where tick_body like %s and status <> 'STARTED' "
                           "order by id desc limit 1", (f"%{FAST_BURN_SENSOR}%",)).fetchone()
    if not row:
        return "no tick"
    body = json.loads(row[0])
    error = body.get("error") or {}
    return str(body.get("skip_reason") or error.get("message") or body.get("status"))


def start_stack(topo: Topology, nice: int) -> tuple[str, str]:
    """Migrate, start the collector and the daemon; return the collector's events URL and the
    instance database's URL once the daemon has recorded a fast-burn tick."""
    topo.migrate()
    port = topo.ports["collector"]
    topo.start("collector", "nice", "-n", str(nice), str(BIN / "telemetry-pipeline"), "collector", "serve",
               "--host", "127.0.0.1", "--port", str(port), "--pool-size", "2")
    daemon = topo.start("daemon", "nice", "-n", str(nice), str(BIN / "dagster-daemon"), "run",
                        "-w", str(settings.PROJECT_ROOT / "workspace.yaml"))
    deadline = time.monotonic() + START_TIMEOUT_S
    topo.wait_healthy("collector", f"http://127.0.0.1:{port}/healthz", deadline)
    dagster_url = topo.env["DAGSTER_PG_URL"].replace("postgresql+psycopg2://", "postgresql://", 1)
    topo.watch(daemon, f"the daemon's first {FAST_BURN_SENSOR} tick", lambda: fast_burn_ticks(dagster_url), deadline)
    return f"http://127.0.0.1:{port}/v1/events", dagster_url


def _parse(at: float, text: str) -> Arrival:
    match = _SUBJECT.match(text)
    if not match:
        return Arrival(at, "?", "?", text)
    status, slo, sli = match.groups()
    return Arrival(at, status, f"{slo} / {sli}" if sli else slo, text)


def run_live(rate: float, healthy_minutes: float, outage: float, resolve_minutes: float, nice: int) -> int:
    """The run described in the module docstring; prints its figures; exit status 1 on a false page."""
    with topology(log=lambda line: print(line, flush=True)) as topo:
        collector_url, dagster_url = start_stack(topo, nice)
        slack = topo.slack
        assert slack is not None
        daemon = next(p for p in topo.processes if p.name == "daemon")
        traffic = Traffic(collector_url, rate)
        start = time.time()
        healthy_end = start + healthy_minutes * 60
        if outage > 0:
            traffic.outage_at = healthy_end + random.uniform(0, 60)
            traffic.recovery_at = traffic.outage_at + outage
        end_at = (traffic.recovery_at + resolve_minutes * 60) if outage > 0 else healthy_end
        print(f"stack up: daemon ticking {FAST_BURN_SENSOR}; traffic {rate}/s from "
              f"{datetime.fromtimestamp(start, UTC):%H:%M:%S} UTC", flush=True)
        writer = threading.Thread(target=traffic.run, daemon=True)
        writer.start()
        arrivals: list[Arrival] = []
        try:
            while time.time() < end_at:
                if not daemon.alive():
                    raise RuntimeError(f"dagster-daemon exited ({daemon.popen.returncode}):\n{daemon.tail()}")
                if not writer.is_alive():
                    raise RuntimeError("the traffic thread stopped (see its error above)")
                # Blocks until the stand-in answers a new request (or 1 s): arrival timed to the request.
                slack.wait_for_requests(len(slack.requests) + 1, timeout=1.0)
                for text in slack.texts()[len(arrivals):]:
                    arrivals.append(_parse(time.time(), text))
                    print(f"  +{arrivals[-1].at - start:.0f} s  {text[:140]}", flush=True)
                firing = Counter(a.key for a in arrivals if a.status == "FIRING")
                resolved = Counter(a.key for a in arrivals if a.status == "RESOLVED")
                if outage > 0 and time.time() > traffic.recovery_at and firing and resolved >= firing:
                    break
        finally:
            traffic.stop.set()
            writer.join()
        ticks = fast_burn_ticks(dagster_url)
        print(f"last {FAST_BURN_SENSOR} tick: {last_tick_message(dagster_url)[:300]}")
    return report(traffic, arrivals, start, healthy_minutes, outage, ticks)


def report(traffic: Traffic, arrivals: list[Arrival], start: float, healthy_minutes: float, outage: float,
           ticks: Counter) -> int:
    sent = ", ".join(f"{t.split('.')[1]} {s} {n}" for (t, s), n in sorted(traffic.sent.items()))
    by_status = ", ".join(f"{s.lower()} {n}" for s, n in sorted(ticks.items()))
    print(f"traffic: {traffic.rate}/s ({sent}); {FAST_BURN_SENSOR} ticks by the daemon: {by_status}")
    false_pages = [a for a in arrivals if a.at < traffic.outage_at]
    if outage <= 0:
        print(f"healthy run: {healthy_minutes:.0f} min of traffic, no outage; messages: {len(arrivals)}"
              f" (false pages: {len(false_pages)})")
        for a in arrivals:
            print(f"  false page at +{a.at - start:.0f} s: {a.text[:200]}")
        return 1 if false_pages else 0
    first_error = traffic.first_error_at or traffic.outage_at
    recovered = traffic.first_recovered_at or traffic.recovery_at
    print(f"outage: validation from +{first_error - start:.1f} s (first failing event) for {outage:.0f} s; "
          f"recovery (first good validation event) at +{recovered - start:.1f} s")
    for a in arrivals:
        if a.status == "FIRING":
            print(f"  [FIRING]   {a.key}: {a.at - first_error:.1f} s after the first failing event")
        elif a.status == "RESOLVED":
            print(f"  [RESOLVED] {a.key}: {a.at - recovered:.1f} s after recovery")
        else:
            print(f"  unrecognised message at +{a.at - start:.0f} s: {a.text[:200]}")
    per_sli = Counter((a.key, a.status) for a in arrivals)
    print("messages per SLI: " + "; ".join(f"{k} {s} x{n}" for (k, s), n in sorted(per_sli.items())))
    unresolved = {a.key for a in arrivals if a.status == "FIRING"} - {a.key for a in arrivals if a.status == "RESOLVED"}
    print(f"messages: {len(arrivals)}; false pages before the outage: {len(false_pages)}"
          + (f"; still FIRING at the end: {', '.join(sorted(unresolved))}" if unresolved else ""))
    return 1 if false_pages else 0

