"""The generated Prometheus rules: promtool accepts them, and they say what burn_pairs.py says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.slos.prometheus_rules import rules
from telemetry_pipeline_tests.interop.prometheus import PROMTOOL, require_binaries

REPO = Path(__file__).resolve().parents[2]


def test_promtool_checks_the_exported_rules(tmp_path: Path) -> None:
    require_binaries()
    out = tmp_path / "rules.yml"
    subprocess.run([sys.executable, "-m", "telemetry_pipeline.cli", "slo", "export", "--format",
                    "prometheus-rules", "-o", str(out)], check=True)
    checked = subprocess.run([str(PROMTOOL), "check", "rules", str(out)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # 6 recording rules + 3 SLOs x 2 ratio SLIs x 3 burn pairs
    assert "SUCCESS: 24 rules found" in checked.stdout


def test_shipped_example_rules_are_the_current_export() -> None:
    shipped = (REPO / "docs" / "examples" / "prometheus" / "telemetry-slo-rules.yml").read_text()
    assert yaml.safe_load(shipped) == rules(load_slos())


def test_alert_expressions_pair_long_and_short_windows() -> None:
    groups = {g["name"]: g["rules"] for g in rules(load_slos())["groups"]}
    validation = groups["telemetry-slo-validation"]
    page = next(r for r in validation if r["labels"]["burn_pair"] == "burn-rate-page-6h-30m"
                and r["labels"]["sli"] == "error_rate")
    sel = '{slo="validation", sli="error_rate"}'
    assert page["expr"] == (f"telemetry_slo:burn_rate:6h{sel} >= 6 and (telemetry_slo:burn_rate:30m{sel} "
                            f"or telemetry_slo:burn_rate:1h{sel}) >= 6")
    assert page["labels"]["severity"] == "page"
    assert all(r["labels"]["sli"] != "latency_p95" for g in groups.values() for r in g if "alert" in r)


def test_promtool_checks_the_example_scrape_config() -> None:
    require_binaries()
    config = REPO / "docs" / "examples" / "prometheus" / "prometheus.yml"
    checked = subprocess.run([str(PROMTOOL), "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 24 rules found" in checked.stdout  # it loads the shipped rule file beside it
