-- No-data alerts (SPEC section 11, docs/alerting.md): a source of an SLO (its event type, or the
-- audits) that had rows in the last 7 days but none for the SLO's no_data_after raises one
-- 'no_data' alert, and one 'resolved' when rows arrive again. At most one open per (slo, source).
create table if not exists public.slo_no_data (
  id bigserial primary key,
  slo_name text not null,
  -- 'events:<event_type>' or 'audits'
  source text not null,
  last_row_at timestamptz not null,
  raised_at timestamptz not null,
  resolved_at timestamptz,
  alert_key text not null,
  resolved_key text
);
create unique index if not exists uq_slo_no_data_open on public.slo_no_data (slo_name, source) where resolved_at is null;

alter table public.slo_alerts drop constraint if exists slo_alerts_kind_check;
alter table public.slo_alerts add constraint slo_alerts_kind_check
  check (kind in ('violation', 'resolved', 'burn_page', 'burn_ticket', 'fast_burn', 'no_data'));
