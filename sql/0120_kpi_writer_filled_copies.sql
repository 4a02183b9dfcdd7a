-- The typed copies of kpi_aggregations (sample_size, sql/0040; value_float8, sql/0041) are written
-- by the KPI writer instead of generated (issue 10: the scoped year backfill). A year of scoped day
-- rows is millions of rows, and the generated sample_size reads metadata.sample_size back out of
-- the jsonb the same statement has just built, through a regular-expression guard, per row; the
-- writer has the count as a bigint already (core/kpis/sql.py `kpi_insert`). Measured with
-- bench/scoped_write_layouts.py, the year's 5,661,955 scoped and global day rows staged, then
-- inserted into a copy of the table with all its indexes: 57.3 s generated, 48.6 s writer-filled.
--
-- The copies keep their meaning for every other writer: a row inserted without them (a hand-made
-- row, an older tool) gets them from the trigger below, with the generated columns' exact
-- expressions, and an update of metric_value or metadata recomputes them. The product's writer
-- fills both in the statement that computes the values, with the same expressions' results.
-- `drop expression` keeps every stored value and does not rewrite the table.
alter table public.kpi_aggregations alter column sample_size drop expression;
alter table public.kpi_aggregations alter column value_float8 drop expression;

create or replace function public.telemetry_kpi_copies() returns trigger
language plpgsql as $$
begin
  new.sample_size := case when jsonb_typeof(new.metadata -> 'sample_size') = 'number'
                               and (new.metadata ->> 'sample_size') ~ '^[0-9]{1,18}$'
                          then (new.metadata ->> 'sample_size')::bigint end;
  new.value_float8 := public.telemetry_numeric_to_float8(new.metric_value);
  return new;
end
$$;

-- A writer that does not name the copies leaves them null: derive them. (A row of the product's
-- with a NaN or out-of-range value has a null value_float8 and is derived again, to the same.)
drop trigger if exists kpi_aggregations_copies_on_insert on public.kpi_aggregations;
create trigger kpi_aggregations_copies_on_insert
  before insert on public.kpi_aggregations
  for each row when (new.sample_size is null or new.value_float8 is null)
  execute function public.telemetry_kpi_copies();

drop trigger if exists kpi_aggregations_copies_on_update on public.kpi_aggregations;
create trigger kpi_aggregations_copies_on_update
  before update of metric_value, metadata on public.kpi_aggregations
  for each row execute function public.telemetry_kpi_copies();
