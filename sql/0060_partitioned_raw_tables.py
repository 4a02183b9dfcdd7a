"""telemetry_events and slsa_audit_metrics become monthly range partitions (SPEC §13).

An install of an earlier release is converted in place, month by month, every row, id and the
sequence kept; interrupted, `db migrate` resumes where it stopped (telemetry_pipeline/warehouse/
partitioning.py says how). On a new install the tables are empty and this takes milliseconds.
"""

from telemetry_pipeline.core.warehouse.partitioning import TABLES, convert_in_place


def run(conn):
    for table in TABLES:
        convert_in_place(conn, table)
