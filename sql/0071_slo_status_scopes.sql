-- Scoped SLOs (SPEC section 10): slo_status rows per dimension value. Null on the global rows
-- (every existing row and the SLOs without `scope:`), otherwise the SLO's scope and the value.
alter table public.slo_status
  add column if not exists dimension text,
  add column if not exists dimension_value text;

alter table public.slo_status drop constraint if exists slo_status_dimension_check;
alter table public.slo_status add constraint slo_status_dimension_check check (
  (dimension is null and dimension_value is null)
  or (dimension in ('repository', 'workflow', 'team') and dimension_value is not null)
);

create unique index if not exists uq_slo_status_key_scope
  on public.slo_status (slo_name, sli, aggregation_period, period_start, dimension, dimension_value)
  nulls not distinct;
drop index if exists public.uq_slo_status_key;
