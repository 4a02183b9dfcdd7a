"""`telemetry-pipeline dashboard` as a user runs it: a real process serving the page and the API."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
from psycopg import sql

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.warehouse import embedded
from telemetry_pipeline.core.warehouse.migrate import migrate

STARTUP_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "telemetry_pipeline.cli", "dashboard", *args]


def _wait_for_line(process: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    """Read the process's output until a line contains `needle`; every line read so far."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)  # end of output: the process exited

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        assert line is not None, f"dashboard exited before {needle!r}:\n{''.join(seen)}"
        seen.append(line)
        if needle in line:
            return seen


def test_dashboard_command_serves_page_and_api_on_127_0_0_1(seeded: str) -> None:
    port = _free_port()
    env = dict(os.environ, **{settings.DATABASE_URL_ENV: seeded})
    process = subprocess.Popen(_command("--port", str(port)), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        output = _wait_for_line(process, "Uvicorn running on", STARTUP_TIMEOUT)
        assert any(f"dashboard on http://127.0.0.1:{port}" in line for line in output)
        assert not any("password" in line.lower() for line in output)
        with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
            assert json.loads(response.read()) == {"ok": True}
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            page = response.read().decode()
        assert "<title>Telemetry KPIs &amp; SLOs</title>" in page and "/static/plotly.min.js" in page
        # the hand-made daily rows lie in the past: ask for them explicitly (d = 2, 1)
        with urllib.request.urlopen(
            base + "/api/kpis?from=2025-03-08&to=2025-03-10&granularity=day&metric=event_count", timeout=10
        ) as response:
            body = json.loads(response.read())
        assert body["metrics"][0]["points"]["value"] == [2402.0, 2401.0]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_broken_slo_catalog_stops_start_up_naming_file_and_field(seeded: str, tmp_path: Path) -> None:
    broken = tmp_path / "slos.yaml"
    broken.write_text(
        "slos:\n  - name: checkout\n    description: x\n    slis:\n"
        "      - {name: availability, metric: provenance_availability, comparator: '>=', target: 250}\n"
    )
    env = dict(os.environ, **{settings.DATABASE_URL_ENV: seeded, "TELEMETRY_SLOS_FILE": str(broken)})
    result = subprocess.run(_command("--port", str(_free_port())), env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert str(broken) in result.stderr
    assert "slis[0].target" in result.stderr


def test_broken_teams_file_stops_start_up_naming_file_and_field(seeded: str, tmp_path: Path) -> None:
    broken = tmp_path / "teams.yaml"
    broken.write_text("teams:\n  - {name: payments, repositories: ['acme/pay-*'], channel: '#pay'}\n")
    env = dict(os.environ, **{settings.DATABASE_URL_ENV: seeded, settings.TEAMS_FILE_ENV: str(broken)})
    result = subprocess.run(_command("--port", str(_free_port())), env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert f"{broken}: team 'payments', field channel: unknown key" in result.stderr


def test_help_names_host_and_port() -> None:
    result = subprocess.run(_command("--help"), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "--host" in result.stdout and "127.0.0.1" in result.stdout and "3001" in result.stdout


def test_schema_behind_the_code_stops_start_up_naming_the_migration(pg_server_url: str) -> None:
    name = f"tp_test_dash_{os.getpid()}"
    url = embedded.ensure_database(pg_server_url, name)
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            latest = conn.execute("select version, name from public.schema_migrations order by version desc").fetchone()
            conn.execute("delete from public.schema_migrations where version = %s", (latest[0],))
        env = dict(os.environ, **{settings.DATABASE_URL_ENV: url})
        result = subprocess.run(_command("--port", str(_free_port())), env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode != 0
        assert f"pending: {latest[1]}" in result.stderr and "telemetry-pipeline db migrate" in result.stderr
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
