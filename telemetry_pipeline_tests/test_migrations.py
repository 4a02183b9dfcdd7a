"""sql/ applies in order, records versions, and is a no-op the second time."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading

import psycopg
import pytest

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.core.warehouse.migrate import MigrationError, discover, migrate


def test_migrating_twice_changes_nothing(warehouse_url, warehouse):
    assert migrate(warehouse_url) == []  # the session fixture already applied everything
    with warehouse.connect() as conn:
        versions = [r[0] for r in conn.execute("select version from public.schema_migrations order by 1")]
    assert versions == [m.version for m in discover()]


def test_contract_tables_columns_and_unique_index(warehouse):
    with warehouse.connect() as conn:
        def columns(table: str) -> set[str]:
            return {
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema = 'public'"
                    " and table_name = %s",
                    (table,),
                )
            }

        assert {"id", "event_type", "event_timestamp", "run_id", "tag", "metadata", "created_at"} <= columns(
            "telemetry_events"
        )
        assert {"id", "metric_name", "metric_value", "aggregation_period", "period_start", "period_end",
                "metadata", "created_at"} <= columns("kpi_aggregations")
        assert {"id", "run_id", "tag", "artifact", "audited_at", "status", "duration_ms", "sha256_verified",
                "predicate_type", "predicate_type_verified", "supabase_synced", "failure_reason", "metadata",
                "created_at"} <= columns("slsa_audit_metrics")
        # A unique index over exactly the key columns (SPEC: one row per metric, granularity,
        # period and scope, nulls included), whatever their order in the index.
        keys = conn.execute(
            """
            select array_agg(a.attname::text order by a.attname), i.indnullsnotdistinct
            from pg_index i
            join pg_attribute a on a.attrelid = i.indrelid
             and a.attnum = any((i.indkey::int2[])[0:i.indnkeyatts - 1])
            where i.indrelid = 'public.kpi_aggregations'::regclass and i.indisunique and not i.indisprimary
            group by i.indexrelid, i.indnullsnotdistinct
            """
        ).fetchall()
        assert (sorted(["metric_name", "aggregation_period", "period_start", "dimension", "dimension_value"]),
                True) in [(k, nnd) for k, nnd in keys]
        # ... and it refuses a second global row of a (metric, granularity, period).
        row = ("x_metric", 1, "hour", "2025-01-01T00:00Z", "2025-01-01T01:00Z")
        insert = ("insert into public.kpi_aggregations (metric_name, metric_value, aggregation_period,"
                  " period_start, period_end) values (%s, %s, %s, %s, %s)")
        with conn.transaction(force_rollback=True):
            conn.execute(insert, row)
            with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
                conn.execute(insert, row)


def test_audit_views_return_data(warehouse):
    with warehouse.connect() as conn:
        conn.execute(
            "insert into public.slsa_audit_metrics (audited_at, status, duration_ms, sha256_verified,"
            " predicate_type_verified, supabase_synced, failure_reason) values"
            " ('2025-03-01T10:00Z', 'success', 100, true, true, true, null),"
            " ('2025-03-01T11:00Z', 'failure', 300, false, true, true, 'digest mismatch'),"
            " ('2025-03-02T09:00Z', 'error', null, false, false, false, 'rekor timeout')"
        )
        kpi = conn.execute(
            "select day::date::text, audit_count, audit_success_rate, sha256_verification_rate"
            " from public.v_ops_slsa_audit_kpi order by day"
        ).fetchall()
        failures = conn.execute("select status, failure_reason from public.v_ops_slsa_audit_failures").fetchall()
    assert [(d, n, float(s), float(v)) for d, n, s, v in kpi] == [
        ("2025-03-01", 2, 50.0, 50.0),
        ("2025-03-02", 1, 0.0, 0.0),
    ]
    assert failures == [("error", "rekor timeout"), ("failure", "digest mismatch")]


def _fresh_database(server: str, name: str) -> str:
    """An empty database (no schema_migrations yet) on the test server."""
    return scratch.create_database(server, name, migrated=False)


def _migrated_before(server: str, name: str, version: str, scratch_dir) -> str:
    """A fresh database migrated by every file before `version`: an install of an earlier release."""
    url = _fresh_database(server, name)
    for path in sorted(settings.SQL_DIR.iterdir()):
        if path.suffix in (".sql", ".py") and path.name[:4] < version:
            shutil.copy(path, scratch_dir / path.name)
    migrate(url, scratch_dir)
    return url


def test_concurrent_migrations_of_a_fresh_database_both_succeed(pg_server_url):
    # Several rounds: the race (both creating schema_migrations) needs the two to overlap.
    for round_ in range(4):
        name = f"tp_mig_race_{os.getpid()}_{round_}"
        url = _fresh_database(pg_server_url, name)
        try:
            barrier = threading.Barrier(2)
            results: list[list[str] | BaseException] = []

            def run(url: str = url, barrier: threading.Barrier = barrier, results: list = results) -> None:
                barrier.wait(timeout=30)
                try:
                    results.append(migrate(url))
                except BaseException as exc:  # collected and asserted below
                    results.append(exc)

            threads = [threading.Thread(target=run) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert all(isinstance(r, list) for r in results), results
            # One applied everything, the other found nothing left to do.
            assert sorted(len(r) for r in results) == [0, len(discover())]
        finally:
            scratch.drop_database(pg_server_url, name)


def test_changed_applied_file_stops_migrate_naming_it(pg_server_url, tmp_path):
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "0001_first.sql").write_text("create table if not exists public.t_first (id int);\n")
    (sql_dir / "0002_second.sql").write_text("create table if not exists public.t_second (id int);\n")
    name = f"tp_mig_sum_{os.getpid()}"
    url = _fresh_database(pg_server_url, name)
    try:
        assert migrate(url, sql_dir) == ["0001_first", "0002_second"]
        (sql_dir / "0002_second.sql").write_text("create table if not exists public.t_second (id bigint);\n")
        (sql_dir / "0003_third.sql").write_text("create table if not exists public.t_third (id int);\n")
        with pytest.raises(MigrationError, match="0002_second.sql: changed since it was applied"):
            migrate(url, sql_dir)
        with psycopg.connect(url) as conn:  # nothing after the check ran
            assert conn.execute("select to_regclass('public.t_third')").fetchone()[0] is None
    finally:
        scratch.drop_database(pg_server_url, name)


def test_rows_without_checksum_get_it_recorded(pg_server_url, tmp_path):
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    first = sql_dir / "0001_first.sql"
    first.write_text("create table if not exists public.t_first (id int);\n")
    name = f"tp_mig_old_{os.getpid()}"
    url = _fresh_database(pg_server_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:  # an install from before checksums
            conn.execute(
                "create table public.schema_migrations (version text primary key, name text not null,"
                " applied_at timestamptz not null default now())"
            )
            conn.execute("insert into public.schema_migrations (version, name) values ('0001', '0001_first')")
        assert migrate(url, sql_dir) == []
        with psycopg.connect(url) as conn:
            stored = conn.execute("select checksum from public.schema_migrations").fetchone()[0]
        assert stored == hashlib.sha256(first.read_bytes()).hexdigest()
        first.write_text("-- edited\n")
        with pytest.raises(MigrationError, match="0001_first.sql"):
            migrate(url, sql_dir)
    finally:
        scratch.drop_database(pg_server_url, name)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.parametrize(
    "args", [("db", "migrate"), ("dashboard", "--port", "0"), ("demo", "seed", "--days", "1"), ("ingest", "-")]
)
def test_commands_with_the_database_down_print_one_line(args):
    port = _closed_port()
    env = dict(os.environ, TELEMETRY_DATABASE_URL=f"postgresql://alice:s3cret-pw@127.0.0.1:{port}/warehouse_db")
    proc = subprocess.run(
        [sys.executable, "-m", "telemetry_pipeline.cli", *args],
        env=env, capture_output=True, text=True, timeout=120, input='{"event_type": "x"}\n',
    )
    assert proc.returncode == 1, proc
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"Error: cannot reach the warehouse at alice@127.0.0.1:{port}/warehouse_db: Connection refused"]
    assert "s3cret-pw" not in proc.stdout + proc.stderr


def test_the_upgrade_moves_scoped_kpi_rows_to_the_scope_led_indexes(pg_server_url, tmp_path):
    """An install migrated before sql/0115 with global and scoped KPI rows: the upgrade keeps every
    row, leaves one unique index over the same key columns (led by the scope), drops the indexes
    scoped rows no longer pay for, narrows the minimal schema's two indexes to the global rows, and
    a second `db migrate` finds nothing to do."""
    name = f"tp_mig_0115_{os.getpid()}"
    url = _migrated_before(pg_server_url, name, "0115", tmp_path)
    try:
        rows = [("provenance_availability", 99.5, "day", "2025-03-04T00:00Z", "2025-03-05T00:00Z", None, None),
                ("provenance_availability", 98.0, "day", "2025-03-04T00:00Z", "2025-03-05T00:00Z", "team", "mobile"),
                ("provenance_availability", 97.0, "day", "2025-03-04T00:00Z", "2025-03-05T00:00Z",
                 "repository", "acme/app")]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.cursor().executemany(
                "insert into public.kpi_aggregations (metric_name, metric_value, aggregation_period, period_start,"
                " period_end, dimension, dimension_value) values (%s, %s, %s, %s, %s, %s, %s)", rows)
            before = conn.execute("select id, metric_value, dimension, dimension_value from public.kpi_aggregations"
                                  " order by id").fetchall()

        assert migrate(url)[0] == "0115_kpi_scoped_write_indexes"
        assert migrate(url) == []

        with psycopg.connect(url, autocommit=True) as conn:
            after = conn.execute("select id, metric_value, dimension, dimension_value from public.kpi_aggregations"
                                 " order by id").fetchall()
            indexes = dict(conn.execute(
                "select indexname, indexdef from pg_indexes where tablename = 'kpi_aggregations'").fetchall())
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute(
                    "insert into public.kpi_aggregations (metric_name, metric_value, aggregation_period,"
                    " period_start, period_end, dimension, dimension_value) values (%s, %s, %s, %s, %s, %s, %s)",
                    rows[1])
        assert after == before
        assert set(indexes) == {
            "kpi_aggregations_pkey", "uq_kpi_aggregations_scope_series", "idx_kpi_aggregations_period_window",
            "idx_kpi_aggregations_series_global", "idx_kpi_aggregations_metric_name",
            "idx_kpi_aggregations_period_start",
        }
        assert indexes["uq_kpi_aggregations_scope_series"].startswith("CREATE UNIQUE INDEX")
        assert "NULLS NOT DISTINCT" in indexes["uq_kpi_aggregations_scope_series"]
        for spec_index in ("idx_kpi_aggregations_metric_name", "idx_kpi_aggregations_period_start"):
            assert indexes[spec_index].endswith("WHERE (dimension IS NULL)"), indexes[spec_index]
    finally:
        scratch.drop_database(pg_server_url, name)


def test_the_upgrade_hands_the_typed_copies_to_the_writer_and_derives_them_for_anyone_else(pg_server_url, tmp_path):
    """An install migrated before sql/0120: the stored copies survive, the columns stop being
    generated, a row inserted without them gets them from the trigger (the generated columns'
    rules: a non-integer sample_size and a NaN read as null), an update of the value or metadata
    re-derives them, and a writer that gives them is taken at its word. (That the KPI writer's own
    rows carry their value and sample size is checked on every row by scopes/test_scoped_reference.)"""
    name = f"tp_mig_0120_{os.getpid()}"
    url = _migrated_before(pg_server_url, name, "0120", tmp_path)
    try:
        insert = ("insert into public.kpi_aggregations (metric_name, metric_value, aggregation_period,"
                  " period_start, period_end, metadata) values (%s, %s::numeric, 'day', %s, %s, %s)")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(insert, ("event_count", "12.5", "2025-03-04T00:00Z", "2025-03-05T00:00Z",
                                  '{"sample_size": 7, "unit": "count"}'))
        assert migrate(url) == ["0120_kpi_writer_filled_copies"]
        assert migrate(url) == []

        copies = ("select metric_name, period_start::date::text, sample_size, value_float8"
                  " from public.kpi_aggregations order by period_start")
        with psycopg.connect(url, autocommit=True) as conn:
            generated = conn.execute(
                "select attname, attgenerated from pg_attribute where attrelid = 'public.kpi_aggregations'::regclass"
                " and attname in ('sample_size', 'value_float8') order by attname").fetchall()
            conn.execute(insert, ("event_count", "3", "2025-03-05T00:00Z", "2025-03-06T00:00Z",
                                  '{"sample_size": 4, "unit": "count"}'))
            conn.execute(insert, ("event_count", "NaN", "2025-03-06T00:00Z", "2025-03-07T00:00Z",
                                  '{"sample_size": 2.5}'))
            conn.execute(
                "insert into public.kpi_aggregations (metric_name, metric_value, aggregation_period, period_start,"
                " period_end, metadata, sample_size, value_float8)"
                " values ('event_count', 1, 'day', '2025-03-07T00:00Z', '2025-03-08T00:00Z', '{}', 9, 1.5)")
            stored = conn.execute(copies).fetchall()
            conn.execute("update public.kpi_aggregations set metric_value = 8, metadata = '{\"sample_size\": 5}'"
                         " where period_start = '2025-03-05T00:00Z'")
            updated = conn.execute(copies).fetchall()[1]
        assert generated == [("sample_size", ""), ("value_float8", "")]
        assert stored == [
            ("event_count", "2025-03-04", 7, 12.5),  # written before the upgrade, kept
            ("event_count", "2025-03-05", 4, 3.0),  # derived by the trigger
            ("event_count", "2025-03-06", None, None),  # not an integer; NaN
            ("event_count", "2025-03-07", 9, 1.5),  # given
        ]
        assert updated == ("event_count", "2025-03-05", 5, 8.0)
    finally:
        scratch.drop_database(pg_server_url, name)
