-- Burn-rate alerts in the default "inline" mode are recorded as suppressed with reason 'inline':
-- the violation message of the same hour names the window pair instead (docs/alerting.md).
alter table public.slo_alerts drop constraint if exists slo_alerts_suppressed_reason_check;
alter table public.slo_alerts add constraint slo_alerts_suppressed_reason_check
  check (suppressed_reason in ('backfill', 'continuing', 'inline'));
