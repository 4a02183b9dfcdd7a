"""KPIs: one declarative catalog (catalog.py), compiled to set-based SQL (sql.py), as assets."""
