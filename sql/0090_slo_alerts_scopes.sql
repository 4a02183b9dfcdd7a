-- Scoped alerts (SPEC section 10, docs/alerting.md "Scoped alerts"): an alert of a scoped SLO
-- carries the scope of its slo_status row. Null on every global alert (all existing rows). The
-- key of a scoped alert has the scope before the kind ('...|2025-01-06T00:00Z|team=payments|violation'),
-- so each scope value is notified once, ever, like a global alert.
alter table public.slo_alerts
  add column if not exists dimension text,
  add column if not exists dimension_value text;

alter table public.slo_alerts drop constraint if exists slo_alerts_dimension_check;
alter table public.slo_alerts add constraint slo_alerts_dimension_check check (
  (dimension is null and dimension_value is null)
  or (dimension in ('repository', 'workflow', 'team') and dimension_value is not null)
);

-- The delivery pass gathers the pending scopes of one (slo, sli, granularity, period, kind) into
-- one message; this keeps that lookup on the few pending rows.
create index if not exists idx_slo_alerts_pending_scopes
  on public.slo_alerts (slo_name, sli, aggregation_period, period_start, kind)
  where state = 'pending' and dimension is not null;
