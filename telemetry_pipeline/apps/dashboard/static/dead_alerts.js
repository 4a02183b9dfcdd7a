// The dead-alerts panel: fills #dead-alerts-table from /api/dead-alerts (independent of the view's
// filters). Text only (textContent), never HTML: an error message comes from Slack or an SMTP server.
(function () {
  "use strict";

  function cell(text, attrs) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    for (const [k, v] of Object.entries(attrs || {})) td.setAttribute(k, v);
    return td;
  }

  function when(iso) {
    return iso ? iso.replace("T", " ").replace(/:00Z$/, "").replace(/Z$/, "") : "";
  }

  async function load() {
    const panel = document.getElementById("dead-alerts-panel");
    const body = document.querySelector("#dead-alerts-table tbody");
    const count = document.getElementById("dead-alerts-count");
    try {
      const response = await fetch("/api/dead-alerts", { headers: { Accept: "application/json" } });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
      body.replaceChildren();
      count.textContent = data.total > data.dead_alerts.length ? `${data.dead_alerts.length} of ${data.total}` : `${data.total}`;
      if (!data.dead_alerts.length) {
        const tr = document.createElement("tr");
        tr.append(cell("No dead alerts.", { colspan: "8", class: "empty" }));
        body.append(tr);
      }
      for (const row of data.dead_alerts) {
        const tr = document.createElement("tr");
        tr.dataset.key = row.key;
        tr.append(
          cell(when(row.dead_at)), cell(row.slo_name), cell(row.sli), cell(row.kind),
          cell(when(row.period_start)), cell(row.slack_state, { "data-field": "slack" }),
          cell(row.email_state, { "data-field": "email" }), cell(row.error, { "data-field": "error" }),
        );
        body.append(tr);
      }
      panel.dataset.state = "ready";
    } catch (err) {
      count.textContent = "";
      body.replaceChildren();
      const tr = document.createElement("tr");
      tr.append(cell(`Dead alerts unavailable: ${err.message}`, { colspan: "8", class: "empty" }));
      body.append(tr);
      panel.dataset.state = "error";
    }
  }

  load();
})();
