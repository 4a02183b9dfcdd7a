-- Fast-burn episodes (SPEC section 11, docs/alerting.md): one per (slo, sli) incident, opened by
-- a fast-burn page from the raw rows of the open period, closed (one resolved message) once the
-- condition of the pair that fired has been false for resolve_after (burn_windows.yaml). At most
-- one episode per SLI is open at a time (the partial unique index), so repeated ticks and a
-- restarted daemon never open a second one.
create table if not exists public.slo_episodes (
  id bigserial primary key,
  slo_name text not null,
  sli text not null,
  started_at timestamptz not null,
  -- the pair that fired, e.g. '1h&5m>=14.4'
  pair text not null,
  -- the last evaluation at which the fired pair's condition (long and short window) held
  last_firing_at timestamptz not null,
  closed_at timestamptz,
  -- slo_alerts keys of the page and of its resolved message
  alert_key text not null,
  resolved_key text,
  created_at timestamptz not null default now()
);
create unique index if not exists uq_slo_episodes_open on public.slo_episodes (slo_name, sli) where closed_at is null;
create index if not exists idx_slo_episodes_span on public.slo_episodes (slo_name, sli, started_at);

-- The outbox learns the fast-burn page ('fast_burn', aggregation_period 'episode') and two
-- reasons a closed-period violation is recorded but not sent: 'episode' (an open fast-burn
-- episode of that SLI covers it) and 'maintenance' (a maintenance window overlaps the period).
alter table public.slo_alerts drop constraint if exists slo_alerts_kind_check;
alter table public.slo_alerts add constraint slo_alerts_kind_check
  check (kind in ('violation', 'resolved', 'burn_page', 'burn_ticket', 'fast_burn'));
alter table public.slo_alerts drop constraint if exists slo_alerts_aggregation_period_check;
alter table public.slo_alerts add constraint slo_alerts_aggregation_period_check
  check (aggregation_period in ('hour', 'day', 'week', 'episode'));
alter table public.slo_alerts drop constraint if exists slo_alerts_suppressed_reason_check;
alter table public.slo_alerts add constraint slo_alerts_suppressed_reason_check
  check (suppressed_reason in ('backfill', 'continuing', 'inline', 'episode', 'maintenance'));
