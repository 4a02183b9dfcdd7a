"""`ingest`: exact counts, quarantine with line numbers, duplicates, gzip, stdin, chunk edges."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import psycopg
import pytest
from click.testing import CliRunner

from telemetry_pipeline.cli import cli
from telemetry_pipeline.core.events import ingest as ingest_module
from telemetry_pipeline.core.events.ingest import ingest_file
from telemetry_pipeline.core.events.progress import TerminalProgress


def event(n: int, **changes) -> dict:
    base = {
        "event_type": "provenance.generation",
        "event_timestamp": f"2025-03-04T10:{n % 60:02d}:00Z",
        "run_id": 1000 + n,
        "tag": "v1.0.0",
        "metadata": {"status": "success", "duration_ms": 100 * n, "artifact_size_bytes": str(10 * n)},
    }
    return {**base, **changes}


def ndjson(*items: dict | bytes) -> bytes:
    return b"".join((i if isinstance(i, bytes) else orjson.dumps(i)) + b"\n" for i in items)


def rows(url: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


MIXED = (
    b"\xef\xbb\xbf" + orjson.dumps(event(1, event_id="a")) + b"\n"           # 1 BOM, valid
    + ndjson(
        event(2),                                                            # 2 valid, no id
        b'{"event_type": "provenance.generation", ',                         # 3 truncated JSON
        event(3, event_id="a"),                                              # 4 duplicate of line 1
        b"",                                                                 # 5 blank: skipped
        event(4, event_timestamp="2025-03-04T10:00:00"),                     # 6 no offset
        event(5, metadata={"status": "ok"}),                                 # 7 bad status
    )
    + orjson.dumps(event(6, event_id="b")) + b"\r\n"                         # 8 valid, CRLF
    + ndjson(
        event(7, metadata={"status": "failure", "duration_ms": -3}),         # 9 negative duration
        [1, 2],                                                              # 10 not an object
    )
    + orjson.dumps(event(8, tag="last line without newline"))                # 11 valid
)


def test_a_mixed_file_is_counted_exactly_and_bad_lines_are_quarantined(warehouse, tmp_path: Path):
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(MIXED)
    summary = ingest_file(warehouse.url(), str(path))

    assert (summary.lines, summary.accepted, summary.duplicates, summary.blank_lines) == (11, 4, 1, 1)
    assert dict(summary.rejected) == {"bad_json": 1, "bad_timestamp": 1, "bad_metadata": 2, "not_object": 1}
    stored = rows(
        warehouse.url(),
        "select run_id, event_id, m_duration_ms, m_artifact_size_bytes, tag from public.telemetry_events order by run_id",
    )
    assert stored == [
        (1001, "a", 100.0, 10.0, "v1.0.0"),
        (1002, None, 200.0, 20.0, "v1.0.0"),
        (1006, "b", 600.0, 60.0, "v1.0.0"),
        (1008, None, 800.0, 80.0, "last line without newline"),
    ]
    rejected = rows(
        warehouse.url(),
        "select line_number, reason_code, reason, source, batch_id, raw from public.telemetry_events_rejected "
        "order by line_number",
    )
    assert [(r[0], r[1]) for r in rejected] == [
        (3, "bad_json"), (6, "bad_timestamp"), (7, "bad_metadata"), (9, "bad_metadata"), (10, "not_object"),
    ]
    assert rejected[1][2] == "bad_timestamp: no UTC offset"
    assert rejected[2][2] == "bad_metadata: status must be one of success, failure, error, cancelled"
    assert rejected[3][2] == "bad_metadata: duration_ms must be a number >= 0"
    assert rejected[0][5] == '{"event_type": "provenance.generation", '
    assert rejected[4][5] == "[1,2]"
    assert {r[3] for r in rejected} == {f"ingest:{path}"} and {r[4] for r in rejected} == {summary.batch_id}


def test_ingesting_the_same_file_again_stores_only_events_without_an_id(warehouse, tmp_path: Path):
    path = tmp_path / "again.ndjson"
    path.write_bytes(ndjson(event(1, event_id="x1"), event(2, event_id="x2"), event(3)))
    first = ingest_file(warehouse.url(), str(path))
    second = ingest_file(warehouse.url(), str(path))
    assert (first.accepted, first.duplicates) == (3, 0)
    # event_id is the idempotency key: without one, an event is a new event (documented).
    assert (second.accepted, second.duplicates) == (1, 2)
    assert rows(warehouse.url(), "select count(*), count(event_id) from public.telemetry_events") == [(4, 2)]


def test_duplicates_and_rejects_across_chunk_boundaries(warehouse, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ingest_module, "CHUNK_LINES", 7)
    lines = []
    for n in range(60):
        if n % 10 == 9:
            lines.append(b"not json")
        else:
            lines.append(event(n, event_id=f"id-{n % 25}"))  # ids repeat every 25 lines
    path = tmp_path / "chunks.ndjson"
    path.write_bytes(ndjson(*lines))
    summary = ingest_file(warehouse.url(), str(path))
    valid = [n for n in range(60) if n % 10 != 9]
    distinct_ids = {n % 25 for n in valid}
    assert summary.rejected == {"bad_json": 6}
    assert (summary.accepted, summary.duplicates) == (len(distinct_ids), len(valid) - len(distinct_ids))
    # the first occurrence of each id is the one stored
    stored = dict(rows(warehouse.url(), "select event_id, run_id from public.telemetry_events"))
    assert stored == {f"id-{k}": 1000 + min(n for n in valid if n % 25 == k) for k in distinct_ids}


def test_gzip_file_through_the_cli_with_a_json_summary(warehouse, tmp_path: Path):
    path = tmp_path / "events.ndjson.gz"  # the name does not matter, the magic bytes do
    path.write_bytes(gzip.compress(ndjson(event(1, event_id="g1"), event(2), b"{oops")))
    result = CliRunner().invoke(cli, ["ingest", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output)
    assert (summary["accepted"], summary["rejected"], summary["rejected_by_reason"]) == (2, 1, {"bad_json": 1})
    assert rows(warehouse.url(), "select count(*) from public.telemetry_events") == [(2,)]


def test_stdin_plain_and_gzip_through_the_console_script(warehouse):
    script = Path(sys.executable).with_name("telemetry-pipeline")
    plain = ndjson(event(1, event_id="s1"), event(2, event_id="s2"))
    compressed = gzip.compress(ndjson(event(3, event_id="s3"), event(2, event_id="s2"), b"[]"))
    outputs = []
    for data in (plain, compressed):
        proc = subprocess.run([str(script), "ingest", "-"], input=data, capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        outputs.append(proc.stdout.decode())
    assert "accepted               2" in outputs[0]
    assert "accepted               1" in outputs[1] and "duplicates             1" in outputs[1]
    assert "rejected               1  (not_object 1)" in outputs[1]
    assert rows(warehouse.url(), "select event_id from public.telemetry_events order by 1") == [
        ("s1",), ("s2",), ("s3",)
    ]


def test_an_over_long_line_is_rejected_and_the_next_line_still_read(warehouse, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ingest_module, "MAX_LINE_BYTES", 300)
    long_line = orjson.dumps(event(1, tag="t" * 5000))
    path = tmp_path / "long.ndjson"
    path.write_bytes(ndjson(long_line, event(2, event_id="after")))
    summary = ingest_file(warehouse.url(), str(path))
    assert (summary.lines, summary.accepted, dict(summary.rejected)) == (2, 1, {"line_too_long": 1})
    [(line_number, reason, raw)] = rows(
        warehouse.url(), "select line_number, reason, raw from public.telemetry_events_rejected"
    )
    assert (line_number, reason) == (1, "line_too_long: more than 300 bytes")
    assert raw == long_line[:301].decode()


def test_a_row_postgresql_refuses_is_quarantined_and_the_rest_of_its_chunk_kept(warehouse):
    """The validator should leave PostgreSQL nothing to refuse; if it ever does, one row is lost, not a chunk."""
    good = ingest_module.copy_row(
        ingest_module.parse_event(orjson.dumps(event(1, event_id="kept")))
    )
    refused = b"provenance.generation\tnot a time\t\\N\t\\N\t{}\t\\N\n"
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        conn.execute(ingest_module._CREATE_STAGING)
        writer = ingest_module._Writer(conn, "ingest:test", "batch-1")
        chunk = ingest_module._Chunk(
            rows=[good, refused], line_numbers=[1, 2],
            raw_lines=[b"line one\n", b"line two\n"],
        )
        writer._store(chunk)
    assert (writer.accepted, writer.duplicates, writer.db_rejected) == (1, 0, 1)
    assert rows(warehouse.url(), "select event_id from public.telemetry_events") == [("kept",)]
    [(line_number, code, raw)] = rows(
        warehouse.url(), "select line_number, reason_code, raw from public.telemetry_events_rejected"
    )
    assert (line_number, code, raw) == (2, "db_rejected", "line two")


def test_an_id_stored_by_another_writer_meanwhile_sends_the_chunk_down_the_staging_path(warehouse):
    """The fast path looks ids up, then COPYs; a collector storing one of them in between must
    not fail the chunk: the unique index refuses the COPY and the chunk is redone with
    `on conflict do nothing`."""
    rows = [ingest_module.copy_row(ingest_module.parse_event(orjson.dumps(event(n, event_id=f"r{n}")))) for n in (1, 2)]
    chunk = ingest_module._Chunk(rows=rows, line_numbers=[1, 2], raw_lines=[b"1", b"2"])
    url = warehouse.url()
    with psycopg.connect(url) as other, psycopg.connect(url, autocommit=True) as conn:
        other.execute(
            "insert into public.telemetry_events (event_type, event_id, metadata) values ('x', 'r2', '{}')"
        )  # not committed yet: invisible to the lookup, and the COPY will wait on it
        conn.execute(ingest_module._CREATE_STAGING)
        writer = ingest_module._Writer(conn, "ingest:test", "batch-2")
        worker = threading.Thread(target=writer._store, args=(chunk,))
        worker.start()
        with psycopg.connect(url, autocommit=True) as watch:
            deadline = time.monotonic() + 30
            while not watch.execute(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and wait_event_type = 'Lock'"
            ).fetchone()[0]:
                assert time.monotonic() < deadline, "the COPY never waited on the other transaction"
                time.sleep(0.01)  # polling a database condition, bounded by the deadline
        other.commit()
        worker.join(30)
    assert (writer.accepted, writer.duplicates) == (1, 1)
    assert rows_of(url) == [("r1", 1001), ("r2", None)]


def rows_of(url: str) -> list[tuple]:
    return rows(url, "select event_id, run_id from public.telemetry_events order by event_id")


def test_progress_is_reported_while_reading(warehouse, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ingest_module, "CHUNK_LINES", 10)
    path = tmp_path / "progress.ndjson"
    path.write_bytes(ndjson(*(event(n) for n in range(35))))
    screen = io.StringIO()
    display = TerminalProgress(screen)
    with psycopg.connect(warehouse.url(), autocommit=True) as conn, path.open("rb") as stream:
        ingest_module.ingest_stream(
            conn, stream, source="ingest:test", position=stream.tell, total_bytes=path.stat().st_size,
            progress=display, progress_every=0.0,
        )
    display.close()
    frames = screen.getvalue().strip("\n").split("\r")[1:]
    assert [f.split(" lines")[0].split()[-1] for f in frames] == ["10", "20", "30"]
    assert "%" in frames[0]


def test_an_unreadable_file_is_a_clear_error(warehouse, tmp_path: Path):
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "missing.ndjson")])
    assert result.exit_code == 1
    assert f"cannot read {tmp_path / 'missing.ndjson'}: No such file or directory" in result.output


def test_a_truncated_gzip_file_is_a_clear_error(warehouse, tmp_path: Path):
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(gzip.compress(ndjson(*(event(n) for n in range(50))))[:200])
    result = CliRunner().invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 1
    assert f"cannot read {path}: Compressed file ended before the end-of-stream marker was reached" in result.output


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_an_empty_input_ingests_nothing(warehouse, tmp_path: Path, content: bytes):
    path = tmp_path / "empty.ndjson"
    path.write_bytes(content)
    summary = ingest_file(warehouse.url(), str(path))
    assert (summary.accepted, summary.rejected_total, summary.blank_lines) == (0, 0, content.count(b"\n"))
