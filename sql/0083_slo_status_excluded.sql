-- Maintenance windows in the SLO math (SPEC section 11): an slo_status row whose period overlaps
-- a maintenance window of its SLO (and SLI) keeps its value and sample but has excluded = true,
-- and its rows count in no error budget or trailing burn rate (docs/slos.md).
alter table public.slo_status add column if not exists excluded boolean not null default false;
