-- The dashboard's KPI series read (telemetry_pipeline/dashboard/queries.py): a year of hourly rows
-- of every metric (~210k) is bucketed per request. A covering index lets PostgreSQL answer it with
-- an index-only scan in (granularity, metric, time) order instead of reading the wide heap rows,
-- and the sample size gets a typed copy so that scan covers it too (jsonb is not indexable as an
-- INCLUDE column). The copy never fails a KPI write: anything but a plain integer reads as null.
alter table public.kpi_aggregations
  add column if not exists sample_size bigint generated always as (
    case when jsonb_typeof(metadata -> 'sample_size') = 'number'
              and (metadata ->> 'sample_size') ~ '^[0-9]{1,18}$'
         then (metadata ->> 'sample_size')::bigint end
  ) stored;

create index if not exists idx_kpi_aggregations_series
  on public.kpi_aggregations (aggregation_period, metric_name, period_start)
  include (metric_value, sample_size);
