-- slsa_audit_metrics: the audit observer's table, one row per audit of one artifact (SPEC section 2).
create table if not exists public.slsa_audit_metrics (
  id bigserial primary key,
  run_id bigint,
  tag text,
  artifact text,
  audited_at timestamptz not null,
  status text not null,
  duration_ms numeric,
  sha256_verified boolean not null,
  predicate_type text,
  predicate_type_verified boolean not null,
  supabase_synced boolean not null,
  failure_reason text,
  metadata jsonb default '{}'::jsonb,
  created_at timestamptz default now()
);
create index if not exists idx_slsa_audit_metrics_audited_at on public.slsa_audit_metrics (audited_at desc);
create index if not exists idx_slsa_audit_metrics_created_at on public.slsa_audit_metrics (created_at);

-- Audit KPIs per UTC day, straight from the audit rows (the Phase 3 hand-off view).
create or replace view public.v_ops_slsa_audit_kpi as
select
  date_trunc('day', audited_at, 'UTC') as day,
  count(*) as audit_count,
  round(100.0 * count(*) filter (where status = 'success') / count(*), 4) as audit_success_rate,
  round(100.0 * count(*) filter (where status in ('failure', 'error')) / count(*), 4) as audit_failure_rate,
  round(100.0 * (1 - count(*) filter (where status = 'error')::numeric / count(*)), 4) as audit_availability,
  round(100.0 * count(*) filter (where sha256_verified) / count(*), 4) as sha256_verification_rate,
  round(100.0 * count(*) filter (where predicate_type_verified) / count(*), 4) as predicate_type_verification_rate,
  round(100.0 * count(*) filter (where supabase_synced) / count(*), 4) as supabase_sync_rate,
  avg(duration_ms) as avg_duration_ms,
  percentile_cont(0.95) within group (order by duration_ms) as p95_duration_ms
from public.slsa_audit_metrics
group by 1;

-- Failed and errored audits, newest first, with their reason.
create or replace view public.v_ops_slsa_audit_failures as
select id, audited_at, run_id, tag, artifact, status, failure_reason, duration_ms,
       sha256_verified, predicate_type, predicate_type_verified, supabase_synced
from public.slsa_audit_metrics
where status in ('failure', 'error')
order by audited_at desc, id desc;

-- numeric -> double precision that never fails: NaN and magnitudes beyond 1e300 are absent,
-- values closer to zero than 1e-300 read as 0 (the same rule as telemetry_try_float8).
create or replace function public.telemetry_numeric_to_float8(n numeric) returns double precision
language sql immutable parallel safe as $$
  select case
    when n is null or n = 'NaN'::numeric or abs(n) > 1e300 then null
    when abs(n) < 1e-300 then 0::double precision
    else n::double precision
  end
$$;
