"""The KPI dashboard: a page with filters, time ranges and SLO status, and its JSON API."""
