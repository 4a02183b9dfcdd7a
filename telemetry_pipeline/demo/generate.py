"""Vectorised synthetic telemetry, streamed into PostgreSQL with COPY.

The demo (`telemetry-pipeline demo seed`) and the benchmarks need millions of realistic rows
quickly, so rows are drawn with numpy a time-slice at a time (about CHUNK_ROWS rows) and written
with one COPY per slice: memory stays flat whatever the row count, and slices are written in time
order so the timestamp indexes grow at their tail instead of being hit at random.

Arrival times follow a smooth weekday/hour-of-day load curve. Each type's rows are allocated
to hour bins deterministically (cumulative rounding), not by Poisson draws, so every hour gets
its share +-1 row: the demo can promise a minimum sample per hour, which hourly SLOs need.
Everything is deterministic for a given (arguments, seed).

Incidents (transparency-log outage, runner queueing, audit-sync outage) are windows that change
the distributions of the affected rows; see `Incident`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import psycopg

#: rows generated and written per COPY (bounds memory; ~10 MB of text per slice)
CHUNK_ROWS = 50_000

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

#: Baseline per-row probabilities of (failure, error) per type. The SLO types are kept tiny:
#: hourly SLOs see ~40-100 rows, so a single failed provenance already breaks "failure rate < 1 %"
#: for that hour; at these rates ~98-99 % of ordinary hours meet each SLO (docs/demo-data.md).
FAILURE_ERROR: dict[str, tuple[float, float]] = {
    "provenance.generation": (1.2e-4, 0.5e-4),
    "provenance.validation": (1.2e-4, 0.5e-4),
    "workflow.run": (0.015, 0.003),
    "artifact.upload": (0.005, 0.002),
    "sbom.generation": (0.005, 0.002),
    "cache.restore": (0.01, 0.002),
    "release.publish": (0.005, 0.002),
}
AUDIT_FAILURE_ERROR = (2.0e-4, 0.8e-4)

#: share of numeric metadata sent as JSON strings ("12345"), which SPEC section 3 allows
NUMERIC_STRING_SHARE = 0.1

TLOG_OUTAGE = "tlog_outage"
RUNNER_QUEUE = "runner_queue"
AUDIT_SYNC_OUTAGE = "audit_sync_outage"
INCIDENT_KINDS: dict[str, str] = {
    TLOG_OUTAGE: "transparency-log outage: most provenance validations error (timeouts)",
    RUNNER_QUEUE: "runner queueing: provenance generation waits 4-12 min for a runner",
    AUDIT_SYNC_OUTAGE: "audit sync outage: audits error and are not synced to Supabase",
}
#: share of rows inside an incident window that the incident hits
TLOG_OUTAGE_ERROR_SHARE = 0.75
RUNNER_QUEUE_SHARE = 0.85
AUDIT_SYNC_ERROR_SHARE = 0.7

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

#: GitHub-like run ids: base + hours since RUN_EPOCH * 100 + run number within that hour
RUN_ID_BASE = 9_000_000_000
RUN_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
#: one release tag (v1.<minor>.<patch>) per this many hours of runs
HOURS_PER_RELEASE = 4

_T = TypeVar("_T")
_US = 1_000_000
_HOUR_US = 3600 * _US


@dataclass(frozen=True)
class Incident:
    """A window [start, end) in which one kind of failure hits the generated rows."""

    kind: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.kind not in INCIDENT_KINDS:
            raise ValueError(f"Incident.kind {self.kind!r} is not one of {sorted(INCIDENT_KINDS)}")
        _require_window(self.start, self.end, "Incident")

    def __str__(self) -> str:
        return f"{self.kind} [{_iso(self.start)}, {_iso(self.end)})"

    def _bounds_us(self) -> tuple[int, int]:
        return _epoch_us(self.start), _epoch_us(self.end)


# ------------------------------------------------------------------------------------------------
# public entry points


_EVENTS_COPY = "copy public.telemetry_events (event_type, event_timestamp, run_id, tag, metadata) from stdin"
_AUDITS_COPY = (
    "copy public.slsa_audit_metrics (run_id, tag, artifact, audited_at, status, duration_ms,"
    " sha256_verified, predicate_type, predicate_type_verified, supabase_synced, failure_reason,"
    " metadata) from stdin"
)


def copy_events(
    conn: psycopg.Connection,
    n_events: int,
    start: datetime,
    end: datetime,
    seed: int,
    *,
    incidents: Sequence[Incident] = (),
) -> int:
    """COPY `n_events` synthetic telemetry_events spread over [start, end); return rows written.

    Runs in the caller's transaction (nothing is committed here).
    """
    types = list(EVENT_MIX)
    shares = np.array([EVENT_MIX[t] for t in types])
    slices = _slices("copy_events: n_events", n_events, shares, start, end, seed, salt=1)
    return _copy(conn, _EVENTS_COPY, (_event_lines(r, types, incidents) for r in slices))


def copy_audits(
    conn: psycopg.Connection,
    n_audits: int,
    start: datetime,
    end: datetime,
    seed: int,
    *,
    incidents: Sequence[Incident] = (),
) -> int:
    """COPY `n_audits` synthetic slsa_audit_metrics rows with audited_at in [start, end).

    Runs in the caller's transaction (nothing is committed here).
    """
    slices = _slices("copy_audits: n_audits", n_audits, np.array([1.0]), start, end, seed, salt=2)
    return _copy(conn, _AUDITS_COPY, (_audit_lines(r, incidents) for r in slices))


def _copy(conn: psycopg.Connection, statement: str, texts: Iterator[tuple[str, int]]) -> int:
    """Stream (COPY text, row count) slices through one COPY; return the rows written."""
    written = 0
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for text, n in _prefetched(texts):
            copy.write(text)
            written += n
    return written


def load_curve(hour_starts_us: np.ndarray) -> np.ndarray:
    """Relative load of each UTC hour: a day peak at 15:00 UTC (+-35 %), weekends at 75 %.

    Lowest hour / mean hour is ~0.52; the demo sizes its volumes from that (MIN_LOAD_RATIO).
    """
    hours = (hour_starts_us // _HOUR_US).astype(np.int64)
    hour_of_day = hours % 24
    weekday = (hours // 24 + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    daily = 1.0 + 0.35 * np.cos(2 * np.pi * (hour_of_day + 0.5 - 15.0) / 24.0)
    return daily * np.where(weekday >= 5, 0.75, 1.0)


#: min over hours / mean over a week of load_curve (computed from it; used to size volumes)
MIN_LOAD_RATIO = 0.52


# ------------------------------------------------------------------------------------------------
# time slicing and allocation


@dataclass
class _Slice:
    """Rows of one time slice: timestamp (epoch µs), stream index, and the slice's RNG."""

    ts_us: np.ndarray
    kind: np.ndarray
    hour_index: np.ndarray
    rng: np.random.Generator


