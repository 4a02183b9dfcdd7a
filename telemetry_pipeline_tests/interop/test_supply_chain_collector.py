"""POST /v1/supply-chain: the recorded verifier outputs through the real collector over HTTP.

The same fixtures as test_supply_chain.py (the `ingest --format` path), posted to the collector
served on a loopback port: the stored events and the quarantined records must be what the tool
reported, and the same output of the same run ingested afterwards by `ingest` is a duplicate,
because both paths make the same events (the same deterministic event ids).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml

from telemetry_pipeline.apps.collector import CollectorConfig, create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.defs.resources import WarehouseResource
from telemetry_pipeline_tests.events.test_collector import TOKEN, query, request
from telemetry_pipeline_tests.interop.test_supply_chain import (
    ART,
    DIGEST,
    FIXTURES,
    ingest,
    quarantined,
    stored,
)

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def collector(warehouse_url: str) -> Iterator[str]:
    config = CollectorConfig(warehouse_url, TOKEN, None, max_body_bytes=LIMIT, pool_size=2)
    with running(create_app(config)) as base:
        yield base


def post(base: str, body: bytes, token: str = TOKEN, headers: dict | None = None, **params: str):
    return request(base, f"/v1/supply-chain?{urlencode(params)}", body,
                   {"Authorization": f"Bearer {token}", **(headers or {})})


def test_gh_json_output_gzip_then_the_same_output_through_ingest_is_a_duplicate(
    collector: str, warehouse: WarehouseResource,
) -> None:
    body = (FIXTURES / "gh-attestation-verify.json").read_bytes()
    status, answer = post(collector, gzip.compress(body), headers={"Content-Encoding": "gzip"},
                          format="gh-attestation", timestamp="2024-12-01T13:05:00Z", run_id="77", tag="v1.4.0")
    assert status == 202, answer
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (1, 0, 0)
    [(event_type, at, run_id, tag, metadata)] = stored(warehouse.database_url)
    assert (event_type, at, run_id, tag) == ("provenance.validation", datetime(2024, 12, 1, 13, 5, tzinfo=UTC),
                                             77, "v1.4.0")
    assert (metadata["status"], metadata["artifact"], metadata["subject_digest"], metadata["repository"]) == (
        "success", ART, DIGEST, "acme/telemetry-pipeline")
    again = ingest("--format", "gh-attestation", "--timestamp", "2024-12-01T13:05:00Z", "--run-id", "77",
                   "--tag", "v1.4.0", str(FIXTURES / "gh-attestation-verify.json"))
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_gh_run_records_store_and_quarantine_like_ingest(collector: str, warehouse: WarehouseResource) -> None:
    body = (FIXTURES / "gh-attestation-runs.ndjson").read_bytes()
    status, answer = post(collector, body, format="gh-attestation")
    assert status == 202
    assert (answer["accepted"], answer["rejected"]) == (3, 2)
    assert [r["line"] for r in answer["reasons"]] == [4, 5]
    assert "record 4: an element of gh's JSON array has no verificationResult object" in answer["reasons"][0]["reason"]
    events = stored(warehouse.database_url)
    assert [(e[4]["status"], e[4].get("failure_reason")) for e in events] == [
        ("success", None), ("failure", "✗ Sigstore verification failed"),
        ("error", "✗ Loading attestations from GitHub API failed")]
    assert [(r[0], r[1], r[3]) for r in quarantined(warehouse.database_url)][1] == (
        5, "bad_tool_output", "gh: command not found")
    sources = query(warehouse.database_url, "select distinct source from public.telemetry_events_rejected")
    assert sources == [("collector:gh-attestation",)]
    # every record again: the same events, nothing stored twice
    assert post(collector, body, format="gh-attestation")[1]["duplicates"] == 3


def test_slsa_verifier_log_with_exit_code_in_the_query(collector: str, warehouse: WarehouseResource) -> None:
    body = (FIXTURES / "slsa-verifier-passed.log").read_bytes()
    status, answer = post(collector, body, format="slsa-verifier", exit_code="0", duration_ms="3500",
                          timestamp="2024-12-01T14:00:00+01:00")
    assert (status, answer["accepted"]) == (202, 1)
    [(_type, at, _run, _tag, metadata)] = stored(warehouse.database_url)
    assert at == datetime(2024, 12, 1, 13, 0, tzinfo=UTC)
    assert (metadata["status"], metadata["artifact"], metadata["duration_ms"], metadata["repository"]) == (
        "success", ART, 3500, "acme/telemetry-pipeline")
    records = (FIXTURES / "slsa-verifier-runs.ndjson").read_bytes()
    status, answer = post(collector, records, format="slsa-verifier")
    assert (status, answer["accepted"], answer["rejected"]) == (202, 3, 1)
    assert "run record has no exit_code" in answer["reasons"][0]["reason"]


def test_converted_events_go_through_the_validator(collector: str, warehouse: WarehouseResource) -> None:
    record = {"exit_code": 1, "stderr": "✗ Sigstore verification failed", "duration_ms": -5,
              "finished_at": "2024-12-01T13:00:00Z"}
    status, answer = post(collector, json.dumps(record).encode(), format="gh-attestation")
    assert (status, answer["accepted"], answer["reasons"]) == (
        202, 0, [{"line": 1, "reason": "bad_metadata: duration_ms must be a number >= 0"}])
    assert quarantined(warehouse.database_url)[0][1] == "bad_metadata"


@pytest.mark.parametrize(("token", "params", "body", "status", "message"), [
    ("wrong", {"format": "gh-attestation"}, b"[]", 401, "missing or wrong bearer token"),
    (TOKEN, {}, b"[]", 400, "query parameter format must be one of gh-attestation, slsa-verifier, got None"),
    (TOKEN, {"format": "cosign"}, b"[]", 400, "got 'cosign'"),
    (TOKEN, {"format": "gh-attestation", "exit_code": "0"}, b"[]", 400, "exit_code is for format=slsa-verifier"),
    (TOKEN, {"format": "slsa-verifier", "exit_code": "zero"}, b"x", 400, "query parameter exit_code: not a number"),
    (TOKEN, {"format": "slsa-verifier", "timestamp": "2024-12-01T13:00:00"}, b"x", 400,
     "query parameter timestamp: bad_timestamp: no UTC offset"),
    (TOKEN, {"format": "slsa-verifier", "duration_ms": "-1"}, b"x", 400, "duration_ms: must be a finite number"),
    (TOKEN, {"format": "gh-attestation", "repo": "x"}, b"[]", 400, "unknown query parameter 'repo'"),
    (TOKEN, {"format": "gh-attestation"}, b"  \n", 400, "empty body"),
    (TOKEN, {"format": "gh-attestation"}, b"x" * (LIMIT + 1), 413, f"body larger than {LIMIT} bytes"),
])
def test_refusals_name_what_is_wrong(collector: str, warehouse: WarehouseResource, token: str, params: dict,
                                     body: bytes, status: int, message: str) -> None:
    got, answer = post(collector, body, token=token, **params)
    assert got == status and message in answer["error"], answer
    assert stored(warehouse.database_url) == [] and quarantined(warehouse.database_url) == []


DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
DOC_STEP = "Verify SLSA provenance and post the result to the collector"


def _doc_step() -> dict:
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)]
    [step] = [s for block in blocks if isinstance(block, list) for s in block if s.get("name") == DOC_STEP]
    return step


@pytest.mark.skipif(shutil.which("curl") is None, reason="the documented step posts with curl")
def test_the_documented_workflow_step_posts_to_the_collector(
    collector: str, warehouse: WarehouseResource, tmp_path: Path,
) -> None:
    """docs/integrations.md's step, run by bash as the runner runs it, with a stand-in slsa-verifier
    that prints the recorded log and exits 0: the collector stores the verification."""
    step = _doc_step()
    tools = tmp_path / "bin"
    tools.mkdir()
    stand_in = tools / "slsa-verifier"
    stand_in.write_text(f"#!/bin/sh\ncat '{FIXTURES / 'slsa-verifier-passed.log'}'\nexit 0\n")
    stand_in.chmod(0o755)
    env = {"PATH": f"{tools}:{os.environ['PATH']}", "TELEMETRY_COLLECTOR_URL": collector,
           "TELEMETRY_COLLECTOR_TOKEN": TOKEN, "ARTIFACT": step["env"]["ARTIFACT"],
           "GITHUB_REPOSITORY": "acme/telemetry-pipeline", "GITHUB_REF_NAME": "v1.4.0", "GITHUB_RUN_ID": "4242"}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "::warning::" not in done.stdout and '"accepted":1' in done.stdout.replace(" ", "")
    [(_type, _at, run_id, tag, metadata)] = stored(warehouse.database_url)
    assert (run_id, tag, metadata["status"], metadata["artifact"], metadata["exit_code"]) == (
        4242, "v1.4.0", "success", ART, 0)
    # the collector down: the step warns and still exits with the verifier's status
    env["TELEMETRY_COLLECTOR_URL"] = "http://127.0.0.1:9"
    down = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and "::warning::verification not recorded" in down.stdout
