"""Recorded outputs of gh attestation verify and slsa-verifier, ingested through the real CLI.

Each fixture (fixtures/README.md says where each format comes from) is ingested into the test
warehouse and the stored provenance.validation events and quarantined records are compared field
by field with what the tool reported.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from telemetry_pipeline.cli import cli
from telemetry_pipeline.defs.resources import WarehouseResource

FIXTURES = Path(__file__).parent / "fixtures"
DIGEST = "sha256:5f1d3ea9c3a8f2b07c4e2f1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a"
ART = "telemetry-pipeline-1.4.0.tar.gz"
COMMIT = "9b2e7c41d0a3f5e6b8c9d0e1f2a3b4c5d6e7f809"
GH_SIGNER = "https://github.com/acme/telemetry-pipeline/.github/workflows/release.yml@refs/tags/v1.4.0"
BUILDER = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.0.0"


def ingest(*args: str, stdin: str | None = None) -> dict:
    """`telemetry-pipeline ingest --json ARGS` (the real command, in process), its summary."""
    result = CliRunner().invoke(cli, ["ingest", "--json", *args], input=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select event_type, event_timestamp, run_id, tag, metadata from public.telemetry_events order by id"
        ).fetchall()


def quarantined(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select line_number, reason_code, reason, raw from public.telemetry_events_rejected order by id"
        ).fetchall()


def test_gh_attestation_json_output(warehouse: WarehouseResource) -> None:
    summary = ingest("--format", "gh-attestation", "--timestamp", "2024-12-01T13:05:00Z", "--run-id", "77",
                     "--tag", "v1.4.0", str(FIXTURES / "gh-attestation-verify.json"))
    assert (summary["accepted"], summary["rejected"], summary["duplicates"]) == (1, 0, 0)
    [(event_type, at, run_id, tag, metadata)] = stored(warehouse.database_url)
    assert (event_type, at, run_id, tag) == ("provenance.validation", datetime(2024, 12, 1, 13, 5, tzinfo=UTC),
                                             77, "v1.4.0")
    assert metadata == {
        "status": "success", "verifier": "gh-attestation", "artifact": ART, "subject_name": ART,
        "subject_digest": DIGEST, "predicate_type": "https://slsa.dev/provenance/v1",
        "repository": "acme/telemetry-pipeline", "source_ref": "refs/tags/v1.4.0", "source_commit": COMMIT,
        "signer_workflow": GH_SIGNER,
        "build_run": "https://github.com/acme/telemetry-pipeline/actions/runs/12034567890/attempts/1",
        "attested_at": "2024-12-01T13:00:00Z",
    }
    # the same recorded output of the same run again: a duplicate, not a second verification
    again = ingest("--format", "gh-attestation", "--timestamp", "2024-12-01T13:05:00Z", "--run-id", "77",
                   "--tag", "v1.4.0", "-", stdin=(FIXTURES / "gh-attestation-verify.json").read_text())
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_gh_attestation_run_records(warehouse: WarehouseResource) -> None:
    summary = ingest("--format", "gh-attestation", str(FIXTURES / "gh-attestation-runs.ndjson"))
    assert (summary["accepted"], summary["rejected"], summary["rejected_by_reason"]) == (
        3, 2, {"bad_tool_output": 2})
    events = stored(warehouse.database_url)
    assert [(e[1], e[2], e[4]["status"], e[4]["artifact"], e[4].get("duration_ms")) for e in events] == [
        (datetime(2024, 12, 1, 13, 5, 12, tzinfo=UTC), 12034567890, "success", f"dist/{ART}", 2843),
        (datetime(2024, 12, 1, 13, 5, 40, tzinfo=UTC), 12034567890, "failure",
         "dist/telemetry-pipeline-1.4.0-tampered.tar.gz", 1210),
        (datetime(2024, 12, 1, 13, 6, 30, tzinfo=UTC), 12034567890, "error", f"dist/{ART}", 30112),
    ]
    assert events[0][4]["subject_digest"] == DIGEST and events[0][4]["repository"] == "acme/telemetry-pipeline"
    assert events[1][4]["failure_reason"] == "✗ Sigstore verification failed"
    assert events[2][4]["failure_reason"] == "✗ Loading attestations from GitHub API failed"
    rejects = quarantined(warehouse.database_url)
    assert [(r[0], r[1]) for r in rejects] == [(4, "bad_tool_output"), (5, "bad_tool_output")]
    assert "record 4: an element of gh's JSON array has no verificationResult object" in rejects[0][2]
    assert "record 5 is not JSON" in rejects[1][2] and rejects[1][3] == "gh: command not found"


def test_slsa_verifier_run_records(warehouse: WarehouseResource) -> None:
    summary = ingest("--format", "slsa-verifier", str(FIXTURES / "slsa-verifier-runs.ndjson"))
    assert (summary["accepted"], summary["rejected_by_reason"]) == (3, {"bad_tool_output": 1})
    events = [e[4] for e in stored(warehouse.database_url)]
    assert events[0] == {
        "status": "success", "verifier": "slsa-verifier", "exit_code": 0, "duration_ms": 4120, "artifact": ART,
        "subject_digest": "sha256:e8af48495ca3c5a7737b4a34322afc7e95a85cf1457a37473fb81cff9b4f0d05",
        "predicate_type": "https://slsa.dev/provenance/v0.2", "repository": "acme/telemetry-pipeline",
        "source_ref": "refs/tags/v1.4.0", "builder_id": BUILDER, "source_commit": COMMIT,
        "tlog_index": 151234999,
    }
    reason = ("expected hash '0e4a6c1b2d3f40516273849a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8' not found: "
              "artifact hash does not match provenance subject")
    assert (events[1]["status"], events[1]["artifact"], events[1]["failure_reason"]) == (
        "failure", "telemetry-pipeline-1.4.0-tampered.tar.gz", reason)
    assert (events[2]["status"], events[2]["failure_reason"]) == (
        "error", "slsa-verifier verify-artifact [flags] artifact [artifact..]")
    [reject] = quarantined(warehouse.database_url)
    assert reject[:2] == (4, "bad_tool_output") and "run record has no exit_code" in reject[2]


def test_slsa_verifier_captured_log_with_exit_code(warehouse: WarehouseResource) -> None:
    summary = ingest("--format", "slsa-verifier", "--exit-code", "0", "--duration-ms", "3500",
                     "--timestamp", "2024-12-01T14:00:00+01:00", str(FIXTURES / "slsa-verifier-passed.log"))
    assert summary["accepted"] == 1
    [(_type, at, _run, _tag, metadata)] = stored(warehouse.database_url)
    assert at == datetime(2024, 12, 1, 13, 0, tzinfo=UTC)
    assert (metadata["status"], metadata["artifact"], metadata["duration_ms"], metadata["repository"],
            metadata["subject_digest"]) == (
        "success", ART, 3500, "acme/telemetry-pipeline",
        "sha256:e8af48495ca3c5a7737b4a34322afc7e95a85cf1457a37473fb81cff9b4f0d05")
    failed = ingest("--format", "slsa-verifier", "--exit-code", "1", "--artifact", "x.tar.gz", "-",
                    stdin="FAILED: SLSA verification failed: could not find a matching valid signature entry\n")
    assert failed["accepted"] == 1
    metadata = stored(warehouse.database_url)[-1][4]
    assert (metadata["status"], metadata["artifact"], metadata["failure_reason"]) == (
        "failure", "x.tar.gz", "could not find a matching valid signature entry")


@pytest.mark.parametrize("fmt", ["gh-attestation", "slsa-verifier"])
def test_converted_events_go_through_the_validator(warehouse: WarehouseResource, fmt: str) -> None:
    """A run record with a value the event rules refuse is quarantined by the validator, naming it."""
    record = {"exit_code": 1, "stderr": "✗ Sigstore verification failed", "duration_ms": -5,
              "finished_at": "2024-12-01T13:00:00Z"}
    summary = ingest("--format", fmt, "-", stdin=json.dumps(record) + "\n")
    assert (summary["accepted"], summary["rejected_by_reason"]) == (0, {"bad_metadata": 1})
    [reject] = quarantined(warehouse.database_url)
    assert reject[2] == "bad_metadata: duration_ms must be a number >= 0"
