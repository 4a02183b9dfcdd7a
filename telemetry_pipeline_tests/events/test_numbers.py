"""Hostile numbers: judged by exponent and digit count before any conversion, on every path.

PostgreSQL itself is the oracle for what jsonb can store: every metadata number the validator
accepts is cast to jsonb by the real server and comes back digit for digit, and every one it
refuses for range is refused by the server too.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from telemetry_pipeline.cli import cli
from telemetry_pipeline.core.events.ingest import ingest_file
from telemetry_pipeline.core.events.validation import InvalidEvent, parse_event

HEAD = '{"event_type":"x","event_timestamp":"2025-01-01T00:00:00Z"'


def raw(run_id: str = "1", metadata: str = "") -> bytes:
    return f'{HEAD},"run_id":{run_id},"metadata":{{"status":"success"{metadata}}}}}'.encode()


def code_of(line: bytes) -> str | None:
    try:
        parse_event(line)
    except InvalidEvent as exc:
        return exc.code
    return None


RUN_IDS = {
    "9223372036854775807": 9223372036854775807,
    "-9223372036854775808": -9223372036854775808,
    '"9223372036854775807"': 9223372036854775807,
    "-0": 0,
    "4.5e3": 4500,
    "9.2e18": 9200000000000000000,
    "922337203685477e4": 9223372036854770000,  # a double would round it
    "9223372036854775807.0": 9223372036854775807,
}
BAD_RUN_IDS = [
    "9223372036854775808", "-9223372036854775809", '"9223372036854775808"', '"-9223372036854775809"',
    "1e300000", "-1e300000", "1E+999999999", "1e99999999999999999999999", "-1e-99999999999999999999999",
    "1e19", "9.3e18", "1" + "0" * 10_000, "-" + "9" * 10_000, "1e-400", "0.5", "1.0000000000000000001",
    '"1e300000"', '"1e3"', "NaN", "Infinity", "-Infinity", "9223372036854775807.5",
    '"' + "1" * 200_000 + '"', '" ' + " " * 200_000 + '1x"',
]


@pytest.mark.parametrize(("text", "expected"), RUN_IDS.items())
def test_run_ids_at_the_bigint_edges_are_exact(text: str, expected: int):
    assert parse_event(raw(run_id=text)).run_id == expected


@pytest.mark.parametrize("text", BAD_RUN_IDS, ids=lambda t: t[:24])
def test_run_ids_beyond_bigint_or_not_integral_are_bad_run_id_in_bounded_time(text: str):
    started = time.process_time()
    code = code_of(raw(run_id=text))
    elapsed = time.process_time() - started
    assert code == ("bad_json" if text.lstrip("-") in ("NaN", "Infinity") else "bad_run_id")
    assert elapsed < 0.5, f"{elapsed:.3f}s for run_id {text[:30]}"  # was seconds for 1e300000


STORABLE = [
    "123456789012345678901234567890", "-123456789012345678901234567890", "9" * 10_000, "-0", "0.0",
    "1e-400", "1e-16383", "1.5e-16382", "1e131071", "9.99e131071", "1e308", "5e-324",
    "0." + "0" * 16_382 + "1", "1" + "0" * 131_071, "0e131071", "18446744073709551616",
    "0.1000000000000000055511151231257827", "1E+999",
]
UNSTORABLE = [
    "1e200000", "-1e200000", "1e300000", "1E+999999999", "1e99999999999999999999", "1e-16384",
    "1.5e-16383", "0.0e-16383", "1e131072", "1" + "0" * 131_072, "0." + "0" * 16_383 + "1",
    "-1e-99999999999999999999", "0e99999999999999999999",
]


def test_storable_metadata_numbers_reach_postgresql_digit_for_digit(warehouse_url: str):
    with psycopg.connect(warehouse_url) as conn:
        for text in STORABLE:
            event = parse_event(raw(metadata=f',"x":{text},"nested":[{{"y":{text}}}]'))
            stored, nested, expected = conn.execute(
                "select (%s::jsonb ->> 'x')::numeric, (%s::jsonb #>> '{nested,0,y}')::numeric, %s::numeric",
                (event.metadata_json.decode(),) * 2 + (text,),
            ).fetchone()
            assert stored == expected and nested == expected, text[:40]
    exact = parse_event(raw(metadata=',"x":123456789012345678901234567890'))
    assert exact.metadata_json == b'{"status":"success","x":123456789012345678901234567890}'


@pytest.mark.parametrize("text", UNSTORABLE, ids=lambda t: t[:24])
def test_unstorable_metadata_numbers_are_refused_before_postgresql_sees_them(text: str, warehouse_url: str):
    started = time.process_time()
    with pytest.raises(InvalidEvent) as refused:
        parse_event(raw(metadata=f',"deep":{{"list":[1,{text}]}}'))
    assert time.process_time() - started < 0.5
    assert refused.value.reason.startswith("bad_metadata: metadata.deep.list[1] is out of PostgreSQL's numeric range")
    with psycopg.connect(warehouse_url) as conn, pytest.raises(psycopg.DataError):  # the oracle agrees
        conn.execute("select %s::jsonb", (f'{{"x": {text}}}',))


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ('"1e300000"', "bad_metadata"), ('"-1e300000"', "bad_metadata"), ('"1e301"', "bad_metadata"),
        ('"' + "1" * 10_000 + '"', "bad_metadata"), ('"' + "1" * 200_000 + 'x"', "bad_metadata"),
        ('"NaN"', "bad_metadata"), ('"Infinity"', "bad_metadata"), ("1" + "0" * 200_000, "bad_metadata"),
        ("1e301", "bad_metadata"), ("1e300000", "bad_metadata"), ("1e70", "bad_metadata"),
        ("-0", None), ('"1e300"', None), ('" 12e3 "', None), ("1e60", None), ("12345.678", None),
        ("NaN", "bad_json"), ("-Infinity", "bad_json"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_kpi_numbers_are_refused_where_the_kpis_could_not_read_them(value: str, code: str | None, warehouse_url):
    line = raw(metadata=f',"duration_ms":{value}')
    started = time.process_time()
    assert code_of(line) == code
    assert time.process_time() - started < 0.5  # a long digit run once backtracked quadratically
    if code is None:  # the KPIs' own reader (sql/0001) sees a number, not NULL
        with psycopg.connect(warehouse_url) as conn:
            [(number,)] = conn.execute(
                "select public.telemetry_try_float8(%s::jsonb ->> 'duration_ms')",
                (parse_event(line).metadata_json.decode(),),
            ).fetchall()
        assert number is not None


def test_ingest_quarantines_hostile_numbers_and_stays_on_the_fast_path(warehouse, tmp_path: Path):
    lines = [
        raw("1", ',"x":123456789012345678901234567890'),
        raw("1e300000"),
        raw("-9223372036854775809"),
        raw("2", ',"x":1e200000'),
        raw("3", ',"x":' + "9" * 10_000),
        raw("9223372036854775807"),
    ]
    path = tmp_path / "hostile.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    started = time.process_time()
    summary = ingest_file(warehouse.url(), str(path))
    assert time.process_time() - started < 5
    assert (summary.accepted, dict(summary.rejected)) == (3, {"bad_run_id": 2, "bad_metadata": 1})
    with psycopg.connect(warehouse.url()) as conn:
        stored = conn.execute(
            "select run_id, metadata ->> 'x' from public.telemetry_events order by run_id"
        ).fetchall()
        reasons = conn.execute(
            "select line_number, reason from public.telemetry_events_rejected order by line_number"
        ).fetchall()
    assert stored == [(1, "123456789012345678901234567890"), (3, "9" * 10_000), (9223372036854775807, None)]
    assert [n for n, _ in reasons] == [2, 3, 4]
    assert "db_rejected" not in " ".join(r for _, r in reasons)


def test_emit_refuses_out_of_range_numbers_with_a_reason(warehouse, monkeypatch):
    monkeypatch.delenv("TELEMETRY_COLLECTOR_URL", raising=False)
    base = ["emit", "--type", "provenance.generation", "--status", "success"]
    runs = {
        "run": CliRunner().invoke(cli, [*base, "--run-id", "9223372036854775808", "--strict"]),
        "duration": CliRunner().invoke(cli, [*base, "--duration-ms", "1e300000", "--strict"]),
        "good": CliRunner().invoke(cli, [*base, "--run-id", "-9223372036854775808", "--duration-ms", "1e3"]),
    }
    assert {name: r.exit_code for name, r in runs.items()} == {"run": 3, "duration": 3, "good": 0}
    assert "bad_run_id: out of the 64-bit integer range" in runs["run"].stderr
    assert "bad_metadata: duration_ms must be a number >= 0" in runs["duration"].stderr
    with psycopg.connect(warehouse.url()) as conn:
        assert conn.execute("select run_id, m_duration_ms from public.telemetry_events").fetchall() == [
            (-9223372036854775808, 1000.0)
        ]
