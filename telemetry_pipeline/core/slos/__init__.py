"""SLOs as data: the catalog (slos.yaml), slo_status assets, error budgets and burn rates."""
