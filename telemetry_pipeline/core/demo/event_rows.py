"""telemetry_events rows: the event-type mix and each type's metadata distributions (SPEC §3).

Durations are in ms; a share of numbers is sent as numeric strings, which SPEC §3 allows. The
SLO event types fail very rarely: hourly SLOs see ~40-100 rows of a type, so one failed
provenance generation already breaks "failure rate < 1 %" for its hour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from telemetry_pipeline.core.demo import runs
from telemetry_pipeline.core.demo.fleet import Fleet
from telemetry_pipeline.core.demo.incidents import (
    RUNNER_QUEUE,
    RUNNER_QUEUE_SHARE,
    TLOG_OUTAGE,
    TLOG_OUTAGE_ERROR_SHARE,
    Incident,
    in_incident,
)
from telemetry_pipeline.core.demo.timeline import Slice, timestamps_text

#: share of each event type (SPEC section 3 types first, then a few others counted only in
#: event_count / error_rate)
EVENT_MIX: dict[str, float] = {
    "provenance.generation": 0.24,
    "provenance.validation": 0.24,
    "workflow.run": 0.06,
    "api.request": 0.38,
    "artifact.upload": 0.04,
    "sbom.generation": 0.02,
    "cache.restore": 0.015,
    "release.publish": 0.005,
}

#: per-row probabilities of (failure, error) per type (api.request: from its status codes);
#: at these rates ~99 % of ordinary hours meet each SLO (measured in docs/demo-data.md)
FAILURE_ERROR: dict[str, tuple[float, float]] = {
    "provenance.generation": (1.2e-4, 0.5e-4),
    "provenance.validation": (1.2e-4, 0.5e-4),
    "workflow.run": (0.015, 0.003),
    "artifact.upload": (0.005, 0.002),
    "sbom.generation": (0.005, 0.002),
    "cache.restore": (0.01, 0.002),
    "release.publish": (0.005, 0.002),
}

#: share of numeric metadata sent as JSON strings ("12345")
NUMERIC_STRING_SHARE = 0.1

_API_CODES = np.array([200, 201, 204, 400, 404, 409, 500, 502, 503])
_API_P = np.array([0.88, 0.06, 0.03, 0.008, 0.012, 0.007, 0.001, 0.001, 0.001])
_API_ENDPOINTS = np.array(["/v1/attestations", "/v1/artifacts", "/v1/releases", "/v1/verify"], dtype=object)

Metadata = Callable[[np.random.Generator, np.ndarray, Sequence[Incident]], list[str]]


#: the workflow of `workflow.run` rows when no fleet names one
RUN_WORKFLOW = "release.yml"


def event_lines(rows: Slice, incidents: Sequence[Incident], fleet: Fleet | None = None) -> tuple[str, int]:
    """COPY text (event_type, event_timestamp, run_id, tag, metadata) and row count of a slice.

    With a fleet every row's metadata also names its run's repository and workflow.
    """
    types = list(EVENT_MIX)
    rng = rows.rng
    n = len(rows.ts_us)
    hours = rows.hour
    # run number within the hour: workflow.run rows are runs 0, 1, 2... in time order, other
    # rows point at one of the hour's runs, so run_id and tag tie the events of a run together
    run_no = np.zeros(n, dtype=np.int64)
    is_run = rows.kind == types.index("workflow.run")
    per_row_runs = np.ones(n, dtype=np.int64)
    if is_run.any():
        run_hours = hours[is_run]
        run_no[is_run] = np.arange(len(run_hours)) - np.searchsorted(run_hours, run_hours, side="left")
        runs_in_hour = np.bincount(run_hours - hours.min(), minlength=int(hours.max() - hours.min()) + 1)
        per_row_runs = np.maximum(runs_in_hour[hours - hours.min()], 1)
    others = ~is_run
    run_no[others] = np.floor(rng.random(int(others.sum())) * per_row_runs[others]).astype(np.int64)

    metadata = np.empty(n, dtype=object)
    for code, event_type in enumerate(types):
        idx = np.flatnonzero(rows.kind == code)
        if len(idx):
            metadata[idx] = _METADATA[event_type](rng, rows.ts_us[idx], incidents)

    run_ids = runs.run_ids(hours, run_no)
    if fleet is not None:
        scope = np.array(fleet.metadata_keys(run_ids), dtype=object)
    else:
        scope = np.full(n, "", dtype=object)
        scope[is_run] = f', "workflow": "{RUN_WORKFLOW}"'
    names = np.array(types, dtype=object)[rows.kind].tolist()
    text = "".join(
        f"{name}\t{ts}\t{rid}\t{tag}\t{meta[:-1]}{keys}}}\n"
        for name, ts, rid, tag, meta, keys in zip(
            names, timestamps_text(rows.ts_us), run_ids.tolist(), runs.tags(hours),
            metadata.tolist(), scope.tolist(), strict=True,
        )
    )
    return text, n


def _provenance_generation(rng: np.random.Generator, ts: np.ndarray, incidents: Sequence[Incident]) -> list[str]:
    """Generation takes ~20 s-3 min, plus the wait for a runner (duration_ms includes it)."""
    n = len(ts)
    status = statuses(rng, n, *FAILURE_ERROR["provenance.generation"])
    build_ms = 20_000 + 160_000 * rng.beta(2.0, 5.0, n)
    queue_ms = np.minimum(rng.exponential(6_000, n), 60_000)
    hit = in_incident(ts, incidents, RUNNER_QUEUE) & (rng.random(n) < RUNNER_QUEUE_SHARE)
    queue_ms[hit] = rng.uniform(240_000, 720_000, int(hit.sum()))
    duration = np.rint(build_ms + queue_ms).astype(np.int64)
    size = np.rint(np.exp(rng.normal(np.log(6e6), 1.2, n))).clip(2_000, 2e9).astype(np.int64)
    dur_text = _numbers(rng, duration)
    size_text = _numbers(rng, size)
    queue_text = np.rint(queue_ms).astype(np.int64).tolist()
    return [
        f'{{"status": "{s}", "duration_ms": {d}, "artifact_size_bytes": {z}, "queue_ms": {q}}}'
        for s, d, z, q in zip(status, dur_text, size_text, queue_text, strict=True)
    ]


def _provenance_validation(rng: np.random.Generator, ts: np.ndarray, incidents: Sequence[Incident]) -> list[str]:
    """Validation takes seconds; in a transparency-log outage most calls time out (error)."""
    n = len(ts)
    status = np.array(statuses(rng, n, *FAILURE_ERROR["provenance.validation"]), dtype=object)
    duration = 800 + np.exp(rng.normal(np.log(2_500), 0.6, n))
    hit = in_incident(ts, incidents, TLOG_OUTAGE) & (rng.random(n) < TLOG_OUTAGE_ERROR_SHARE)
    status[hit] = "error"
    duration[hit] = rng.uniform(29_000, 31_000, int(hit.sum()))  # the client's 30 s timeout
    dur_text = _numbers(rng, np.rint(np.minimum(duration, 60_000)).astype(np.int64))
    reason = np.full(n, "", dtype=object)
    reason[status == "failure"] = ', "reason": "signature does not match subject digest"'
    reason[status == "error"] = ', "reason": "transparency log unavailable: timeout after 30s"'
    return [
        f'{{"status": "{s}", "duration_ms": {d}{r}}}'
        for s, d, r in zip(status.tolist(), dur_text, reason.tolist(), strict=True)
    ]


def _workflow_run(rng: np.random.Generator, ts: np.ndarray, incidents: Sequence[Incident]) -> list[str]:
    """A release workflow: 3-25 min, longer when runners queue."""
    n = len(ts)
    status = statuses(rng, n, *FAILURE_ERROR["workflow.run"])
    duration = 180_000 + np.exp(rng.normal(np.log(300_000), 0.5, n))
    hit = in_incident(ts, incidents, RUNNER_QUEUE)
    duration[hit] += rng.uniform(240_000, 720_000, int(hit.sum()))
    dur_text = _numbers(rng, np.rint(np.minimum(duration, 1_500_000 + 720_000)).astype(np.int64))
    return [
        f'{{"status": "{s}", "duration_ms": {d}}}'
        for s, d in zip(status, dur_text, strict=True)
    ]


def _api_request(rng: np.random.Generator, ts: np.ndarray, incidents: Sequence[Incident]) -> list[str]:
    """The metrics API: tens to hundreds of ms; 4xx are failures, 5xx errors."""
    n = len(ts)
    code = rng.choice(_API_CODES, n, p=_API_P / _API_P.sum())
    status = np.where(code >= 500, "error", np.where(code >= 400, "failure", "success"))
    duration = np.rint(5 + np.exp(rng.normal(np.log(60), 0.8, n))).astype(np.int64)
    endpoint = _API_ENDPOINTS[rng.integers(0, len(_API_ENDPOINTS), n)]
    return [
        f'{{"status": "{s}", "duration_ms": {d}, "status_code": {c}, "endpoint": "{e}"}}'
        for s, d, c, e in zip(status.tolist(), duration.tolist(), code.tolist(), endpoint.tolist(), strict=True)
    ]


def _other_step(event_type: str) -> Metadata:
    """Other step types: a status and a duration of seconds."""
    failure, error = FAILURE_ERROR[event_type]

    def metadata(rng: np.random.Generator, ts: np.ndarray, incidents: Sequence[Incident]) -> list[str]:
        n = len(ts)
        status = statuses(rng, n, failure, error)
        duration = np.rint(500 + np.exp(rng.normal(np.log(8_000), 0.9, n))).astype(np.int64)
        return [
            f'{{"status": "{s}", "duration_ms": {d}}}' for s, d in zip(status, duration.tolist(), strict=True)
        ]

    return metadata


_METADATA: dict[str, Metadata] = {
    "provenance.generation": _provenance_generation,
    "provenance.validation": _provenance_validation,
    "workflow.run": _workflow_run,
    "api.request": _api_request,
    **{t: _other_step(t) for t in ("artifact.upload", "sbom.generation", "cache.restore", "release.publish")},
}


def statuses(rng: np.random.Generator, n: int, failure: float, error: float) -> list[str]:
    """success / failure / error with the given probabilities of the last two."""
    u = rng.random(n)
    return np.where(u < error, "error", np.where(u < error + failure, "failure", "success")).tolist()


def _numbers(rng: np.random.Generator, values: np.ndarray) -> list[str]:
    """JSON text of integers, a share of them quoted as numeric strings."""
    text = values.astype(str).astype(object)
    quoted = rng.random(len(values)) < NUMERIC_STRING_SHARE
    text[quoted] = '"' + text[quoted] + '"'
    return text.tolist()
