"""Property: whatever mix of valid, malformed and duplicate lines a file holds, ingest never crashes,
every bad line is quarantined with the reason its defect calls for, and every good line is stored
exactly once (the oracle is how each line was built, not the validator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry_pipeline.core.events import ingest as ingest_module
from telemetry_pipeline.core.events.ingest import ingest_file

TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))])
NUMBER = st.one_of(
    st.integers(0, 10**12),
    # a JSON number the KPIs can read: PostgreSQL writes it out in full, within 64 characters
    # (a positive float below ~1e-40 is refused as out of the KPIs' range; test_numbers.py pins that)
    st.floats(0, 1e12, allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or x >= 1e-20),
    st.integers(0, 10**9).map(str),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False).map(repr),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def good_events(draw) -> dict:
    """A valid event without event_id (the test assigns ids)."""
    metadata = {"status": draw(st.sampled_from(["success", "failure", "error"]))}
    for field in ("duration_ms", "artifact_size_bytes"):
        if draw(st.booleans()):
            metadata[field] = draw(NUMBER)
    metadata.update(draw(st.dictionaries(TEXT.filter(lambda k: k not in metadata), JSON_VALUE, max_size=3)))
    when = draw(st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=ZONES))
    event = {
        "event_type": draw(TEXT.filter(bool) | st.sampled_from(["provenance.generation", "workflow.run"])),
        "event_timestamp": when.isoformat().replace("+00:00", draw(st.sampled_from(["Z", "+00:00"]))),
        "metadata": metadata,
    }
    if draw(st.booleans()):
        event["run_id"] = draw(st.integers(-(2**63), 2**63 - 1) | st.integers(0, 10**9).map(str))
    if draw(st.booleans()):
        event["tag"] = draw(TEXT)
    return event


def _set(key, value):
    return lambda e: {**e, key: value}


def _without(key):
    return lambda e: {k: v for k, v in e.items() if k != key}


def _meta(**changes):
    return lambda e: {**e, "metadata": {**e["metadata"], **changes}}


#: defect -> (how to break a good event, the reason code it must be quarantined under)
DEFECTS = {
    "no_type": (_without("event_type"), "missing_field"),
    "empty_type": (_set("event_type", ""), "bad_event_type"),
    "long_type": (_set("event_type", "t" * 201), "bad_event_type"),
    "no_time": (_without("event_timestamp"), "missing_field"),
    "naive_time": (_set("event_timestamp", "2025-03-04T10:00:00"), "bad_timestamp"),
    "number_time": (_set("event_timestamp", 1741082400), "bad_timestamp"),
    "bad_run": (_set("run_id", "r-12"), "bad_run_id"),
    "bad_tag": (_set("tag", ["v1"]), "bad_tag"),
    "nul_tag": (_set("tag", "v\x001"), "bad_text"),
    "no_meta": (_without("metadata"), "missing_field"),
    "meta_list": (_set("metadata", ["success"]), "bad_metadata"),
    "bad_status": (_meta(status="passed"), "bad_metadata"),
    "no_status": (lambda e: {**e, "metadata": {k: v for k, v in e["metadata"].items() if k != "status"}},
                  "missing_field"),
    "negative": (_meta(duration_ms=-1), "bad_metadata"),
    "word_size": (_meta(artifact_size_bytes="big"), "bad_metadata"),
    "bad_id": (_set("event_id", 7), "bad_event_id"),
}
RAW_DEFECTS = {  # lines that are not an event object at all
    "truncated": (b'{"event_type": "provenance.generation", "metadata": {', "bad_json"),
    "garbage": (b"\x00\x01 not json", "bad_json"),
    "array": (b"[1, 2, 3]", "not_object"),
    "number": (b"42", "not_object"),
    "latin1": (b'{"event_type": "caf\xe9"}', "bad_encoding"),
}

LINE = st.one_of(
    st.tuples(st.just("good"), good_events()),
    st.tuples(st.just("dup"), st.integers(0, 10**6)),  # repeats an earlier good line (if any)
    st.tuples(st.sampled_from(sorted(DEFECTS)), good_events()),
    st.tuples(st.sampled_from(sorted(RAW_DEFECTS)), st.none()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(LINE, min_size=1, max_size=40))
def test_ingest_quarantines_every_bad_line_and_stores_every_good_line_once(plan, warehouse, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ingest_module, "CHUNK_LINES", 8)  # several chunks per file
    lines: list[bytes] = []
    good: dict[str, dict] = {}  # event_id -> event as first written
    expected_rejects: dict[int, str] = {}  # line number -> reason code
    duplicates = 0
    for kind, payload in plan:
        number = len(lines) + 1
        if kind == "good":
            event = {**payload, "event_id": f"good-{number}"}
            good[event["event_id"]] = event
            lines.append(orjson.dumps(event))
        elif kind == "dup":
            if not good:
                continue
            first = sorted(good)[payload % len(good)]
            lines.append(orjson.dumps({**good[first], "run_id": None}))  # same id, different body
            duplicates += 1
        elif kind in DEFECTS:
            breaker, code = DEFECTS[kind]
            lines.append(orjson.dumps(breaker({**payload, "event_id": f"bad-{number}"})))
            expected_rejects[number] = code
        else:
            raw, code = RAW_DEFECTS[kind]
            lines.append(raw)
            expected_rejects[number] = code
    path = tmp_path / "corpus.ndjson"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    with warehouse.connect() as conn:
        conn.execute("truncate public.telemetry_events, public.telemetry_events_rejected")

    summary = ingest_file(warehouse.url(), str(path))

    assert summary.lines == len(lines)
    assert (summary.accepted, summary.duplicates, summary.rejected_total) == (len(good), duplicates, len(expected_rejects))
    with psycopg.connect(warehouse.url()) as conn:
        stored = conn.execute("select event_id, run_id from public.telemetry_events").fetchall()
        quarantined = conn.execute(
            "select line_number, reason_code, reason from public.telemetry_events_rejected"
        ).fetchall()
    assert sorted(e for e, _ in stored) == sorted(good)  # each good line exactly once, no bad one
    firsts = {e: good[e].get("run_id") for e in good}
    assert {e: r for e, r in stored} == {e: (int(r) if r is not None else None) for e, r in firsts.items()}
    assert {n: code for n, code, _ in quarantined} == expected_rejects
    assert len(quarantined) == len(expected_rejects)
    assert all(reason.startswith(f"{code}: ") and len(reason) > len(code) + 2 for _, code, reason in quarantined)
