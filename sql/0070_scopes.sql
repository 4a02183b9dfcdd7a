-- Scopes (SPEC section 10): typed repository/workflow on events and audits, and the dimension of
-- a KPI row. Written as plain `add column if not exists ... stored` so it applies the same to a
-- plain or a partitioned telemetry_events (on a partitioned table PostgreSQL adds the column to
-- every partition). An empty string counts as absent, like a missing key.
alter table public.telemetry_events
  add column if not exists m_repository text
    generated always as (nullif(metadata ->> 'repository', '')) stored,
  add column if not exists m_workflow text
    generated always as (nullif(metadata ->> 'workflow', '')) stored;

alter table public.slsa_audit_metrics
  add column if not exists m_repository text
    generated always as (nullif(metadata ->> 'repository', '')) stored,
  add column if not exists m_workflow text
    generated always as (nullif(metadata ->> 'workflow', '')) stored;

-- Null on the global rows (every row of SPEC section 5 stays as it is); otherwise the dimension
-- and its value. Both or neither.
alter table public.kpi_aggregations
  add column if not exists dimension text,
  add column if not exists dimension_value text;

alter table public.kpi_aggregations drop constraint if exists kpi_aggregations_dimension_check;
alter table public.kpi_aggregations add constraint kpi_aggregations_dimension_check check (
  (dimension is null and dimension_value is null)
  or (dimension in ('repository', 'workflow', 'team') and dimension_value is not null)
);

-- One row per (metric, granularity, period, dimension, value), the global row (nulls) included.
create unique index if not exists uq_kpi_aggregations_metric_period_scope
  on public.kpi_aggregations (metric_name, aggregation_period, period_start, dimension, dimension_value)
  nulls not distinct;
drop index if exists public.uq_kpi_aggregations_metric_period;

-- The dashboard's series reads (sql/0041) stay index-only: global rows in a partial index of the
-- same shape, scoped rows led by their scope.
create index if not exists idx_kpi_aggregations_series_global
  on public.kpi_aggregations (aggregation_period, metric_name, period_start)
  include (value_float8, sample_size) where dimension is null;
create index if not exists idx_kpi_aggregations_series_scoped
  on public.kpi_aggregations (aggregation_period, dimension, dimension_value, metric_name, period_start)
  include (value_float8, sample_size) where dimension is not null;
drop index if exists public.idx_kpi_aggregations_series_float8;
