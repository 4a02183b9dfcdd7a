"""Dagster only: one folder per stage (events, audits, kpis, slos, alerting), loaded by
`load_from_defs_folder` in definitions.py; each folder holds its assets, checks, schedules and
sensors side by side, over the plain library in core/.
"""
