"""`telemetry-pipeline dev` (the README's run command) and `telemetry-pipeline env`.

`dev` takes a fresh clone to a running UI: start/migrate the warehouse, seed 90 days of demo
telemetry when the warehouse is empty, materialise what of those 90 days is not materialised yet
(all of it on the first start, the gap after downtime; single-run backfills), then run `dg dev` on 127.0.0.1:3000 with the project's
dagster.yaml (runs, events and schedules in PostgreSQL) and the KPI dashboard beside it.

The two long-running children are supervised (`supervise`): each runs in its own process group,
SIGTERM, SIGINT or SIGHUP of `dev` (or of `make run`, which passes SIGTERM on) stops both groups
with everything they started (Dagster's webserver, daemon and code servers), and one child
exiting stops the other. Before anything starts, both ports are checked: a second `dev` beside a
running one says which port is taken and exits 1 instead of running half a stack.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import psycopg
from psycopg import sql

from telemetry_pipeline.core import settings, warehouse
from telemetry_pipeline.core.granularity import Granularity
from telemetry_pipeline.core.settings import DAGSTER_PG_URL_ENV
from telemetry_pipeline.core.warehouse import embedded, libpq_url, one
from telemetry_pipeline.core.warehouse.migrate import migrate
from telemetry_pipeline.defs.dagster_tuning import DAGSTER_ENV_DEFAULTS

DASHBOARD_PORT = 3001
#: Signals that stop `dev` and its children.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: How long a child's process group gets after SIGTERM before it is killed.
STOP_TIMEOUT_S = 20.0


def dagster_home() -> Path:
    return settings.data_dir() / "dagster_home"


def dagster_storage_url() -> str:
    """Dagster's own database: DAGSTER_PG_URL, else `<db>_dagster` beside the warehouse."""
    configured = settings.current().dagster_pg_url
    if configured:
        return configured
    external = settings.database_url()
    if not external:
        return embedded.dagster_storage_url()
    from urllib.parse import urlsplit

    libpq = libpq_url(external)
    name = (urlsplit(libpq).path.lstrip("/") or "postgres") + "_dagster"
    server = embedded.database_url(libpq, "postgres")
    return embedded.ensure_database(server, name).replace("postgresql://", "postgresql+psycopg2://", 1)


