-- Scoped KPI rows pay for three indexes instead of seven (issue 10: the scoped year backfill).
-- A year of scoped day rows is millions of rows (365 x scope values x metrics), and inserting
-- them cost more than computing them: each index is one more insert per row, WAL and page
-- churn included, and an index whose key order differs from the insert order takes those
-- inserts at random leaf pages. The KPI writer inserts scoped rows in (dimension, value, period)
-- order (core/kpis/sql.py), and the scoped rows now pay for:
--   * the primary key;
--   * the uniqueness of (metric_name, aggregation_period, period_start, dimension,
--     dimension_value), nulls not distinct, the same key set as sql/0070's, in the key order of
--     the dashboard's scoped series read: led by the scope, it is both the constraint and that
--     read (index-only, with the float8 value and the sample size included), so the separate
--     scoped series index goes;
--   * idx_kpi_aggregations_period_window, for the window delete and the SLO reads.
-- The dashboard's ranking reads the same index with one probe per dimension value
-- (apps/dashboard/scopes.py) instead of an index of its own led by the metric (sql/0095). The two
-- indexes of the minimal schema keep their names and columns and cover the global rows, the
-- rows that schema describes; nothing reads scoped rows through them. Global rows keep
-- idx_kpi_aggregations_series_global. Measured: 10M events, 200 repositories, a year of scoped
-- day rows (5.7M) in 204 s instead of 341 s (docs/benchmarks.md, scoped backfill).
create unique index if not exists uq_kpi_aggregations_scope_series
  on public.kpi_aggregations (aggregation_period, dimension, dimension_value, metric_name, period_start)
  include (value_float8, sample_size) nulls not distinct;
drop index if exists public.uq_kpi_aggregations_metric_period_scope;
drop index if exists public.idx_kpi_aggregations_series_scoped;
drop index if exists public.idx_kpi_aggregations_scope_ranking;

-- The minimal schema's two indexes, rebuilt over the global rows (same names and columns).
drop index if exists public.idx_kpi_aggregations_metric_name;
create index idx_kpi_aggregations_metric_name on public.kpi_aggregations (metric_name)
  where dimension is null;
drop index if exists public.idx_kpi_aggregations_period_start;
create index idx_kpi_aggregations_period_start on public.kpi_aggregations (period_start desc)
  where dimension is null;
