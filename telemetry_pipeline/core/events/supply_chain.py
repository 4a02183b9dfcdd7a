"""Supply-chain tool outputs as `provenance.validation` events (`ingest --format gh-attestation|slsa-verifier`,
and the collector's `POST /v1/supply-chain?format=...`).

A release workflow already runs `gh attestation verify` or `slsa-verifier`; piping their output
here records each verification as telemetry without a wrapper script of our own. The events go
through the same validator, duplicate check and quarantine as NDJSON (`ingest.ingest_stream`);
a record this module cannot read at all is quarantined too (code `bad_tool_output`), with its
record number and raw text, and the rest of the input goes on.

Input shapes (docs/integrations.md has the workflow steps that produce them):

- the *run record*, one JSON object per verification (a file may hold one, or NDJSON lines):
  `{"exit_code": 0, "stdout": "...", "stderr": "...", "artifact": "dist/app.tar.gz",
  "duration_ms": 5234, "finished_at": "2025-03-10T12:00:00Z", "run_id": 1234, "tag": "v1.2.3"}`;
  only exit_code is required. It carries what the tools do not print: exit status and timing.
- `gh-attestation` also takes the bare stdout of `gh attestation verify --format json` (a JSON
  array of verified attestations: exit status 0 by construction);
- `slsa-verifier` also takes a captured log (stderr and stdout together) with `--exit-code N`.

Status (SPEC section 3): success = the tool verified; failure = it ran and refused (gh:
"✗ Sigstore verification failed", "✗ Policy verification failed", "✗ No attestations found";
slsa-verifier: "FAILED: SLSA verification failed: ..."); error = it could not run (any other
non-zero exit, e.g. the GitHub API unreachable, or exit 0 without a verdict).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EVENT_TYPE = "provenance.validation"
FORMATS = ("gh-attestation", "slsa-verifier")
#: A tool's output is small; more than this is not one of them.
MAX_INPUT_BYTES = 64 << 20
REJECT_CODE = "bad_tool_output"
#: The collector's query parameters of POST /v1/supply-chain besides `format` (ingest's options).
QUERY_PARAMETERS = ("timestamp", "run_id", "tag", "artifact", "exit_code", "duration_ms")

_GH_FAILURES = ("sigstore verification failed", "policy verification failed", "no attestations found")
_SLSA_PASSED = ("PASSED: SLSA verification passed", "PASSED: Verified SLSA provenance")
_SLSA_FAILED = re.compile(r"^FAILED: SLSA verification failed: (?P<reason>.*)$", re.M)
_SLSA_ARTIFACT = re.compile(r"^Verifying artifact (?P<artifact>.+?): (?P<verdict>PASSED|FAILED)(?:: (?P<reason>.*))?$",
                            re.M)
_SLSA_BUILDER = re.compile(r'^Verified build using builder "(?P<builder>[^"]+)" at commit (?P<commit>[0-9a-f]+)', re.M)
_SLSA_TLOG = re.compile(r"^Verified signature against tlog entry index (?P<index>\d+) at URL: (?P<url>\S+)", re.M)
_GITHUB_REPO = re.compile(r"^(?:git\+)?https://github\.com/(?P<repo>[^/@\s]+/[^/@\s]+?)(?:\.git)?(?:@(?P<ref>\S+))?/?$")


class ToolOutputError(ValueError):
    """A record that is not output of the named tool; the message says what is wrong."""


@dataclass(frozen=True)
class Context:
    """What the command line adds: defaults for fields a record does not carry."""

    timestamp: datetime
    run_id: int | None = None
    tag: str | None = None
    artifact: str | None = None
    exit_code: int | None = None  # slsa-verifier log mode
    duration_ms: float | None = None


@dataclass(frozen=True)
class Converted:
    """One input record: its events, or why it could not be read."""

    record_number: int
    raw: bytes
    events: tuple[dict[str, Any], ...] = ()
    error: str | None = None


def _records(data: bytes) -> Iterator[tuple[int, bytes, Any]]:
    """The input as JSON values: one document (possibly multi-line), else one per non-blank line."""
    try:
        yield 1, data, json.loads(data)
        return
    except (ValueError, UnicodeDecodeError):
        pass
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, line, json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            yield number, line, ToolOutputError(f"record {number} is not JSON ({exc})")


def _repository(uri: Any) -> tuple[str | None, str | None]:
    """owner/name (and ref) of a GitHub URL such as git+https://github.com/o/r@refs/tags/v1."""
    match = _GITHUB_REPO.match(uri) if isinstance(uri, str) else None
    return (match["repo"], match["ref"]) if match else (None, None)


