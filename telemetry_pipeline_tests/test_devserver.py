"""The README run command's bootstrap: no demo rows in an external warehouse, catch-up backfill."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, EventRecordsFilter
from psycopg.types.json import Jsonb

from telemetry_pipeline.apps import devserver
from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import partition_key_for, period_start_of
from telemetry_pipeline.core.warehouse import scratch


def test_bootstrap_materialises_the_window_once_and_seeds_nothing_external(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("TELEMETRY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(devserver.DAGSTER_PG_URL_ENV, raising=False)
    monkeypatch.setenv(settings.PARTITIONS_START_ENV, "")  # unset, and restored after the test
    hour = period_start_of(datetime.now(UTC), "hour") - timedelta(hours=3)
    audit_hour = hour - timedelta(hours=1)
    first_day = (hour - timedelta(days=3)).date()  # an old event: outside the 1-day window, first data
    with warehouse.connect() as conn:
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s)",
            ("provenance.generation", hour + timedelta(minutes=5), Jsonb({"status": "success", "duration_ms": 10})),
        )
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s)",
            ("provenance.generation", f"{first_day}T00:30Z", Jsonb({"status": "success", "duration_ms": 10})),
        )
        conn.execute(
            "insert into public.slsa_audit_metrics (audited_at, status, sha256_verified,"
            " predicate_type_verified, supabase_synced) values (%s, 'success', true, true, true)",
            (audit_hour + timedelta(minutes=7),),
        )
    storage = devserver.dagster_storage_url()  # <test db>_dagster on the same server
    try:
        devserver.bootstrap(days=1, seed=7)  # TELEMETRY_DATABASE_URL is set: external, no demo rows
        with warehouse.connect() as conn:
            events = conn.execute("select count(*) from public.telemetry_events").fetchone()[0]
            hours = conn.execute(
                "select count(*) from public.kpi_aggregations where metric_name = 'event_count'"
                " and aggregation_period = 'hour' and period_start = %s", (hour,)
            ).fetchone()[0]
            slo_rows = conn.execute(
                "select count(*) from public.slo_status where aggregation_period = 'hour' and period_start = %s",
                (hour,),
            ).fetchone()[0]
        assert events == 2 and hours == 1 and slo_rows == 3  # provenance_generation's three SLIs
        env = devserver.dagster_environment()
        assert devserver.missing_ranges(env, 1) == []  # nothing left to catch up
        # The partitions start on the first day with data, in the Dagster processes too.
        assert env[settings.PARTITIONS_START_ENV] == f"{first_day}"
        # The weekly partitions start on the Monday of that day's week, and a week has a partition
        # once it has closed: from Thursday to Sunday, three days back is still this week.
        monday = first_day - timedelta(days=first_day.weekday())
        week_closed = datetime(monday.year, monday.month, monday.day, tzinfo=UTC) + timedelta(days=7) <= datetime.now(UTC)
        assert _first_partition_keys(env) == {
            "hour": f"{first_day}-00:00",
            "day": f"{first_day}",
            "week": f"{monday}" if week_closed else None,
        }
        # The window starts at 00:00 UTC of its first day: that day's first hour is materialised too.
        assert f"{datetime.now(UTC) - timedelta(days=1):%Y-%m-%d}-00:00" in _materialized(env, monkeypatch)
        # slsa_audit_metrics was observed at start-up: a data version for the audit's hour.
        assert _observed_versions(env, monkeypatch) == {partition_key_for(audit_hour, "hour"): "1"}
    finally:
        scratch.drop_database(scratch.server_url(), storage.rsplit("/", 1)[1].split("?")[0])


# --- process supervision: real processes, signals and ports -----------------------------------

START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid_part, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(pid_part.split(" (")[0]))
    return members


class _Lines:
    """The merged output of a process, read on a thread, waited on with a deadline."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def until(self, done: Callable[[list[str]], bool], timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while not done(self.seen):
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no such output within {timeout} s; seen:\n{''.join(self.seen)}") from None
            assert line is not None, f"process exited early:\n{''.join(self.seen)}"
            self.seen.append(line)
        return self.seen


