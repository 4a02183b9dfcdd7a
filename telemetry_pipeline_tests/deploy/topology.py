"""The split topology of deploy/helm, run here: separate processes talking over the network.

What the Helm chart runs in pods, started as processes on 127.0.0.1 against a real PostgreSQL:

  migration   `telemetry-pipeline db migrate`                (the migration Job)
  code server `dagster code-server start -m telemetry_pipeline.definitions`  (the user deployment, gRPC)
  webserver   `dagster-webserver -w workspace.yaml`          (workspace = grpc_server entry, no user code)
  daemon      `dagster-daemon run -w workspace.yaml`         (schedules, sensors, run queue)
  collector   `telemetry-pipeline collector serve`           (a plain Deployment)
  dashboard   `telemetry-pipeline dashboard`                 (a plain Deployment)
  Slack       a loopback HTTP server answering like Slack's Web API

and then, end to end: events posted to the collector make an hour violate the `validation` SLO;
the daemon's scheduler launches the *scheduled* hourly run of that hour (the code server starts the
run worker); the daemon evaluates `slo_alert_sensor` in the code server, which delivers the alert
to the loopback Slack; the webserver (GraphQL) shows the run and the dashboard's API the violation.

The scheduled run without waiting up to an hour: the hourly schedule ticks at HH:05 for the hour
before. Before the daemon starts, the schedule's state is recorded as the daemon itself records
a schedule that is on by default (InstigatorStatus.DECLARED_IN_CODE), except that it was switched
on a minute before the latest HH:05 instead of now, as after a daemon outage across that tick. The
daemon's scheduler then evaluates that tick (its catch-up of missed ticks, up to
max_catchup_runs) and launches its run: a real schedule tick of the real daemon, recorded in the
tick history with the schedule's tags. Nothing else is simulated.

Run it with scripts/split-topology (or the pytest test beside this file). Every process binds
127.0.0.1, has its own process group and is killed at the end; the two databases are dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.core.warehouse.resource import libpq_url
from telemetry_pipeline.defs.dagster_tuning import DAGSTER_ENV_DEFAULTS
from telemetry_pipeline_tests.alerting.slack_api_server import SlackApiServer

LOCATION = "telemetry_pipeline"
HOURLY_SCHEDULE = "hourly_telemetry_schedule"
SCHEDULE_MINUTE = 5  # telemetry_pipeline/cadence.py SCHEDULE_TIMES["hour"]
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BIN = Path(sys.executable).parent
COLLECTOR_TOKEN = "split-topology-collector-token"
SLACK_TOKEN = "split-topology-slack-token"

#: The violating hour's events: 20 validations, 4 of them errors -> availability 80 % (< 99.9),
#: failure rate 20 % (>= 0.5): two violations of the `validation` SLO (sample 20 >= 10).
N_EVENTS, N_ERRORS = 20, 4
EXPECTED_ALERTS = [
    "[FIRING] SLO validation / availability violated",
    "[FIRING] SLO validation / error_rate violated",
]


def latest_tick(now: datetime) -> datetime:
    """The latest HH:05 UTC at or before `now`: when the hourly schedule last ticked."""
    tick = now.replace(minute=SCHEDULE_MINUTE, second=0, microsecond=0)
    return tick if tick <= now else tick - timedelta(hours=1)


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the process that gets it binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, condition: Callable[[], Any], deadline: float, interval: float = 0.5) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` at the deadline."""
    last_error: Exception | None = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except (OSError, urllib.error.URLError, psycopg.OperationalError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise TimeoutError(f"timed out waiting for {what}{detail}")
        time.sleep(interval)


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    """One HTTP request; the status and body, also for 4xx/5xx answers."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Topology:
    """The processes and databases of one split-topology run (see the module docstring)."""

    server_url: str
    workdir: Path
    log: Callable[[str], None] = print
    processes: list[Process] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    warehouse_url: str = ""
    slack: SlackApiServer | None = None
    names: tuple[str, ...] = ()
    workspace: Path = Path()

    # --- set-up -------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Fresh warehouse and Dagster-instance databases (empty, not migrated), DAGSTER_HOME with
        the project's dagster.yaml, the loopback Slack, ports, workspace.yaml, the environment."""
        suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
        self.names = (f"split_{suffix}", f"split_{suffix}_dagster")
        self.warehouse_url = scratch.create_database(self.server_url, self.names[0], migrated=False)
        dagster_url = scratch.create_database(self.server_url, self.names[1], migrated=False)
        home = self.workdir / "dagster_home"
        home.mkdir(parents=True)
        shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
        self.slack = SlackApiServer().start()
        self.ports = {name: free_port() for name in ("grpc", "webserver", "collector", "dashboard")}
        self.workspace = self.workdir / "workspace.yaml"
        self.workspace.write_text(
            "load_from:\n"
            "  - grpc_server:\n"
            "      host: 127.0.0.1\n"
            f"      port: {self.ports['grpc']}\n"
            f"      location_name: {LOCATION}\n"
        )
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SMTP_", "DAGSTER_"))}
        self.env = {
            **base,
            **DAGSTER_ENV_DEFAULTS,
            settings.DATABASE_URL_ENV: self.warehouse_url,
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_URL": scratch.dagster_storage_url(dagster_url),
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_CHANNEL": "#slo-alerts",
            "SLACK_API_BASE_URL": self.slack.base_url,
            "TELEMETRY_COLLECTOR_TOKEN": COLLECTOR_TOKEN,
            "DAGSTER_WEBSERVER_URL": f"http://127.0.0.1:{self.ports['webserver']}",
        }
        self.env.pop("ALERT_EMAIL_TO", None)

    def start(self, name: str, *argv: str) -> Process:
        """Start one component in its own process group, output to <workdir>/logs/<name>.log."""
        log = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("wb") as out:
            popen = subprocess.Popen(
                list(argv), env=self.env, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        self.log(f"started {name} (pid {popen.pid}): {' '.join(argv[:4])} ...")
        return process

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after 15 s; stop Slack; drop databases."""
        for process in reversed(self.processes):
            if process.alive():
                os.killpg(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in reversed(self.processes):
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # the group may hold run workers the leader started
                os.killpg(process.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.popen.wait()
        if self.slack is not None:
            self.slack.stop()
        for name in self.names:
            scratch.drop_database(self.server_url, name)

    # --- the steps ----------------------------------------------------------------------------
    def migrate(self) -> str:
        """The migration Job: `telemetry-pipeline db migrate` before anything else starts."""
        done = subprocess.run(
            [str(BIN / "telemetry-pipeline"), "db", "migrate"], env=self.env, capture_output=True, text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"db migrate failed: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def start_services(self, deadline: float) -> None:
        """Code server, collector, dashboard; the webserver once the code server serves (as the
        chart's readiness probes order them), then until each one answers."""
        p = self.ports
        grpc = self.start(
            "code-server", str(BIN / "dagster"), "code-server", "start", "-m", "telemetry_pipeline.definitions",
            "-h", "127.0.0.1", "-p", str(p["grpc"]), "--location-name", LOCATION,
        )
        self.start("collector", str(BIN / "telemetry-pipeline"), "collector", "serve", "--host", "127.0.0.1",
                   "--port", str(p["collector"]), "--pool-size", "2")
        self.start("dashboard", str(BIN / "telemetry-pipeline"), "dashboard", "--host", "127.0.0.1",
                   "--port", str(p["dashboard"]))
        self.watch(grpc, f"the code server on 127.0.0.1:{p['grpc']} to serve", self.code_server_serving, deadline)
        self.start("webserver", str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(p["webserver"]),
                   "-w", str(self.workspace))
        self.wait_healthy("collector", f"http://127.0.0.1:{p['collector']}/healthz", deadline)
        self.wait_healthy("dashboard", f"http://127.0.0.1:{p['dashboard']}/healthz", deadline)
        self.wait_healthy("webserver", f"http://127.0.0.1:{p['webserver']}/server_info", deadline)
        self.watch(grpc, "the code location loaded in the webserver (over gRPC)", self.location_loaded, deadline)

    def code_server_serving(self) -> bool:
        """The gRPC health check the chart's probes run (`dagster api grpc-health-check`)."""
        from dagster._grpc.client import DagsterGrpcClient

        client = DagsterGrpcClient(port=self.ports["grpc"], host="127.0.0.1")
        with contextlib.redirect_stdout(io.StringIO()):  # it prints the RpcError while not up yet
            return client.health_check_query() == "SERVING"

    def wait_healthy(self, name: str, url: str, deadline: float) -> None:
        process = next(p for p in self.processes if p.name == name)
        self.watch(process, f"{name} {url} -> 200", lambda: http("GET", url)[0] == 200, deadline)

    def watch(self, process: Process, what: str, condition: Callable[[], Any], deadline: float) -> Any:
        """wait_for, failing at once (with its log) when the process behind the condition died."""

        def check() -> Any:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited ({process.popen.returncode}):\n{process.tail()}")
            return condition()

        return wait_for(what, check, deadline)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        url = f"http://127.0.0.1:{self.ports['webserver']}/graphql"
        status, body = http("POST", url, json.dumps({"query": query, "variables": variables or {}}).encode(),
                            {"Content-Type": "application/json"})
        if status != 200:
            raise OSError(f"GraphQL answered {status}: {body[:300]!r}")
        payload = json.loads(body)
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def location_loaded(self) -> bool:
        data = self.graphql(
            "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
            "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
        )
        entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
        entry = entries.get(LOCATION)
        if entry and entry["locationOrLoadError"] and entry["locationOrLoadError"]["__typename"] == "PythonError":
            raise RuntimeError(f"code location failed to load: {entry['locationOrLoadError']['message']}")
        return bool(entry and entry["loadStatus"] == "LOADED" and entry["locationOrLoadError"])

    def post_events(self, hour: datetime) -> dict:
        """N_EVENTS validations in `hour` (N_ERRORS of them errors) as one NDJSON batch to the collector."""
        lines = []
        for i in range(N_EVENTS):
            status = "error" if i < N_ERRORS else "success"
            lines.append(json.dumps({
                "event_type": "provenance.validation",
                "event_timestamp": (hour + timedelta(minutes=2 * i + 1)).isoformat(),
                "event_id": f"split-topology-{hour:%Y%m%d%H}-{i}",
                "tag": "v1.2.3",
                "metadata": {"status": status, "duration_ms": 1000 + i},
            }))
        status, body = http(
            "POST", f"http://127.0.0.1:{self.ports['collector']}/v1/events", "\n".join(lines).encode(),
            {"Authorization": f"Bearer {COLLECTOR_TOKEN}", "Content-Type": "application/x-ndjson"},
        )
        if status != 202:
            raise RuntimeError(f"collector answered {status}: {body[:500]!r}")
        return json.loads(body)

    def backdate_hourly_schedule(self, tick: datetime) -> None:
        """Record the hourly schedule as on since a minute before `tick` (see the module docstring)."""
        from dagster import DagsterInstance
        from dagster._core.scheduler.instigation import (
            InstigatorState,
            InstigatorStatus,
            InstigatorType,
            ScheduleInstigatorData,
        )
        from dagster._core.workspace.context import WorkspaceProcessContext
        from dagster._core.workspace.load_target import WorkspaceFileTarget

        # dagster.yaml reads DAGSTER_PG_URL when the instance loads: this process's environment
        # points at the topology's instance for that moment only.
        instance_env = {k: self.env[k] for k in ("DAGSTER_HOME", "DAGSTER_PG_URL")}
        with mock.patch.dict(os.environ, instance_env), DagsterInstance.get() as instance, \
                WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(self.workspace)])) as context:
            location = context.create_request_context().get_code_location(LOCATION)
            (repository,) = location.get_repositories().values()
            schedule = repository.get_schedule(HOURLY_SCHEDULE)
            instance.add_instigator_state(InstigatorState(
                schedule.get_remote_origin(), InstigatorType.SCHEDULE, InstigatorStatus.DECLARED_IN_CODE,
                ScheduleInstigatorData(schedule.cron_schedule, (tick - timedelta(minutes=1)).timestamp()),
            ))

    def scheduled_runs(self) -> list[dict]:
        data = self.graphql(
            "query($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) { ... on Runs { results "
            "{ runId status jobName tags { key value } } } } }",
            {"tags": [{"key": "dagster/schedule_name", "value": HOURLY_SCHEDULE}]},
        )
        runs = data["runsOrError"]["results"]
        for run in runs:
            run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        return runs

    def slo_rows(self, hour: datetime) -> dict[str, tuple[float, bool, int]]:
        with psycopg.connect(self.warehouse_url) as conn:
            rows = conn.execute(
                "select sli, value::float8, met, sample_size from public.slo_status "
                "where slo_name = 'validation' and aggregation_period = 'hour' and period_start = %s",
                (hour,),
            ).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def alert_states(self) -> set[tuple[str, str]]:
        with psycopg.connect(self.warehouse_url) as conn:
            rows = conn.execute("select kind, state from public.slo_alerts where slo_name = 'validation'")
            return {(r[0], r[1]) for r in rows}


