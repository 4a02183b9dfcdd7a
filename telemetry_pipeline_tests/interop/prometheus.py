"""A real Prometheus (Debian's package) for the tests: started on a free loopback port, stopped after.

`scripts/ensure-prometheus` installs the package when it is missing (make test runs it); a test
that needs the binaries calls `require_binaries()`, which runs that script itself and skips only
when apt is not there to install with.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
ENSURE = Path(__file__).resolve().parents[2] / "scripts" / "ensure-prometheus"


def require_binaries() -> None:
    """Install Debian's prometheus when missing; skip (with the reason) only without apt."""
    if PROMETHEUS.exists() and PROMTOOL.exists():
        return
    if shutil.which("apt-get") is None:
        pytest.skip("prometheus/promtool are not installed and apt-get is unavailable to install them")
    subprocess.run([str(ENSURE)], check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy (bounded); fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)  # polling interval of a bounded wait, not a synchronisation guess


class Prometheus:
    def __init__(self, base: str, process: subprocess.Popen) -> None:
        self.base = base
        self.process = process

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("/api/v1/query", query=expr)["result"]

    def ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"prometheus exited with status {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"{self.base}/-/ready", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False


@contextmanager
def running_prometheus(tmp: Path, target: str, *, rule_files: list[Path] = ()) -> Iterator[Prometheus]:
    """Prometheus scraping `target` (host:port, path /metrics) every second, data under `tmp`."""
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": "telemetry_pipeline", "metrics_path": "/metrics",
             "static_configs": [{"targets": [target]}]},
        ],
    }
    config_file = tmp / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [str(PROMETHEUS), f"--config.file={config_file}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    server = Prometheus(f"http://127.0.0.1:{port}", process)
    try:
        wait_for(server.ready, timeout=60, what="prometheus /-/ready")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def by_labels(result: list[dict], *names: str) -> dict[tuple, float]:
    """An instant-query result as {label values: value}."""
    return {tuple(r["metric"].get(n) for n in names): float(r["value"][1]) for r in result}


SLO_LABELS = ("slo", "sli", "granularity")


def assert_holds_slo_rows(prometheus: Prometheus, expected: dict[tuple[str, str, str], dict]) -> dict[tuple, float]:
    """Every SLO gauge in Prometheus equals its slo_status row (seeded.latest_slo_rows); returns the burn rates."""
    for gauge, column in (("telemetry_slo_sli_value", "value"), ("telemetry_slo_target", "target"),
                          ("telemetry_slo_met", "met"), ("telemetry_slo_error_budget_remaining_percent", "budget")):
        assert by_labels(prometheus.query(gauge), *SLO_LABELS) == {
            k: float(r[column]) for k, r in expected.items() if r[column] is not None}, gauge
    burn = by_labels(prometheus.query("telemetry_slo_burn_rate"), *SLO_LABELS, "window")
    assert burn == {(*k, w): r[f"b{w}"] for k, r in expected.items() for w in ("1h", "6h", "3d")
                    if r[f"b{w}"] is not None}
    return burn