def _slices(
    what: str, n: int, shares: np.ndarray, start: datetime, end: datetime, seed: int, salt: int
) -> Iterator[_Slice]:
    """Yield time-ordered slices of about CHUNK_ROWS rows, `n` rows in all, split by `shares`.

    Arguments are checked on the call, before the first slice is asked for, so a bad argument
    fails before any COPY starts.
    """
    _require_count(n, what)
    _require_window(start, end, what.split(":")[0])
    return _generate_slices(n, shares, start, end, seed, salt)


def _generate_slices(
    n: int, shares: np.ndarray, start: datetime, end: datetime, seed: int, salt: int
) -> Iterator[_Slice]:
    if n == 0:
        return
    start_us, end_us = _epoch_us(start), _epoch_us(end)
    # Bins align to UTC hours (or to equal sub-hours when the rate is very high), so an hour
    # partition always holds its allocated rows and no bin exceeds a slice.
    hours = max((end_us - start_us) / _HOUR_US, 1e-9)
    splits = 1
    while n / hours / splits > CHUNK_ROWS / 4 and splits < 3600:
        splits *= 2
    bin_us = _HOUR_US // splits
    first = start_us // bin_us * bin_us
    edges = np.arange(first, end_us + bin_us, bin_us, dtype=np.int64)
    edges = np.clip(edges, start_us, end_us)
    edges = np.unique(edges)
    lo, hi = edges[:-1], edges[1:]
    weights = load_curve(lo // _HOUR_US * _HOUR_US) * (hi - lo)
    cum = np.cumsum(weights) / weights.sum()
    per_kind = _largest_remainder(n, shares)
    counts = np.empty((len(lo), len(shares)), dtype=np.int64)
    for k, n_k in enumerate(per_kind):
        marks = np.floor(n_k * cum + 1e-9).astype(np.int64)
        marks[-1] = n_k
        counts[:, k] = np.diff(marks, prepend=0)
    per_bin = counts.sum(axis=1)
    bin_end = 0
    chunk = 0
    while bin_end < len(lo):
        bin_start = bin_end
        total = 0
        while bin_end < len(lo) and (total == 0 or total + per_bin[bin_end] <= CHUNK_ROWS):
            total += int(per_bin[bin_end])
            bin_end += 1
        if total == 0:
            continue
        rng = np.random.default_rng([seed, salt, chunk])
        chunk += 1
        sub = counts[bin_start:bin_end]
        kinds = np.repeat(np.tile(np.arange(len(shares)), len(sub)), sub.ravel())
        bins = np.repeat(np.repeat(np.arange(bin_start, bin_end), len(shares)), sub.ravel())
        width = hi[bins] - lo[bins]
        ts = lo[bins] + np.floor(rng.random(len(bins)) * width).astype(np.int64)
        order = np.argsort(ts, kind="stable")
        ts = ts[order]
        yield _Slice(ts_us=ts, kind=kinds[order], hour_index=(ts - _epoch_us(RUN_EPOCH)) // _HOUR_US, rng=rng)


def _largest_remainder(n: int, shares: np.ndarray) -> np.ndarray:
    """Integer counts summing to n, proportional to shares."""
    exact = n * shares / shares.sum()
    base = np.floor(exact).astype(np.int64)
    rest = n - int(base.sum())
    if rest:
        base[np.argsort(-(exact - base), kind="stable")[:rest]] += 1
    return base


# ------------------------------------------------------------------------------------------------
# telemetry_events rows


def _event_lines(rows: _Slice, types: list[str], incidents: Sequence[Incident]) -> tuple[str, int]:
    """COPY text and row count of one slice of events."""
    rng = rows.rng
    n = len(rows.ts_us)
    metadata = np.empty(n, dtype=object)
    # run number within the hour: workflow.run rows get 0, 1, 2... in time order, other rows
    # point at one of the hour's runs; run_id and tag therefore tie events of one run together.
    run_no = np.zeros(n, dtype=np.int64)
    run_code = types.index("workflow.run")
    is_run = rows.kind == run_code
    hours = rows.hour_index
    if is_run.any():
        run_hours = hours[is_run]
        first_of_hour = np.searchsorted(run_hours, run_hours, side="left")
        run_no[is_run] = np.arange(len(run_hours)) - first_of_hour
        runs_in_hour = np.bincount(run_hours - hours.min(), minlength=int(hours.max() - hours.min()) + 1)
        per_row_runs = np.maximum(runs_in_hour[hours - hours.min()], 1)
    else:
        per_row_runs = np.ones(n, dtype=np.int64)
    others = ~is_run
    run_no[others] = np.floor(rng.random(int(others.sum())) * per_row_runs[others]).astype(np.int64)
    run_ids = RUN_ID_BASE + hours * 100 + np.minimum(run_no, 99)
    tags = _tags(hours)

    for code, event_type in enumerate(types):
        idx = np.flatnonzero(rows.kind == code)
        if len(idx):
            metadata[idx] = _METADATA[event_type](rng, rows.ts_us[idx], incidents)

    ts_text = np.datetime_as_string(rows.ts_us.astype("datetime64[us]"), unit="us")
    names = np.array(types, dtype=object)[rows.kind]
    text = "".join(
        f"{name}\t{ts}+00\t{rid}\t{tag}\t{meta}\n"
        for name, ts, rid, tag, meta in zip(
            names.tolist(), ts_text.tolist(), run_ids.tolist(), tags, metadata.tolist(), strict=True
        )
    )
    return text, n


def _provenance_generation(rng: np.random.Generator, ts: np.ndarray, incidents: Sequence[Incident]) -> list[str]:
    """Generation takes ~20 s-3 min, plus the wait for a runner (duration_ms includes it)."""
    n = len(ts)
    status = _statuses(rng, n, *FAILURE_ERROR["provenance.generation"])
    build_ms = 20_000 + 160_000 * rng.beta(2.0, 5.0, n)
    queue_ms = np.minimum(rng.exponential(6_000, n), 60_000)
    hit = _in_incident(ts, incidents, RUNNER_QUEUE) & (rng.random(n) < RUNNER_QUEUE_SHARE)
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
    status = np.array(_statuses(rng, n, *FAILURE_ERROR["provenance.validation"]), dtype=object)
    duration = 800 + np.exp(rng.normal(np.log(2_500), 0.6, n))
    hit = _in_incident(ts, incidents, TLOG_OUTAGE) & (rng.random(n) < TLOG_OUTAGE_ERROR_SHARE)
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
    status = _statuses(rng, n, *FAILURE_ERROR["workflow.run"])
    duration = 180_000 + np.exp(rng.normal(np.log(300_000), 0.5, n))
    hit = _in_incident(ts, incidents, RUNNER_QUEUE)
    duration[hit] += rng.uniform(240_000, 720_000, int(hit.sum()))
    dur_text = _numbers(rng, np.rint(np.minimum(duration, 1_500_000 + 720_000)).astype(np.int64))
    return [
        f'{{"status": "{s}", "duration_ms": {d}, "workflow": "release.yml"}}'
        for s, d in zip(status, dur_text, strict=True)
    ]


_API_CODES = np.array([200, 201, 204, 400, 404, 409, 500, 502, 503])
_API_P = np.array([0.88, 0.06, 0.03, 0.008, 0.012, 0.007, 0.001, 0.001, 0.001])
_API_ENDPOINTS = np.array(
    ["/v1/attestations", "/v1/artifacts", "/v1/releases", "/v1/verify"], dtype=object
)


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


def _generic_for(event_type: str) -> Callable[..., list[str]]:
    failure, error = FAILURE_ERROR[event_type]

    def metadata(rng: np.random.Generator, ts: np.ndarray, incidents: Sequence[Incident]) -> list[str]:
        n = len(ts)
        status = _statuses(rng, n, failure, error)
        duration = np.rint(500 + np.exp(rng.normal(np.log(8_000), 0.9, n))).astype(np.int64)
        return [
            f'{{"status": "{s}", "duration_ms": {d}}}' for s, d in zip(status, duration.tolist(), strict=True)
        ]

    return metadata


_METADATA: dict[str, Callable[..., list[str]]] = {
    "provenance.generation": _provenance_generation,
    "provenance.validation": _provenance_validation,
    "workflow.run": _workflow_run,
    "api.request": _api_request,
    **{t: _generic_for(t) for t in ("artifact.upload", "sbom.generation", "cache.restore", "release.publish")},
}


# ------------------------------------------------------------------------------------------------
# slsa_audit_metrics rows


def _audit_lines(rows: _Slice, incidents: Sequence[Incident]) -> tuple[str, int]:
    """COPY text and row count of one slice of audits (one audit of one artifact per row)."""
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
    synced = rng.random(n) >= 0.002
    duration = 8_000 + np.exp(rng.normal(np.log(25_000), 0.5, n))
    reason = np.full(n, r"\N", dtype=object)
    reason[digest_bad] = "sha256 of artifact does not match the provenance subject"
    reason[predicate_bad] = "predicateType https://in-toto.io/Statement/v0.1 is not accepted"
    reason[status == "error"] = "could not fetch attestation: connection reset"

    outage = _in_incident(rows.ts_us, incidents, AUDIT_SYNC_OUTAGE)
    synced[outage] = False
    hit = outage & (rng.random(n) < AUDIT_SYNC_ERROR_SHARE)
    status[hit] = "error"
    sha_ok[hit] = False
    predicate_ok[hit] = False
    reason[hit] = "supabase sync failed: 503 Service Unavailable"
    duration[outage] += rng.uniform(30_000, 90_000, int(outage.sum()))  # retries before giving up

    # audits look at runs finished 1-3 hours earlier
    lag = rng.integers(1, 4, n)
    audited_hours = rows.hour_index - lag
    run_ids = RUN_ID_BASE + audited_hours * 100 + rng.integers(0, 8, n)
    tags = _tags(audited_hours)
    artifact = np.array(ARTIFACTS, dtype=object)[rng.integers(0, len(ARTIFACTS), n)]
    attempts = np.where(outage, rng.integers(2, 6, n), 1)
    dur_text = np.rint(duration).astype(np.int64).tolist()
    ts_text = np.datetime_as_string(rows.ts_us.astype("datetime64[us]"), unit="us")
    text = "".join(
        f"{rid}\t{tag}\t{art}\t{ts}+00\t{st}\t{d}\t{_B[sh]}\t{pt}\t{_B[po]}\t{_B[sy]}\t{why}\t"
        f'{{"attempts": {at}, "observer": "slsa-audit-observer/0.4"}}\n'
        for rid, tag, art, ts, st, d, sh, pt, po, sy, why, at in zip(
            run_ids.tolist(), tags, artifact.tolist(), ts_text.tolist(), status.tolist(), dur_text,
            sha_ok.tolist(), predicate.tolist(), predicate_ok.tolist(), synced.tolist(), reason.tolist(),
            attempts.tolist(), strict=True,
        )
    )
    return text, n


_B = {True: "t", False: "f"}


# ------------------------------------------------------------------------------------------------
# helpers


def _prefetched(items: Iterator[_T]) -> Iterator[_T]:
    """Produce the next item in a worker thread while the caller consumes this one.

    PostgreSQL parses and indexes a slice while numpy and Python format the next one (the wait
    on the socket releases the GIL). At most two slices exist at once, so memory stays flat.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-generate") as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item


def _statuses(rng: np.random.Generator, n: int, failure: float, error: float) -> list[str]:
    u = rng.random(n)
    return np.where(u < error, "error", np.where(u < error + failure, "failure", "success")).tolist()


def _numbers(rng: np.random.Generator, values: np.ndarray) -> list[str]:
    """JSON text of integers, a share of them quoted as numeric strings."""
    text = values.astype(str).astype(object)
    quoted = rng.random(len(values)) < NUMERIC_STRING_SHARE
    text[quoted] = '"' + text[quoted] + '"'
    return text.tolist()


def _in_incident(ts_us: np.ndarray, incidents: Sequence[Incident], kind: str) -> np.ndarray:
    hit = np.zeros(len(ts_us), dtype=bool)
    for incident in incidents:
        if incident.kind == kind:
            lo, hi = incident._bounds_us()
            hit |= (ts_us >= lo) & (ts_us < hi)
    return hit


def _tags(hours: np.ndarray) -> list[str]:
    """Release tag per row: one v1.<minor>.<patch> release per HOURS_PER_RELEASE hours of runs."""
    release = hours // HOURS_PER_RELEASE
    unique, inverse = np.unique(release, return_inverse=True)
    names = np.array([f"v1.{r // 20 % 1000}.{r % 20}" for r in unique.tolist()], dtype=object)
    return names[inverse].tolist()


def _epoch_us(ts: datetime) -> int:
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _require_window(start: datetime, end: datetime, what: str) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"{what}: start and end must be timezone-aware datetimes (got {start!r}, {end!r})")
    if not start < end:
        raise ValueError(f"{what}: start {_iso(start)} must be before end {_iso(end)}")


def _require_count(n: int, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n!r}")


__all__ = [
    "AUDIT_SYNC_OUTAGE",
    "EVENT_MIX",
    "INCIDENT_KINDS",
    "RUNNER_QUEUE",
    "TLOG_OUTAGE",
    "Incident",
    "copy_audits",
    "copy_events",
    "load_curve",
]
