"""The audit observer's table, slsa_audit_metrics, as an observed external asset."""
