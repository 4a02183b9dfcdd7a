"""slos.yaml: the packaged catalog is SPEC section 6, and every malformed file names file, SLO, field."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.settings import SLOS_FILE_ENV
from telemetry_pipeline.core.slos.config import (
    DEFAULT_SLOS_FILE,
    Sli,
    SloConfigError,
    load_slos,
)
from telemetry_pipeline.defs.slos.assets import build_slo_assets, check_name

GOOD_SLO = """\
  - name: {name}
    description: Something that must work.
    min_sample_size: {min_sample}
    slis:
      - {{name: availability, metric: validation_availability, comparator: ">=", target: 99.0}}
      - {{name: latency_p95, metric: validation_p95_duration_ms, comparator: "<", target: {target}}}
"""


def write(tmp_path: Path, body: str, name: str = "slos.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def good(name: str = "checks", min_sample: object = 5, target: object = 1000) -> str:
    return GOOD_SLO.format(name=name, min_sample=min_sample, target=target)


def test_packaged_catalog_is_spec_section_6():
    catalog = load_slos(DEFAULT_SLOS_FILE)
    table = {
        (slo.name, sli.name): (sli.metric, sli.comparator, sli.target)
        for slo in catalog if slo.scope is None for sli in slo.slis
    }
    assert table == {
        ("provenance_generation", "availability"): ("provenance_availability", ">=", 99.9),
        ("provenance_generation", "latency_p95"): ("provenance_p95_duration_ms", "<", 300000.0),
        ("provenance_generation", "error_rate"): ("provenance_failure_rate", "<", 1.0),
        ("validation", "availability"): ("validation_availability", ">=", 99.9),
        ("validation", "latency_p95"): ("validation_p95_duration_ms", "<", 120000.0),
        ("validation", "error_rate"): ("validation_failure_rate", "<", 0.5),
        ("audit_observer", "availability"): ("audit_availability", ">=", 99.5),
        ("audit_observer", "latency_p95"): ("audit_p95_duration_ms", "<", 180000.0),
        ("audit_observer", "error_rate"): ("audit_failure_rate", "<", 2.0),
    }
    assert all(slo.min_sample_size == 10 for slo in catalog)
    assert catalog.get("validation").sli("error_rate") == Sli("error_rate", "validation_failure_rate", "<", 0.5)
    with pytest.raises(KeyError, match="unknown SLO 'nope'"):
        catalog.get("nope")


def test_env_var_selects_the_file_and_an_added_slo_needs_no_code(tmp_path, monkeypatch):
    path = write(tmp_path, "slos:\n" + good("checks") + good("second", 1, 5.5))
    monkeypatch.setenv(SLOS_FILE_ENV, str(path))
    catalog = load_slos()
    assert [s.name for s in catalog] == ["checks", "second"]
    assert catalog.get("second").min_sample_size == 1
    assert catalog.get("second").runbook_url is None
    assert catalog.get("second").no_data_span == timedelta(hours=2)  # SPEC section 11 default
    hourly = build_slo_assets()[0]
    assert {k.name for k in hourly.check_keys} == {check_name("checks"), check_name("second")}


@pytest.mark.parametrize(
    ("body", "slo", "field", "problem"),
    [
        ("slos:\n" + good().replace("validation_availability", "validation_uptime"),
         "checks", "slis[0].metric", "unknown metric 'validation_uptime'"),
        ("slos:\n" + good().replace('comparator: "<"', 'comparator: "<="'),
         "checks", "slis[1].comparator", "must be '>=' or '<'"),
        ("slos:\n" + good(target='"fast"'), "checks", "slis[1].target", "must be a finite number"),
        ("slos:\n" + good(target="true"), "checks", "slis[1].target", "must be a finite number"),
        ("slos:\n" + good("twice") + good("twice"), "twice", "name", "duplicate SLO name"),
        ("slos:\n" + good(min_sample=0), "checks", "min_sample_size", "must be an integer >= 1"),
        ("slos:\n" + good(min_sample=2.5), "checks", "min_sample_size", "must be an integer >= 1"),
        ("slos:\n" + good().replace("metric: validation_p95_duration_ms, ", ""),
         "checks", "slis[1].metric", "missing"),
        ("slos:\n" + good().replace("    description: Something that must work.\n", ""),
         "checks", "description", "missing"),
        ("slos:\n" + good().replace("min_sample_size:", "min_samples:"),
         "checks", "min_samples", "unknown key"),
        ("slos:\n" + good().replace("target: 1000}", "target: 1000, unit: ms}"),
         "checks", "slis[1].unit", "unknown key"),
        ("slos:\n" + good(target=50).replace("name: latency_p95, metric: validation_p95_duration_ms, comparator: \"<\"",
                                     "name: availability, metric: validation_availability, comparator: \">=\""),
         "checks", "slis[1].name", "duplicate SLI 'availability'"),
        ("slos:\n" + good().replace("name: latency_p95", "name: throughput"),
         "checks", "slis[1].name", "unknown SLI 'throughput'"),
        ("slos:\n" + good().replace('comparator: ">="', 'comparator: "<"'),
         "checks", "slis[0].comparator", "an availability SLI must use '>='"),
        ("slos:\n" + good().replace("target: 99.0", "target: 100"),
         "checks", "slis[0].target", "percentage in (0, 100)"),
        ("slos:\n" + good().replace("validation_availability", "validation_p95_duration_ms", 1),
         "checks", "slis[0].metric", "needs a percentage metric"),
        ("slos:\n" + good("Bad Name"), "Bad Name", "name", "lowercase identifier"),
        ("slos:\n" + good().replace("    slis:\n", "    slis: []\n    x_slis:\n"),
         "checks", "x_slis", "unknown key"),
        ("slos:\n" + good() + "    runbook_url: wiki/page\n", "checks", "runbook_url", "http(s) URL"),
        ("slos:\n" + good() + "    no_data_after: 2 hours\n", "checks", "no_data_after", "a duration like 30m"),
        ("slos:\n" + good() + "    no_data_after: 0h\n", "checks", "no_data_after", "a duration like 30m"),
    ],
)
def test_bad_file_names_file_slo_and_field(tmp_path, body, slo, field, problem):
    path = write(tmp_path, body)
    with pytest.raises(SloConfigError) as raised:
        load_slos(path)
    message = str(raised.value)
    assert str(path.resolve()) in message
    assert f"SLO {slo!r}" in message
    assert f"field {field}:" in message
    assert problem in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("slos: [\n", "not valid YAML"),
        ("slo:\n" + good(), "single key 'slos'"),
        ("slos: []\n", "field slos: expected a non-empty list"),
    ],
)
def test_bad_file_structure(tmp_path, body, expected):
    path = write(tmp_path, body)
    with pytest.raises(SloConfigError, match=expected) as raised:
        load_slos(path)
    assert str(path.resolve()) in str(raised.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SloConfigError, match="cannot read the SLO catalog") as raised:
        load_slos(tmp_path / "absent.yaml")
    assert "absent.yaml" in str(raised.value)


def test_edited_file_is_reloaded(tmp_path):
    path = write(tmp_path, "slos:\n" + good(min_sample=5))
    assert load_slos(path).get("checks").min_sample_size == 5
    path.write_text("slos:\n" + good(min_sample=7) + "# longer, so the size differs\n")
    assert load_slos(path).get("checks").min_sample_size == 7


def test_bad_catalog_stops_the_code_location_from_loading(tmp_path):
    path = write(tmp_path, "slos:\n" + good().replace("validation_availability", "no_such_metric"))
    env = {**os.environ, SLOS_FILE_ENV: str(path)}
    done = subprocess.run(
        [sys.executable, "-c", "import telemetry_pipeline.definitions"],
        env=env, cwd=settings.PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "SloConfigError" in done.stderr
    assert f"{path.resolve()}: SLO 'checks', field slis[0].metric: unknown metric 'no_such_metric'" in done.stderr


def test_the_file_format_is_versioned(tmp_path):
    assert load_slos(write(tmp_path, "version: 1\nslos:\n" + good())).version == 1
    path = write(tmp_path, "version: 2\nslos:\n" + good(), "v2.yaml")
    with pytest.raises(SloConfigError, match=r"field version: unsupported version 2") as raised:
        load_slos(path)
    assert str(path.resolve()) in str(raised.value)
