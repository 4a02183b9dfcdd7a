-- The dashboard's ranking of a dimension's values by one metric (apps/dashboard/scopes.py):
-- every value of the dimension, one metric, the view's periods. The scoped series index (sql/0070)
-- leads with the dimension value, so that read walked every metric of every value (1.75M entries
-- for 200 repositories over a year of days); led by the metric, it reads only the rows it ranks,
-- index-only.
create index if not exists idx_kpi_aggregations_scope_ranking
  on public.kpi_aggregations (aggregation_period, dimension, metric_name, period_start)
  include (dimension_value, value_float8, sample_size) where dimension is not null;
