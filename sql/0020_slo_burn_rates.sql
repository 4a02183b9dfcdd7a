-- Burn rates and multiwindow burn-rate alerts on slo_status (docs/slos.md).
-- Hourly rows of ratio SLIs (availability, error_rate) carry the burn rate over the trailing
-- 1 hour, 6 hours and 3 days, and the alert class the SRE Workbook's multiwindow,
-- multi-burn-rate rules give: 'page' (1h >= 14.4, or 6h and 1h >= 6) or 'ticket'
-- (3d and 6h >= 1), with the window rule that fired ('1h>=14.4', '6h&1h>=6', '3d&6h>=1').
alter table public.slo_status
  add column if not exists burn_rate_1h numeric,
  add column if not exists burn_rate_6h numeric,
  add column if not exists burn_rate_3d numeric,
  add column if not exists burn_alert text,
  add column if not exists burn_alert_windows text;

do $$
begin
  if not exists (
    select 1 from pg_constraint
    where conname = 'slo_status_burn_alert_check' and conrelid = 'public.slo_status'::regclass
  ) then
    alter table public.slo_status
      add constraint slo_status_burn_alert_check check (burn_alert in ('page', 'ticket'));
  end if;
end
$$;

-- The alert sensor and dashboard look for burn alerts by period.
create index if not exists idx_slo_status_burn_alerts
  on public.slo_status (aggregation_period, period_start) where burn_alert is not null;
