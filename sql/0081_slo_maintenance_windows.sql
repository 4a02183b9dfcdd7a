-- Maintenance windows (SPEC section 11): `telemetry-pipeline slo silence` records one. A period
-- overlapping a window of its SLO (and SLI, or every SLI when sli is null) never pages, and
-- rows inside a window are left out of the fast-burn rates.
create table if not exists public.slo_maintenance_windows (
  id bigserial primary key,
  slo_name text not null,
  sli text,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  reason text not null,
  created_at timestamptz not null default now(),
  constraint slo_maintenance_windows_span check (ends_at > starts_at)
);
create index if not exists idx_slo_maintenance_windows_span
  on public.slo_maintenance_windows (slo_name, ends_at, starts_at);
