-- The raw tables' timestamp indexes become ascending (issue 12: the hourly tick at scale).
-- An hour window is a range scan without ORDER BY, which PostgreSQL runs forward over the index.
-- Over the previous `(event_timestamp desc)` index that yields the newest row first, so the heap
-- pages of the hour (written in timestamp order) were read last to first, one 8 kB read each,
-- which the kernel's readahead does not follow: measured on cold hours at 10M events, 26 ms a
-- scan against 9 ms for the same scan walking the heap forward (docs/benchmarks.md). An
-- ascending index serves `order by ... desc` just as well (read backward). Rebuilt only where
-- the index is still descending: a no-op on installs created with this release; on an upgrade it
-- rebuilds the index of every monthly partition, writes waiting meanwhile (measured: docs/benchmarks.md).
do $$
declare
  spec record;
begin
  for spec in
    select * from (values
      ('telemetry_events', 'idx_telemetry_events_event_timestamp', 'event_timestamp'),
      ('slsa_audit_metrics', 'idx_slsa_audit_metrics_audited_at', 'audited_at')
    ) as t(table_name, index_name, column_name)
  loop
    if exists (select 1 from pg_index i
               where i.indexrelid = to_regclass('public.' || spec.index_name)
                 and (i.indoption[0] & 1) = 1) then  -- bit 0 of indoption: DESC
      execute format('drop index public.%I', spec.index_name);
      execute format('create index %I on public.%I (%I)', spec.index_name, spec.table_name, spec.column_name);
    end if;
  end loop;
end
$$;
