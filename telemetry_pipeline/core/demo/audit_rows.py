"""slsa_audit_metrics rows: one audit of one release artifact per row (SPEC §2).

Audits take tens of seconds. A failure is a digest mismatch or an unaccepted predicate type;
an error means the audit could not run; failure_reason is null exactly on success. During an
audit sync outage nothing reaches Supabase and most audits end in error after retries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from telemetry_pipeline.core.demo import runs
from telemetry_pipeline.core.demo.fleet import Fleet
from telemetry_pipeline.core.demo.incidents import (
    AUDIT_SYNC_ERROR_SHARE,
    AUDIT_SYNC_OUTAGE,
    Incident,
    in_incident,
)
from telemetry_pipeline.core.demo.timeline import Slice, timestamps_text

#: per-row probabilities of failure and error
AUDIT_FAILURE_ERROR = (2.0e-4, 0.8e-4)
#: rows whose result did not reach Supabase outside incidents
UNSYNCED_SHARE = 0.002

ARTIFACTS = (
    "telemetry-agent-linux-amd64.tar.gz",
    "telemetry-agent-linux-arm64.tar.gz",
    "telemetry-agent-darwin-arm64.tar.gz",
    "telemetry-agent-windows-amd64.zip",
    "telemetry-agent.sbom.spdx.json",
    "ghcr.io/acme/telemetry-agent@sha256",
)
PREDICATE_V1 = "https://slsa.dev/provenance/v1"
PREDICATE_V02 = "https://slsa.dev/provenance/v0.2"
PREDICATE_BAD = "https://in-toto.io/Statement/v0.1"

_NULL = r"\N"
_BOOL = {True: "t", False: "f"}


def audit_lines(rows: Slice, incidents: Sequence[Incident], fleet: Fleet | None = None) -> tuple[str, int]:
    """COPY text (run_id, tag, artifact, audited_at, status, duration_ms, sha256_verified,
    predicate_type, predicate_type_verified, supabase_synced, failure_reason, metadata) and
    row count of a slice. With a fleet the metadata names the audited run's repository and workflow."""
    rng = rows.rng
    n = len(rows.ts_us)
    failure, error = AUDIT_FAILURE_ERROR
    u = rng.random(n)
    status = np.where(u < error, "error", np.where(u < error + failure, "failure", "success")).astype(object)
    # failures: a digest mismatch (70 %) or a predicate type that is not accepted
    digest_bad = (status == "failure") & (rng.random(n) < 0.7)
    predicate_bad = (status == "failure") & ~digest_bad
    predicate = np.where(rng.random(n) < 0.9, PREDICATE_V1, PREDICATE_V02).astype(object)
    predicate[predicate_bad] = PREDICATE_BAD
    sha_ok = ~digest_bad & (status != "error")
    predicate_ok = ~predicate_bad & (status != "error")
    synced = rng.random(n) >= UNSYNCED_SHARE
    duration = 8_000 + np.exp(rng.normal(np.log(25_000), 0.5, n))
    reason = np.full(n, _NULL, dtype=object)
    reason[digest_bad] = "sha256 of artifact does not match the provenance subject"
    reason[predicate_bad] = f"predicateType {PREDICATE_BAD} is not accepted"
    reason[status == "error"] = "could not fetch attestation: connection reset"

    outage = in_incident(rows.ts_us, incidents, AUDIT_SYNC_OUTAGE)
    synced[outage] = False
    hit = outage & (rng.random(n) < AUDIT_SYNC_ERROR_SHARE)
    status[hit] = "error"
    sha_ok[hit] = False
    predicate_ok[hit] = False
    reason[hit] = "supabase sync failed: 503 Service Unavailable"
    duration[outage] += rng.uniform(30_000, 90_000, int(outage.sum()))  # retries before giving up

    # audits look at runs finished 1-3 hours earlier
    audited_hours = rows.hour - rng.integers(1, 4, n)
    run_ids = runs.run_ids(audited_hours, rng.integers(0, 8, n))
    artifact = np.array(ARTIFACTS, dtype=object)[rng.integers(0, len(ARTIFACTS), n)]
    attempts = np.where(outage, rng.integers(2, 6, n), 1)
    scope = fleet.metadata_keys(run_ids) if fleet is not None else [""] * n
    text = "".join(
        f"{rid}\t{tag}\t{art}\t{ts}\t{st}\t{d}\t{_BOOL[sh]}\t{pt}\t{_BOOL[po]}\t{_BOOL[sy]}\t{why}\t"
        f'{{"attempts": {at}, "observer": "slsa-audit-observer/0.4"{keys}}}\n'
        for rid, tag, art, ts, st, d, sh, pt, po, sy, why, at, keys in zip(
            run_ids.tolist(), runs.tags(audited_hours), artifact.tolist(), timestamps_text(rows.ts_us),
            status.tolist(), np.rint(duration).astype(np.int64).tolist(), sha_ok.tolist(), predicate.tolist(),
            predicate_ok.tolist(), synced.tolist(), reason.tolist(), attempts.tolist(), scope, strict=True,
        )
    )
    return text, n
