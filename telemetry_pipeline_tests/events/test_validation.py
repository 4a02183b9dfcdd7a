"""The SPEC section 3 validator: each rule refuses with its stable reason, valid events normalise."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from telemetry_pipeline.core.events.validation import InvalidEvent, parse_event

GOOD = {
    "event_type": "provenance.generation",
    "event_timestamp": "2025-03-04T10:11:12Z",
    "metadata": {"status": "success", "duration_ms": 1200},
}


def line(**changes) -> bytes:
    event = {**GOOD, **changes}
    return orjson.dumps({k: v for k, v in event.items() if v is not ...})


def with_metadata(**changes) -> bytes:
    metadata = {**GOOD["metadata"], **changes}
    return line(metadata={k: v for k, v in metadata.items() if v is not ...})


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"event_type": "x", ', "bad_json: "),
        (b"[1, 2]", "not_object: expected a JSON object, got an array"),
        (b'"text"', "not_object: expected a JSON object, got a string"),
        (b'{"event_type":"a","event_timestamp":"2025-01-01T00:00:00Z","metadata":{"status":"success","d":NaN}}',
         "bad_json: NaN is not a JSON value"),
        (b'{"event_type":"a\xff"}', "bad_encoding: not valid UTF-8 at byte 16"),
        (line(event_type=...), "missing_field: event_type"),
        (line(event_type=None), "missing_field: event_type"),
        (line(event_type=""), "bad_event_type: must be a non-empty string of at most 200 characters"),
        (line(event_type="x" * 201), "bad_event_type: must be a non-empty string of at most 200 characters"),
        (line(event_type=7), "bad_event_type: must be a non-empty string of at most 200 characters"),
        (line(event_timestamp=...), "missing_field: event_timestamp"),
        (line(event_timestamp="2025-03-04T10:11:12"), "bad_timestamp: no UTC offset"),
        (line(event_timestamp="2025-03-04"), "bad_timestamp: no UTC offset"),
        (line(event_timestamp="yesterday"), "bad_timestamp: not ISO 8601: 'yesterday'"),
        (line(event_timestamp=1741083072), "bad_timestamp: must be an ISO 8601 string, got a number"),
        (line(event_timestamp="2025-02-30T00:00:00Z"), "bad_timestamp: not ISO 8601: '2025-02-30T00:00:00Z'"),
        (line(event_timestamp="2025-02-30T00:00:00z"), "bad_timestamp: not ISO 8601: '2025-02-30T00:00:00z'"),
        (line(run_id="12a"), "bad_run_id: must be an integer, got a string"),
        (line(run_id=1.5), "bad_run_id: must be an integer"),
        (line(run_id=True), "bad_run_id: must be an integer, got a boolean"),
        (line(run_id=2**63), "bad_run_id: out of the 64-bit integer range"),
        (line(tag=5), "bad_tag: must be a string, got a number"),
        (line(tag="v1\u0000"), "bad_text: tag contains a NUL character"),
        (line(metadata=...), "missing_field: metadata"),
        (line(metadata=[1]), "bad_metadata: must be an object, got an array"),
        (line(metadata="{}"), "bad_metadata: must be an object, got a string"),
        (with_metadata(status=...), "missing_field: metadata.status"),
        (with_metadata(status="SUCCESS"), "bad_metadata: status must be one of success, failure, error, cancelled"),
        (with_metadata(status=1), "bad_metadata: status must be one of success, failure, error, cancelled"),
        (with_metadata(duration_ms=-1), "bad_metadata: duration_ms must be a number >= 0"),
        (with_metadata(duration_ms="fast"), "bad_metadata: duration_ms must be a number >= 0"),
        (with_metadata(duration_ms="NaN"), "bad_metadata: duration_ms must be a number >= 0"),
        (with_metadata(duration_ms=True), "bad_metadata: duration_ms must be a number >= 0"),
        (with_metadata(duration_ms=[1]), "bad_metadata: duration_ms must be a number >= 0"),
        (with_metadata(artifact_size_bytes="-5"), "bad_metadata: artifact_size_bytes must be a number >= 0"),
        (with_metadata(note="a\u0000b"), "bad_text: metadata contains a NUL character (\\u0000), which jsonb cannot store"),
        (line(event_id=""), "bad_event_id: must be a non-empty string of at most 200 characters"),
        (line(event_id=12), "bad_event_id: must be a non-empty string of at most 200 characters"),
        (line(event_id="e" * 201), "bad_event_id: must be a non-empty string of at most 200 characters"),
        (b'{"event_type":"a\\ud800","event_timestamp":"2025-01-01T00:00:00Z","metadata":{"status":"error"}}',
         "bad_text: event_type is not valid Unicode (lone surrogate)"),
    ],
)
def test_each_rule_refuses_with_its_reason(raw: bytes, reason: str):
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    assert caught.value.reason.startswith(reason), caught.value.reason
    assert caught.value.code == reason.split(":")[0]


def test_a_valid_event_is_normalised_to_utc_and_compact_json():
    event = parse_event(
        line(event_timestamp="2025-03-04T12:11:12.5+02:00", run_id="42", tag="v1.2.3", event_id="e-1",
             metadata={"status": "failure", "duration_ms": "1500.5", "artifact_size_bytes": 0, "extra": {"k": [1]}})
    )
    assert event.event_timestamp == datetime(2025, 3, 4, 10, 11, 12, 500000, tzinfo=UTC)
    assert event.run_id == 42 and event.tag == "v1.2.3" and event.event_id == "e-1"
    assert orjson.loads(event.metadata_json) == {
        "status": "failure", "duration_ms": "1500.5", "artifact_size_bytes": 0, "extra": {"k": [1]}
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"run_id": None, "tag": None, "event_id": None},  # optional fields may be null
        {"run_id": 42.0},  # an integral number is an integer
        {"unknown_key": "ignored"},  # producers may add fields
        {"metadata": {"status": "error", "duration_ms": None, "artifact_size_bytes": " 12e3 "}},
        {"event_timestamp": "2025-03-04T10:11:12.123456789+00:00"},
        {"event_timestamp": "2025-03-04 10:11:12-05:30"},
        {"event_timestamp": "2025-03-04T10:11:12.5z"},  # RFC 3339 allows lower-case z
        {"tag": "multi\nline\ttag\\"},
    ],
)
def test_valid_variants_are_accepted(changes: dict):
    parse_event(line(**changes))


def test_numbers_beyond_double_range_are_kept_digit_for_digit():
    raw = b'{"event_type":"a","event_timestamp":"2025-01-01T00:00:00Z","metadata":{"status":"success","big":1e400,"x":0.1}}'
    event = parse_event(raw)
    assert orjson.loads(event.metadata_json.replace(b"1E+400", b"1")) == {"status": "success", "big": 1, "x": 0.1}
    assert b"1E+400" in event.metadata_json


def test_collector_and_emit_default_the_timestamp_to_now():
    now = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    assert parse_event(line(event_timestamp=...), default_timestamp=now).event_timestamp == now
    with pytest.raises(InvalidEvent, match="missing_field: event_timestamp"):
        parse_event(line(event_timestamp=...))
