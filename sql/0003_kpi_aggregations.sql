-- kpi_aggregations: one row per (metric, granularity, period) (SPEC sections 2 and 5).
create table if not exists public.kpi_aggregations (
  id bigserial primary key,
  metric_name text not null,
  metric_value numeric not null,
  aggregation_period text not null, -- 'hour', 'day', 'week'
  period_start timestamptz not null,
  period_end timestamptz not null,
  metadata jsonb default '{}'::jsonb,
  created_at timestamptz not null default now()
);
create index if not exists idx_kpi_aggregations_metric_name on public.kpi_aggregations (metric_name);
create index if not exists idx_kpi_aggregations_period_start on public.kpi_aggregations (period_start desc);
-- Writes replace whole windows (delete + insert in one transaction); this index makes a
-- duplicate impossible even if a writer got that wrong.
create unique index if not exists uq_kpi_aggregations_metric_period
  on public.kpi_aggregations (metric_name, aggregation_period, period_start);
create index if not exists idx_kpi_aggregations_period_window
  on public.kpi_aggregations (aggregation_period, period_start);
