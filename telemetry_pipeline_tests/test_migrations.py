"""sql/ applies in order, records versions, and is a no-op the second time."""

from __future__ import annotations

from telemetry_pipeline.core.warehouse.migrate import discover, migrate


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
        unique = conn.execute(
            "select indexdef from pg_indexes where tablename = 'kpi_aggregations' and indexdef like 'CREATE UNIQUE%%'"
            " and indexdef like '%%metric_name, aggregation_period, period_start%%'"
        ).fetchall()
        assert unique


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