def dagster_environment() -> dict[str, str]:
    """Environment for Dagster processes: DAGSTER_HOME with the project's dagster.yaml, storage URL."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(home)
    env[DAGSTER_PG_URL_ENV] = dagster_storage_url()
    for name, value in DAGSTER_ENV_DEFAULTS.items():
        env.setdefault(name, value)
    return env


def first_data_day(url: str) -> date | None:
    """The UTC day of the earliest event or audit in the warehouse (None when it holds neither)."""
    with psycopg.connect(url) as conn:
        first: date | None = one(conn.execute(
            "select (least((select min(event_timestamp) from public.telemetry_events),"
            " (select min(audited_at) from public.slsa_audit_metrics)) at time zone 'UTC')::date"
        ))[0]
        return first


def pin_partitions_start(url: str) -> None:
    """Unless TELEMETRY_PARTITIONS_START is set, start the partitions on the first day with data.

    Exported through this process's environment to every Dagster process `dev` starts (and
    printed by `env`), so the UI shows partitions only where telemetry exists: the demo's 90 days
    show as fully materialised rather than as 88 % missing since the default 2025-01-01.
    """
    if settings.current().is_set(settings.PARTITIONS_START_ENV):
        return
    first = first_data_day(url)
    if first is not None:
        os.environ[settings.PARTITIONS_START_ENV] = first.isoformat()


def demo_in_use(demo: bool | None) -> bool:
    """Whether `dev` runs on demo data: --demo/--no-demo, else only on the embedded warehouse."""
    return (not settings.database_url()) if demo is None else demo


def use_demo_teams(demo: bool | None) -> None:
    """Unless TELEMETRY_TEAMS_FILE is set, use the demo's teams file when the demo data is in use.

    Exported through this process's environment to every Dagster process `dev` starts (and
    printed by `env`), so the demo's scoped rows have teams. Never on a real install: with an
    external warehouse (TELEMETRY_DATABASE_URL) and no --demo, there are no teams unless the
    user names a file; a user-set TELEMETRY_TEAMS_FILE always wins.
    """
    if settings.current().is_set(settings.TEAMS_FILE_ENV) or not demo_in_use(demo):
        return
    from telemetry_pipeline.core.demo.fleet import DEMO_TEAMS_FILE

    os.environ[settings.TEAMS_FILE_ENV] = str(DEMO_TEAMS_FILE)


def _warehouse() -> warehouse.Warehouse:
    return warehouse.configured()


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return int(one(conn.execute(sql.SQL("select count(*) from public.{}").format(sql.Identifier(table))))[0])


def materialize_range(env: dict[str, str], keys: list[str], first: str, last: str) -> None:
    """One single-run backfill through the Dagster CLI (recorded in the instance, seen in the UI)."""
    args = [
        "asset", "materialize", "-m", "telemetry_pipeline.definitions",
        "--select", ",".join(keys), "--partition-range", f"{first}...{last}",
    ]
    run_dagster_cli(env, args, keys[0], f"materialising {','.join(keys)} {first}...{last}")


def run_dagster_cli(env: dict[str, str], args: list[str], log_name: str, what: str) -> None:
    """`dagster <args>` against the project's instance, its output in .data/logs/bootstrap-<log_name>.log."""
    log_path = settings.data_dir() / "logs" / f"bootstrap-{log_name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"{what} (log: {log_path})")
    started = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.run([sys.executable, "-m", "dagster", *args], env=env, cwd=settings.PROJECT_ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise click.ClickException(f"{what} failed; see {log_path}")
    click.echo(f"  done in {time.perf_counter() - started:.1f} s")


def bootstrap(days: int, seed: int, demo: bool | None = None) -> None:
    """Warehouse up and migrated; demo data when empty; the last `days` materialised.

    Demo data goes only into the embedded warehouse unless asked for (`demo=True`): an empty
    external database (a fresh Supabase, say) is real, and synthetic rows there would be data.

    The materialisation step catches up whatever is missing in that window (all of it on the
    first start, the hours/days/weeks the machine was off after a restart: Dagster's scheduler
    only catches up a few missed ticks) as one single-run backfill per granularity.
    """
    url = _warehouse().url()
    for name in migrate(url):
        click.echo(f"applied {name}")
    if demo_in_use(demo) and _count(url, "telemetry_events") == 0:
        from telemetry_pipeline.core.demo.seed import seed_demo

        summary = seed_demo(url, days=days, seed=seed)
        click.echo(f"seeded demo telemetry: {summary}")
    pin_partitions_start(url)
    env = dagster_environment()
    for keys, first, last in missing_ranges(env, days):
        materialize_range(env, keys, first, last)
    observe_audits(env)


def observe_audits(env: dict[str, str]) -> None:
    """Observe slsa_audit_metrics once, so the UI opens with it observed (its schedule is hourly)."""
    from telemetry_pipeline.defs.audits.assets import OBSERVATION_JOB_NAME

    run_dagster_cli(env, ["job", "execute", "-m", "telemetry_pipeline.definitions", "-j", OBSERVATION_JOB_NAME],
                    "observe-slsa_audit_metrics", "observing slsa_audit_metrics")


def missing_ranges(env: dict[str, str], days: int) -> list[tuple[list[str], str, str]]:
    """Per granularity, (assets, first, last) from the first unmaterialised partition of the window."""
    from dagster import AssetKey, DagsterInstance

    from telemetry_pipeline.definitions import defs
    from telemetry_pipeline.defs.cadence.jobs import selection
    from telemetry_pipeline.defs.partitions import partitions_for

    now = datetime.now(UTC)
    # From the start of that UTC day: the demo's first day is the first partition (pin_partitions_start),
    # so its hours before the first event are materialised (empty) too, not shown as missing.
    since = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    ranges = []
    # dagster.yaml reads DAGSTER_PG_URL from the environment; set it for the load only.
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", DAGSTER_PG_URL_ENV)}
    os.environ.update({k: env[k] for k in saved})
    try:
        instance = DagsterInstance.get()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    with instance:
        graph = defs.resolve_asset_graph()
        for granularity in Granularity:
            selected = selection(granularity).resolve(graph)
            keys = [k.to_user_string() for k in graph.toposorted_asset_keys if k in selected]
            partitions = partitions_for(granularity)
            window = [
                k for k in partitions.get_partition_keys(current_time=now)
                if partitions.time_window_for_partition_key(k).end > since
            ]
            done = set(instance.get_materialized_partitions(AssetKey(granularity.slo_asset)))
            missing = [k for k in window if k not in done]
            if missing:
                ranges.append((keys, missing[0], window[-1]))
    return ranges


@dataclass(frozen=True)
class Child:
    """A long-running process of the stack and the port it must be able to listen on."""

    name: str
    argv: list[str]
    host: str
    port: int


def check_ports(children: Sequence[Child]) -> None:
    """Refuse to start when a port is taken (most often by a `dev` still running), naming it."""
    for child in children:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the servers bind: SO_REUSEADDR ignores TIME_WAIT leftovers, not a listener.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((child.host, child.port))
            except OSError as exc:
                raise click.ClickException(
                    f"port {child.port} on {child.host} (for {child.name}) is not free: {exc.strerror}; "
                    "is another `telemetry-pipeline dev` running? Stop it (or pick another port) first"
                ) from None


def _group_alive(pgid: int) -> bool:
    """Whether process group `pgid` still has a live (non-zombie) member."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: a zombie counts as alive, the SIGKILL fallback still applies
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_groups(procs: Sequence[subprocess.Popen], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM every child's process group, wait (bounded) until they are empty, SIGKILL the rest."""
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    # Members the leaders left behind (a daemon's workers, say) get until the same deadline.
    while any(_group_alive(p.pid) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)  # nothing to block on for processes that are not our children
    for proc in procs:
        if _group_alive(proc.pid):
            name = proc.args[0] if isinstance(proc.args, list | tuple) else proc.args
            click.echo(f"{name!s}: process group {proc.pid} ignored SIGTERM; killing it", err=True)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.poll()


def supervise(children: Sequence[Child], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Run `children` until one exits or a stop signal arrives; stop them all; the exit status.

    Each child leads its own process group, so stopping it reaches what it started. The loop
    blocks on a pipe the signal handlers write to (signal.set_wakeup_fd): no polling, and no
    window between checking the children and waiting in which a signal could be missed.
    Returns 128 + the signal's number when stopped by a signal (as a shell reports it), 1 when
    a child exited on its own.
    """
    check_ports(children)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    handlers = {sig: signal.getsignal(sig) for sig in (*STOP_SIGNALS, signal.SIGCHLD)}
    for sig in handlers:
        signal.signal(sig, lambda *_: None)  # the wakeup fd does the work
    old_wakeup = signal.set_wakeup_fd(write_fd)
    procs: list[subprocess.Popen] = []
    try:
        for child in children:
            procs.append(subprocess.Popen(child.argv, env=env, cwd=cwd, start_new_session=True))
            click.echo(f"started {child.name} (pid {procs[-1].pid}) on http://{child.host}:{child.port}")
        while True:
            exited = [(c, p.returncode) for c, p in zip(children, procs, strict=True) if p.poll() is not None]
            if exited:
                name, code = exited[0][0].name, exited[0][1]
                click.echo(f"{name} exited with status {code}; stopping the rest", err=True)
                return 1
            select.select([read_fd], [], [])
            received = {s for s in os.read(read_fd, 64) if s in STOP_SIGNALS}
            if received:
                sig = signal.Signals(min(received))
                click.echo(f"{sig.name}: stopping {', '.join(c.name for c in children)}", err=True)
                return 128 + sig
    finally:
        stop_groups(procs)
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        os.close(read_fd)
        os.close(write_fd)


def dagster_dev_argv(host: str, port: int) -> list[str]:
    """`dg dev` on the project's workspace file: Dagster's webserver and daemon.

    `dagster dev` is superseded by `dg dev` (it warns so on every start); with `-w` dg hands the
    workspace straight to the same dev server, so the code location, instance and ports are
    unchanged. dg comes from dagster-dg-cli, a dev extra (`make run` installs it), taken from this
    interpreter's environment so its release is the pinned one.
    """
    dg = Path(sys.executable).with_name("dg")
    if not dg.is_file():
        raise click.ClickException(
            f"`telemetry-pipeline dev` serves Dagster with `dg dev`, and {dg} does not exist: install the "
            "dev extra (pip install -e '.[dev]', which `make run` does) for dagster-dg-cli"
        )
    return [str(dg), "dev", "-h", host, "-p", str(port), "-w", str(settings.PROJECT_ROOT / "workspace.yaml")]


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface for the Dagster UI.")
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--dashboard-port", default=DASHBOARD_PORT, show_default=True, help="Port of the KPI dashboard.")
@click.option(
    "--days", default=90, show_default=True,
    help="Days of demo telemetry on first start, and the window kept materialised.",
)
@click.option("--seed", default=7, show_default=True, help="Random seed of the demo data.")
@click.option(
    "--demo/--no-demo", default=None,
    help="Seed demo telemetry into an empty warehouse [default: only the embedded one].",
)
@click.option("--no-bootstrap", is_flag=True, help="Skip demo seeding and the catch-up backfill.")
def dev(
    host: str, port: int, dashboard_port: int, days: int, seed: int, demo: bool | None, no_bootstrap: bool
) -> None:
    """Start everything: warehouse, demo data on first run, Dagster UI and daemon, dashboard.

    SIGTERM or Ctrl-C stops every process it started. Exits 1 without starting anything when a
    port is taken.
    """
    from telemetry_pipeline.apps.dashboard.server import DEFAULT_HOST as DASHBOARD_HOST

    children = [
        Child("dg dev", dagster_dev_argv(host, port), host, port),
        Child(
            "dashboard",
            [sys.executable, "-m", "telemetry_pipeline.cli", "dashboard", "--port", str(dashboard_port)],
            DASHBOARD_HOST, dashboard_port,
        ),
    ]
    check_ports(children)  # before the bootstrap: a second `dev` must not backfill either
    use_demo_teams(demo)
    if not no_bootstrap:
        bootstrap(days, seed, demo)
    pin_partitions_start(_warehouse().url())
    status = supervise(children, env=dagster_environment(), cwd=settings.PROJECT_ROOT)
    sys.exit(status)


@click.command("env")
def env_cmd() -> None:
    """Print `export` lines that point dagster CLI commands at the project's instance."""
    pin_partitions_start(_warehouse().url())
    use_demo_teams(None)
    env = dagster_environment()
    for name in ("DAGSTER_HOME", DAGSTER_PG_URL_ENV, settings.PARTITIONS_START_ENV, settings.TEAMS_FILE_ENV,
                 *DAGSTER_ENV_DEFAULTS):
        if name in env:
            click.echo(f"export {name}={env[name]!s}")


COMMANDS = [dev, env_cmd]
