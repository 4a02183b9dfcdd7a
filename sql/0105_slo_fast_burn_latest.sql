-- The latest fast-burn evaluation (SPEC sections 11 and 12): per (slo, sli, window) the rows, bad
-- rows and burn rate of the rolling window ending at the evaluation, as slo_fast_burn_sensor
-- computed them on its last tick. GET /metrics reads it, so a scrape never scans raw rows and
-- Prometheus holds exactly the numbers the pager decided on. The sensor replaces the rows of
-- its evaluation in one transaction (newest evaluation wins) and deletes keys the catalog lost.
create table if not exists public.slo_fast_burn_latest (
  slo_name text not null,
  sli text not null,
  burn_window text not null,              -- '5m', '30m', '1h', '6h' (burn_windows.yaml fast_burn)
  evaluated_at timestamptz not null,      -- the window is (evaluated_at - window, evaluated_at]
  sample_rows bigint not null,
  bad_rows bigint not null,
  burn_rate double precision,             -- bad / rows / allowed; null when the window has no rows
  primary key (slo_name, sli, burn_window)
);
