"""The scoped pass rolls counts and sums up from a per-(period, repository, workflow) step and
computes percentiles from the sample values that step gathers: it must give exactly the rows the direct
definition gives, every raw row aggregated straight into the four grouping sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg import sql

from telemetry_pipeline.core.demo.fleet import DEMO_FLEET, DEMO_TEAMS_FILE
from telemetry_pipeline.core.demo.generate import copy_audits, copy_events
from telemetry_pipeline.core.granularity import PERIODS
from telemetry_pipeline.core.kpis import sql as kpi_sql
from telemetry_pipeline.core.kpis.catalog import METRICS, Source
from telemetry_pipeline.core.scopes.teams import load_teams

START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
END = START + timedelta(days=9)
#: the scope keys as the direct definition has them: a workflow is `<repository>/<workflow>`
SCOPE_COLUMNS = """,
    m_repository as repository,
    case when m_repository is not null and m_workflow is not null then m_repository || '/' || m_workflow end
      as workflow_key"""
TABLE_TIME = {Source.EVENTS: ("telemetry_events", "event_timestamp"), Source.AUDITS: ("slsa_audit_metrics", "audited_at")}


def direct_select(source: Source) -> sql.Composed:
    """Every raw row into GROUPING SETS with the catalog's aggregates: the definition itself."""
    chosen = [m for m in METRICS if m.source is source]
    aggregates, unpivot = [], []
    for i, metric in enumerate(chosen):
        value, n = kpi_sql._value_and_sample(metric)
        aggregates.append(sql.SQL("{} as v{}, {} as n{}").format(value, sql.SQL(str(i)), n, sql.SQL(str(i))))
        unpivot.append(sql.SQL("({}, v{}, n{})").format(sql.Literal(metric.name), sql.SQL(str(i)), sql.SQL(str(i))))
    table, time_column = TABLE_TIME[source]
    rows = sql.SQL(kpi_sql.SOURCE_ROWS[source]).format(
        granularity=sql.Placeholder("granularity"), start=sql.Placeholder("start"), end=sql.Placeholder("end"),
        scope=sql.SQL(SCOPE_COLUMNS))
    return sql.SQL(
        """
        select a.period_start, a.dimension, a.dimension_value, m.name, m.value, m.n
        from (select period_start,
                     case when grouping(repository) = 0 then 'repository' when grouping(workflow_key) = 0
                          then 'workflow' when grouping(team) = 0 then 'team' end as dimension,
                     coalesce(repository, workflow_key, team) as dimension_value, {aggregates}
              from ({rows}) as src
              left join (select r.repository,
                                coalesce((select t.team from unnest(%(team_names)s::text[], %(team_regexes)s::text[])
                                          with ordinality as t(team, regex, ord)
                                          where r.repository ~ t.regex order by t.ord limit 1), 'unowned') as team
                         from (select distinct m_repository as repository from {table}
                               where {time} >= %(start)s and {time} < %(end)s) as r) as rt using (repository)
              group by grouping sets ((period_start), (period_start, repository),
                                      (period_start, workflow_key), (period_start, team))) as a
        cross join lateral (values {unpivot}) as m(name, value, n)
        where m.n > 0 and m.value is not null and (a.dimension is null or a.dimension_value is not null)
        """
    ).format(aggregates=sql.SQL(", ").join(aggregates), rows=rows, table=sql.Identifier("public", table),
             time=sql.Identifier(time_column), unpivot=sql.SQL(", ").join(unpivot))


def test_rolled_up_scoped_rows_equal_the_direct_definition(warehouse):
    with warehouse.connect() as conn:
        copy_events(conn, 40_000, START, END, seed=5, fleet=DEMO_FLEET)
        copy_audits(conn, 4_000, START, END, seed=5, fleet=DEMO_FLEET)
        # fractional durations, a cancelled step, rows without one or both scope keys
        conn.execute(
            """
            insert into public.telemetry_events (event_type, event_timestamp, metadata) values
              ('provenance.generation', '2025-03-04T10:00:00Z', '{"status": "success", "duration_ms": 1234.5,
                "repository": "acme/mobile-ios", "workflow": "build"}'),
              ('provenance.generation', '2025-03-04T11:00:00Z', '{"status": "cancelled", "duration_ms": 7.25,
                "repository": "acme/mobile-ios", "workflow": "build"}'),
              ('provenance.validation', '2025-03-04T12:00:00Z', '{"status": "error", "duration_ms": 0.5,
                "repository": "acme/mobile-ios"}'),
              ('api.request', '2025-03-04T13:00:00Z', '{"status": "success", "duration_ms": 3, "workflow": "x"}')
            """
        )
        conn.commit()
        teams = load_teams(DEMO_TEAMS_FILE).sql_params()
        for granularity in ("day", "week"):
            params = {"granularity": granularity, "start": START, "end": END, "length": PERIODS[granularity], **teams}
            for source in Source:
                new = conn.execute(
                    sql.SQL("select period_start, dimension, dimension_value, metric_name, metric_value,"
                            " sample_size from ({}) as k").format(kpi_sql.kpi_select(source, scoped=True)),
                    params,
                ).fetchall()
                direct = conn.execute(direct_select(source), params).fetchall()
                assert sorted(new, key=repr) == sorted(direct, key=repr), (granularity, source)
                # the data reach every dimension: 40 repositories, 80 workflows, 6 teams + unowned
                values = {d: {r[2] for r in new if r[1] == d} for d in ("repository", "workflow", "team")}
                assert (len(values["repository"]), len(values["workflow"]), len(values["team"])) == (40, 80, 7)
