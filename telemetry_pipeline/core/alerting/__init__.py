"""SLO alerting: slo_alert_sensor records alerts in the slo_alerts outbox, then delivers them.

rules.py     which slo_status rows become which alerts (violation, backfill suppression,
             resolved, burn-rate episodes), as set-based SQL
changes.py   the storage-id cursor over slo_status materialisations
outbox.py    delivery state in PostgreSQL: due alerts, per-channel results, retry backoff
delivery.py  one delivery pass over the due alerts, channel by channel
messages.py  alert payload -> Slack Block Kit / email text and HTML (escaped)
slack.py, email.py   the two channels as Dagster resources
sensor.py    slo_alert_sensor, tying the above together
"""