@dataclass
class Proof:
    """What one run of the topology established (asserted by the test, printed by the script)."""

    hour: datetime
    tick: datetime
    accepted: dict
    run: dict
    slo: dict[str, tuple[float, bool, int]]
    slack_texts: list[str]
    alert_states: set[tuple[str, str]]
    dashboard_violations: list[tuple[str, str, str, float]]
    seconds: dict[str, float]


def server_from_env() -> str:
    configured = os.environ.get(settings.DATABASE_URL_ENV)
    return libpq_url(configured) if configured else DEFAULT_SERVER


@contextmanager
def topology(server_url: str | None = None, log: Callable[[str], None] = print) -> Iterator[Topology]:
    workdir = Path(tempfile.mkdtemp(prefix="split-topology-"))
    topo = Topology(server_url or server_from_env(), workdir, log)
    try:
        topo.prepare()
        yield topo
    except BaseException:
        for process in topo.processes:  # the logs go with the work folder: show their ends first
            log(f"--- last lines of {process.name} ({process.log.name}):\n{process.tail(15)}")
        raise
    finally:
        topo.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def prove(topo: Topology, timeout: float = 420.0) -> Proof:
    """Run the steps of the module docstring; return what was observed (raises on a timeout)."""
    started = time.monotonic()
    deadline = started + timeout
    seconds: dict[str, float] = {}
    tick = latest_tick(datetime.now(UTC))
    hour = tick.replace(minute=0) - timedelta(hours=1)
    topo.log(f"scheduled tick {tick:%Y-%m-%d %H:%M} UTC materialises hour {hour:%Y-%m-%d %H}:00")

    topo.log(topo.migrate().strip() or "migrated")
    topo.start_services(deadline)
    seconds["services up"] = time.monotonic() - started
    accepted = topo.post_events(hour)
    topo.log(f"collector accepted: {accepted}")

    topo.backdate_hourly_schedule(tick)
    daemon = topo.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", str(topo.workspace))
    partition = f"{hour:%Y-%m-%d-%H:%M}"

    def finished_run() -> dict | None:
        for run in topo.scheduled_runs():
            if run["tags"].get("dagster/partition") == partition:
                if run["status"] in ("FAILURE", "CANCELED"):
                    raise RuntimeError(f"scheduled run {run['runId']} ended {run['status']}")
                if run["status"] == "SUCCESS":
                    return run
        return None

    run = topo.watch(daemon, f"the scheduled run of {partition} to succeed", finished_run, deadline)
    seconds["scheduled run done"] = time.monotonic() - started
    topo.log(f"scheduled run {run['runId']} ({run['jobName']}, partition {partition}): {run['status']}")
    assert topo.slack is not None
    topo.watch(daemon, "the sensor's alerts at the loopback Slack",
               lambda: topo.slack.wait_for_requests(len(EXPECTED_ALERTS), timeout=1.0), deadline)
    seconds["alerts delivered"] = time.monotonic() - started
    status, body = http("GET", f"http://127.0.0.1:{topo.ports['dashboard']}/api/violations")
    if status != 200:
        raise RuntimeError(f"dashboard /api/violations answered {status}: {body[:300]!r}")
    violations = sorted(
        (v["slo_name"], v["sli"], v["period_start"], float(v["value"]))
        for v in json.loads(body)["violations"]
    )
    return Proof(
        hour=hour, tick=tick, accepted=accepted, run=run, slo=topo.slo_rows(hour),
        slack_texts=sorted(t.split(":")[0] for t in topo.slack.texts()), alert_states=topo.alert_states(),
        dashboard_violations=violations, seconds=seconds,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/split-topology",
        description="Start the split topology of deploy/helm on 127.0.0.1 and prove a scheduled hourly run "
        "and a sensor-delivered Slack alert end to end (see docs/deploy.md).",
    )
    parser.add_argument("--server-url", default=None,
                        help=f"PostgreSQL server for the two scratch databases [default: ${settings.DATABASE_URL_ENV}'s "
                        f"server, else {DEFAULT_SERVER}]")
    parser.add_argument("--timeout", type=float, default=420.0, help="Seconds for the whole proof [default: 420].")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        with topology(args.server_url) as topo:
            proof = prove(topo, args.timeout)
    except (TimeoutError, RuntimeError) as exc:
        print(f"split-topology: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"slo_status validation {proof.hour:%Y-%m-%d %H}:00: {proof.slo}")
    print(f"alerts: {sorted(proof.alert_states)}")
    print("slack received:", *proof.slack_texts, sep="\n  ")
    print(f"dashboard /api/violations: {proof.dashboard_violations}")
    print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in proof.seconds.items())
          + f", total with teardown {time.monotonic() - started:.1f} s")
    hour = f"{proof.hour:%Y-%m-%dT%H:%M:%SZ}"
    ok = (
        proof.slack_texts == EXPECTED_ALERTS
        and proof.slo["availability"][:2] == (100.0 * (N_EVENTS - N_ERRORS) / N_EVENTS, False)
        and proof.slo["error_rate"][:2] == (100.0 * N_ERRORS / N_EVENTS, False)
        and ("violation", "sent") in proof.alert_states
        and ("validation", "availability", hour, 80.0) in proof.dashboard_violations
    )
    print("split-topology: OK" if ok else "split-topology: FAILED: the values above are not the expected ones")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