def _subject(statement: dict[str, Any], artifact: str | None) -> dict[str, Any]:
    """The statement's subject for `artifact` (by name, else the first)."""
    subjects = [s for s in statement.get("subject") or [] if isinstance(s, dict)]
    if artifact:
        base = artifact.rsplit("/", 1)[-1]
        for subject in subjects:
            if subject.get("name") in (artifact, base):
                return subject
    return subjects[0] if subjects else {}


def _mapping(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (tool output is not trusted)."""
    return value if isinstance(value, dict) else {}


def _digest(subject: dict[str, Any]) -> str | None:
    digest = _mapping(subject.get("digest"))
    for algorithm in ("sha256", "sha512", "sha1"):
        if isinstance(digest.get(algorithm), str):
            return f"{algorithm}:{digest[algorithm]}"
    return None


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _run_record(value: Any, fields: tuple[str, ...] = ("exit_code",)) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ToolOutputError(f"expected a run record object with exit_code, got {type(value).__name__}")
    for field in fields:
        if field not in value:
            raise ToolOutputError(f"run record has no {field}")
    code = value["exit_code"]
    if isinstance(code, bool) or not isinstance(code, int):
        raise ToolOutputError(f"exit_code must be an integer, got {code!r}")
    for field in ("stdout", "stderr", "artifact", "finished_at", "tag"):
        if value.get(field) is not None and not isinstance(value[field], str):
            raise ToolOutputError(f"{field} must be a string")
    return value


def _last_line(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else None


# --- gh attestation verify --format json ------------------------------------------------------


def _gh_verified(result: Any, artifact: str | None) -> dict[str, Any]:
    """Metadata of one verified attestation (an AttestationProcessingResult of gh)."""
    if not isinstance(result, dict) or not isinstance(result.get("verificationResult"), dict):
        raise ToolOutputError("an element of gh's JSON array has no verificationResult object")
    verification = result["verificationResult"]
    statement = _mapping(verification.get("statement"))
    signature = _mapping(verification.get("signature"))
    certificate = _mapping(signature.get("certificate"))
    subject = _subject(statement, artifact)
    repository, _ = _repository(certificate.get("sourceRepositoryURI"))
    timestamps = [t for t in verification.get("verifiedTimestamps") or [] if isinstance(t, dict)]
    return _drop_none({
        "artifact": artifact or subject.get("name"),
        "subject_name": subject.get("name"),
        "subject_digest": _digest(subject),
        "predicate_type": statement.get("predicateType"),
        "repository": repository,
        "source_ref": certificate.get("sourceRepositoryRef"),
        "source_commit": certificate.get("sourceRepositoryDigest"),
        "signer_workflow": certificate.get("buildSignerURI"),
        "build_run": certificate.get("runInvocationURI"),
        "attested_at": timestamps[0].get("timestamp") if timestamps else None,
    })


def gh_attestation(value: Any) -> list[dict[str, Any]]:
    """Events' metadata (without timestamps) of one gh record: a bare JSON array or a run record."""
    if isinstance(value, list):
        record: dict[str, Any] = {"exit_code": 0}
        results = value
    else:
        record = _run_record(value)
        results = None
    artifact = record.get("artifact")
    base = _drop_none({"verifier": "gh-attestation", "duration_ms": record.get("duration_ms")})
    if record["exit_code"] != 0:
        stderr = record.get("stderr") or ""
        failed = any(marker in stderr.lower() for marker in _GH_FAILURES)
        reason = next((line.strip() for line in stderr.splitlines() if line.strip().startswith("✗")), None)
        return [base | _drop_none({"status": "failure" if failed else "error", "artifact": artifact,
                                   "exit_code": record["exit_code"],
                                   "failure_reason": reason or _last_line(stderr) or "gh exited non-zero"})]
    if results is None:
        try:
            results = json.loads(record.get("stdout") or "")
        except ValueError:
            return [base | _drop_none({"status": "error", "artifact": artifact, "exit_code": 0,
                                       "failure_reason": "gh exited 0 without a JSON result on stdout"})]
    if not isinstance(results, list) or not results:
        return [base | _drop_none({"status": "error", "artifact": artifact, "exit_code": 0,
                                   "failure_reason": "gh printed no verified attestation"})]
    return [base | {"status": "success"} | _gh_verified(r, artifact) for r in results]


# --- slsa-verifier ---------------------------------------------------------------------------


def _provenance(text: str) -> dict[str, Any] | None:
    """The in-toto statement --print-provenance writes to stdout (one JSON line), if any."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and "predicateType" in value:
                return value
    return None


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _provenance_source(statement: dict[str, Any]) -> tuple[str | None, str | None]:
    # SLSA v1.0 (slsa-github-generator): buildDefinition.externalParameters.workflow
    workflow = _dig(statement, "predicate", "buildDefinition", "externalParameters", "workflow")
    if isinstance(workflow, dict) and workflow.get("repository"):
        repository, _ = _repository(workflow["repository"])
        return repository, workflow.get("ref")
    # SLSA v0.2: invocation.configSource.uri = git+https://github.com/o/r@refs/tags/v1
    return _repository(_dig(statement, "predicate", "invocation", "configSource", "uri"))


def slsa_verifier(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Events' metadata of one slsa-verifier run record (stdout, stderr, exit_code)."""
    record = _run_record(record)
    log = (record.get("stderr") or "") + "\n" + (record.get("stdout") or "")
    base = _drop_none({"verifier": "slsa-verifier", "duration_ms": record.get("duration_ms"),
                       "exit_code": record["exit_code"]})
    builder = _SLSA_BUILDER.search(log)
    tlog = _SLSA_TLOG.search(log)
    statement = _provenance(log) or {}  # stdout (--print-provenance), or anywhere in a captured log
    repository, ref = _provenance_source(statement)
    base |= _drop_none({
        "builder_id": builder["builder"] if builder else None,
        "source_commit": builder["commit"] if builder else None,
        "tlog_index": int(tlog["index"]) if tlog else None,
        "predicate_type": statement.get("predicateType"),
        "repository": repository,
        "source_ref": ref,
    })
    failed = _SLSA_FAILED.search(log)
    passed = any(marker in log for marker in _SLSA_PASSED)
    if record["exit_code"] == 0 and passed and not failed:
        status, reason = "success", None
    elif failed:
        status, reason = "failure", failed["reason"].strip()[:500]
    else:
        status = "error"
        reason = _last_line(record.get("stderr") or "") or f"slsa-verifier exited {record['exit_code']} without a verdict"
    verdicts: list[re.Match[str] | None] = [*_SLSA_ARTIFACT.finditer(log)] or [None]
    events = []
    for verdict in verdicts:
        artifact = verdict["artifact"] if verdict else record.get("artifact")
        own = status
        own_reason = reason
        if verdict is not None and verdict["verdict"] == "FAILED":
            own, own_reason = ("failure" if status != "error" else "error"), (verdict["reason"] or reason)
        subject = _subject(statement, artifact) if statement else {}
        events.append(base | _drop_none({"status": own, "artifact": artifact, "subject_digest": _digest(subject),
                                         "failure_reason": own_reason}))
    return events


# --- both ------------------------------------------------------------------------------------


def _event_id(fmt: str, raw: bytes, timestamp: str, run_id: Any, index: int) -> str:
    """Deterministic idempotency key: the same record of the same run ingested twice is a duplicate."""
    digest = hashlib.sha256(b"\0".join([fmt.encode(), raw, timestamp.encode(), str(run_id).encode()])).hexdigest()
    return f"{fmt}:{digest[:40]}:{index}"


def convert(fmt: str, data: bytes, context: Context) -> list[Converted]:
    """Every record of `data` (output of the tool `fmt`) as events, or the reason it is unreadable."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "slsa-verifier" and context.exit_code is not None:
        text = data.decode("utf-8", errors="replace")
        records: list[tuple[int, bytes, Any]] = [
            (1, data, _drop_none({"exit_code": context.exit_code, "stderr": text,
                                  "artifact": context.artifact, "duration_ms": context.duration_ms}))]
    else:
        records = list(_records(data))
    out: list[Converted] = []
    for number, raw, value in records:
        try:
            if isinstance(value, ToolOutputError):
                raise value
            if fmt == "gh-attestation":
                metadata = gh_attestation(value)
            else:
                metadata = slsa_verifier(value if isinstance(value, dict) else _run_record(value))
        except ToolOutputError as exc:
            out.append(Converted(number, raw, error=f"{fmt} record {number}: {exc}"))
            continue
        record = value if isinstance(value, dict) else {}
        timestamp = record.get("finished_at") or context.timestamp.astimezone(UTC).isoformat()
        run_id = record.get("run_id", context.run_id)
        events = []
        for index, meta in enumerate(metadata):
            if "artifact" not in meta and context.artifact:
                meta["artifact"] = context.artifact
            if "duration_ms" not in meta and context.duration_ms is not None:
                meta["duration_ms"] = context.duration_ms
            events.append(_drop_none({
                "event_type": EVENT_TYPE,
                "event_timestamp": timestamp,
                "run_id": run_id,
                "tag": record.get("tag", context.tag),
                "event_id": _event_id(fmt, raw, str(timestamp), run_id, index),
                "metadata": meta,
            }))
        out.append(Converted(number, raw, events=tuple(events)))
    return out


def unreadable(converted: list[Converted]) -> list[Any]:
    """The records no event could be read from, as quarantine rows (code bad_tool_output)."""
    from telemetry_pipeline.core.events.store import Rejected, raw_text

    return [Rejected(c.record_number, REJECT_CODE, f"{REJECT_CODE}: {c.error}", raw_text(c.raw))
            for c in converted if c.error]


def context_from_query(fmt: str, params: Mapping[str, str], now: datetime) -> Context:
    """The collector's query parameters (timestamp, run_id, tag, artifact, exit_code, duration_ms) as a
    Context, like `ingest`'s options; a bad value raises ValueError naming the parameter."""
    from telemetry_pipeline.core.events.validation import InvalidEvent, parse_timestamp

    unknown = sorted(set(params) - {"format", *QUERY_PARAMETERS})
    if unknown:
        raise ValueError(f"unknown query parameter {unknown[0]!r}; allowed: format, {', '.join(QUERY_PARAMETERS)}")
    if "exit_code" in params and fmt != "slsa-verifier":
        raise ValueError("exit_code is for format=slsa-verifier (a captured log as the body)")
    values: dict[str, Any] = {}
    for name, parse in (("run_id", int), ("exit_code", int), ("duration_ms", float)):
        if name in params:
            try:
                values[name] = parse(params[name])
            except ValueError:
                raise ValueError(f"query parameter {name}: not a number: {params[name]!r}") from None
    if values.get("duration_ms", 0) < 0 or not math.isfinite(values.get("duration_ms", 0)):
        raise ValueError("query parameter duration_ms: must be a finite number >= 0")
    try:
        when = parse_timestamp(params["timestamp"]) if "timestamp" in params else now
    except InvalidEvent as exc:
        raise ValueError(f"query parameter timestamp: {exc.reason}") from None
    return Context(when, tag=params.get("tag"), artifact=params.get("artifact"), **values)


def ingest_tool_output(url: str, path: str, fmt: str, context: Context, *, progress: Any = None) -> Any:
    """Convert FILE ('-' = stdin, gzip recognised) and ingest the events like NDJSON; returns the summary.

    Unreadable records are quarantined in the same batch (same batch_id) as the events' rejects.
    """
    import io

    import orjson
    import psycopg

    from telemetry_pipeline.core.events.ingest import ingest_stream
    from telemetry_pipeline.core.events.inputs import open_input
    from telemetry_pipeline.core.events.store import quarantine

    with open_input(path) as source:
        data = source.stream.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise ToolOutputError(f"{path}: more than {MAX_INPUT_BYTES} bytes; not the output of {fmt}")
    converted = convert(fmt, data, context)
    lines = b"".join(orjson.dumps(e) + b"\n" for c in converted for e in c.events)
    rejects = unreadable(converted)
    label = f"ingest:{fmt}:{path}"
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as conn:
        summary = ingest_stream(conn, io.BytesIO(lines), source=label, progress=progress)
        if rejects:
            with conn.transaction():
                quarantine(conn, rejects, source=label, batch_id=summary.batch_id)
            summary.rejected[REJECT_CODE] += len(rejects)
    return summary