def _fixture(*ports: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "telemetry_pipeline_tests.supervised_fixture", *map(str, ports)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=settings.PROJECT_ROOT,
    )


def _ready_pids(lines: list[str]) -> list[tuple[int, int]]:
    found = re.findall(r"ready port=\d+ child=(\d+) grandchild=(\d+)", "".join(lines))
    return [(int(child), int(grandchild)) for child, grandchild in found]


def _ready_ports(lines: list[str]) -> dict[int, tuple[int, int]]:
    """child pid -> (port, grandchild pid), from the fixture's ready lines."""
    found = re.findall(r"ready port=(\d+) child=(\d+) grandchild=(\d+)", "".join(lines))
    return {int(child): (int(port), int(grandchild)) for port, child, grandchild in found}


def _wait_gone(pids: list[int], pgids: list[int], timeout: float = 30.0) -> None:
    """Bounded wait until none of `pids` lives and every group in `pgids` is empty."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if _is_live(p)]
        groups = [g for g in pgids if _group_members(g)]
        if not alive and not groups:
            return
        assert time.monotonic() < deadline, f"still running: pids {alive}, groups {groups}"
        time.sleep(0.05)  # processes that are not our children cannot be waited on


def _is_live(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@contextmanager
def _running_fixture() -> Iterator[tuple[subprocess.Popen, _Lines, tuple[int, int], list[tuple[int, int]]]]:
    """The fixture supervisor with both children ready: (process, its output, ports, (child, grandchild) pids)."""
    ports = (_free_port(), _free_port())
    parent = _fixture(*ports)
    try:
        lines = _Lines(parent)
        lines.until(lambda seen: len(_ready_pids(seen)) == 2, START_TIMEOUT)
        yield parent, lines, ports, _ready_pids(lines.seen)
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_stops_every_child_and_grandchild(sig):
    with _running_fixture() as (parent, _lines, ports, pids):
        children = [c for c, _ in pids]
        for child, grandchild in pids:
            assert sorted(_group_members(child)) == sorted([child, grandchild])  # each child leads its group
        parent.send_signal(sig)
        assert parent.wait(START_TIMEOUT) == 128 + sig
        _wait_gone([p for pair in pids for p in pair], children)
        for port in ports:  # both ports free again: a restart can bind them
            devserver.check_ports([devserver.Child("again", [], "127.0.0.1", port)])


def test_a_child_exiting_stops_the_others():
    with _running_fixture() as (parent, lines, ports, pids):
        # The ready lines come in either order: name the killed child by the port its own line gave.
        port, _ = _ready_ports(lines.seen)[pids[0][0]]
        os.kill(pids[0][0], signal.SIGKILL)  # that child dies; its grandchild and the other go too
        assert parent.wait(START_TIMEOUT) == 1
        _wait_gone([p for pair in pids for p in pair], [c for c, _ in pids])
        assert port in ports
        lines.until(lambda seen: any(f"child-{port} exited with status -9" in line for line in seen), 10)


def test_taken_port_exits_non_zero_naming_it_and_starts_nothing():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = _free_port()
        parent = _fixture(free, port)
        output, _ = parent.communicate(timeout=START_TIMEOUT)
        assert parent.returncode == 1
        assert f"port {port} on 127.0.0.1 (for child-{port}) is not free" in output
        assert "started " not in output and "ready port=" not in output and "Traceback" not in output


def test_dev_with_its_ports_taken_exits_before_bootstrapping(warehouse_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "telemetry_pipeline.cli", "dev", "--port", str(port),
             "--dashboard-port", str(_free_port())],
            capture_output=True, text=True, timeout=START_TIMEOUT,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 (for dg dev) is not free: Address already in use; "
        "is another `telemetry-pipeline dev` running? Stop it (or pick another port) first"
    ]
    assert "applied" not in proc.stdout and "materialising" not in proc.stdout


def _first_partition_keys(env: dict[str, str]) -> dict[str, str | None]:
    """The first partition key of each granularity as a Dagster process started with `env` sees it
    (None: no partition yet)."""
    code = (
        "import json; from telemetry_pipeline.definitions import defs; "
        "g = defs.get_repository_def().asset_graph; "
        "print(json.dumps({p: g.get(k).partitions_def.get_first_partition_key() for p, k in "
        "[('hour', 'kpi_aggregations_hourly'), ('day', 'kpi_aggregations_daily'), ('week', 'kpi_aggregations_weekly')]"
        " for k in [__import__('dagster').AssetKey(k)]}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _observed_versions(env: dict[str, str], monkeypatch) -> dict[str, str]:
    """Partition -> audit count of the data versions recorded for slsa_audit_metrics in the instance."""
    for name in ("DAGSTER_HOME", devserver.DAGSTER_PG_URL_ENV):
        monkeypatch.setenv(name, env[name])
    with DagsterInstance.get() as instance:
        records = instance.get_event_records(
            EventRecordsFilter(DagsterEventType.ASSET_OBSERVATION, asset_key=AssetKey("slsa_audit_metrics"))
        )
    return {r.partition_key: r.asset_observation.tags["dagster/data_version"].split(":")[0] for r in records}


def test_dagster_yaml_is_valid_and_switches_the_onboarding_modal_off(tmp_path, monkeypatch):
    """Dagster validates the project's instance file; `nux: enabled: false` keeps the UI unobstructed."""
    from dagster._core.instance.config import dagster_instance_config

    monkeypatch.setenv(devserver.DAGSTER_PG_URL_ENV, "postgresql+psycopg2://u@127.0.0.1:5432/d")
    (tmp_path / "dagster.yaml").write_text((settings.PROJECT_ROOT / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["nux"] == {"enabled": False}
    assert config["telemetry"] == {"enabled": False}


def _materialized(env: dict[str, str], monkeypatch) -> set[str]:
    """The hourly partitions of slo_status_hourly materialised in the instance `env` points at."""
    for name in ("DAGSTER_HOME", devserver.DAGSTER_PG_URL_ENV):
        monkeypatch.setenv(name, env[name])
    with DagsterInstance.get() as instance:
        return set(instance.get_materialized_partitions(AssetKey("slo_status_hourly")))


@pytest.mark.parametrize(
    ("database_url", "demo", "user_file", "expected"),
    [
        (None, None, None, "demo"),  # embedded warehouse: the demo data, the demo's teams
        ("postgresql://db/real", None, None, None),  # an external warehouse is real: no teams file
        ("postgresql://db/real", True, None, "demo"),  # unless --demo asks for the demo
        (None, False, None, None),  # --no-demo
        (None, None, "/etc/teams.yaml", "/etc/teams.yaml"),  # a user-set file always wins
        ("postgresql://db/real", True, "/etc/teams.yaml", "/etc/teams.yaml"),
    ],
)
def test_dev_uses_the_demo_teams_file_only_for_the_demo(monkeypatch, database_url, demo, user_file, expected):
    from telemetry_pipeline.core.demo.fleet import DEMO_TEAMS_FILE

    # an empty variable counts as unset; monkeypatch restores both afterwards
    monkeypatch.setenv(settings.DATABASE_URL_ENV, database_url or "")
    monkeypatch.setenv(settings.TEAMS_FILE_ENV, user_file or "")
    devserver.use_demo_teams(demo)
    chosen = os.environ.get(settings.TEAMS_FILE_ENV) or None
    assert chosen == (str(DEMO_TEAMS_FILE) if expected == "demo" else expected)
