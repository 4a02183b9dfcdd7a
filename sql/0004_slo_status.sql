-- slo_status: one row per (slo, sli, granularity, period) evaluated from kpi_aggregations (SPEC section 6).
create table if not exists public.slo_status (
  id bigserial primary key,
  slo_name text not null,
  sli text not null,                 -- 'availability', 'latency_p95', 'error_rate'
  metric_name text not null,
  aggregation_period text not null,  -- 'hour', 'day', 'week'
  period_start timestamptz not null,
  period_end timestamptz not null,
  value numeric not null,
  target numeric not null,
  comparator text not null check (comparator in ('>=', '<')),
  met boolean not null,
  sample_size bigint not null,
  error_budget_remaining numeric,    -- daily rows, ratio SLIs: 30-day rolling, percent, may be negative
  burn_rate numeric,                 -- daily rows, ratio SLIs
  metadata jsonb default '{}'::jsonb,
  evaluated_at timestamptz not null default now()
);
create unique index if not exists uq_slo_status_key
  on public.slo_status (slo_name, sli, aggregation_period, period_start);
create index if not exists idx_slo_status_period_window
  on public.slo_status (aggregation_period, period_start);
create index if not exists idx_slo_status_violations
  on public.slo_status (aggregation_period, period_start) where not met;
