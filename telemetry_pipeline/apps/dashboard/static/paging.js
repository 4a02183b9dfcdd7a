// Paging on the page (docs/dashboard.md): bands on the charts for fast-burn episodes, NO DATA
// intervals and maintenance windows (/api/paging, fetched by dashboard.js with the view), their
// list under the SLO panel, and the maintenance-window form (list / create / delete through
// /api/maintenance). Text only (textContent): reasons are typed by people.
"use strict";

window.Paging = (function () {
  const KINDS = {
    episode: { label: "fast-burn episode", fill: "rgba(220,38,38,0.16)", line: "#dc2626" },
    no_data: { label: "no data", fill: "rgba(100,116,139,0.18)", line: "#64748b" },
    maintenance: { label: "maintenance", fill: "rgba(37,99,235,0.12)", line: "#2563eb" },
  };
  let bands = new Map(); // metric -> [{kind, x0, x1, text}]
  const plotTime = (iso) => iso.replace("Z", "");
  const when = (iso) => (iso ? iso.replace("T", " ").slice(0, 16) : "");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function items(paging) {
    const asOf = paging.as_of;
    return [
      ...paging.episodes.map((e) => ({ kind: "episode", slo: e.slo_name, what: e.sli, x0: e.started_at,
        x1: e.ended_at || asOf, open: e.open, metrics: e.metrics,
        text: `${e.open ? "open" : "closed"} · ${e.pair}` })),
      ...paging.no_data.map((n) => ({ kind: "no_data", slo: n.slo_name, what: n.source, x0: n.last_row_at,
        x1: n.resolved_at || asOf, open: n.open, metrics: n.metrics,
        text: `${n.open ? "silent" : "resolved"} · raised ${when(n.raised_at)}` })),
      ...paging.maintenance.map((m) => ({ kind: "maintenance", slo: m.slo_name, what: m.sli || "every SLI",
        x0: m.starts_at, x1: m.ends_at, open: m.active, metrics: m.metrics, text: m.reason })),
    ];
  }

  // dashboard.js calls this with /api/paging's answer before drawing the charts.
  function update(paging) {
    bands = new Map();
    const list = document.getElementById("paging-list");
    list.replaceChildren();
    const all = items(paging);
    for (const item of all) {
      for (const metric of item.metrics) {
        if (!bands.has(metric)) bands.set(metric, []);
        bands.get(metric).push(item);
      }
      list.append(el("li", { class: `paging-item ${item.kind}`, "data-kind": item.kind, "data-slo": item.slo,
        "data-what": item.what, "data-from": item.x0, "data-to": item.x1, "data-open": String(item.open) },
        el("span", { class: `paging-kind ${item.kind}`, text: KINDS[item.kind].label }),
        el("span", { class: "paging-what", text: `${item.slo.replaceAll("_", " ")} / ${item.what}` }),
        // an open episode / NO DATA ends at the view's as-of instant (now, or the `to` of a past view)
        el("span", { class: "paging-when", text: `${when(item.x0)} → ${when(item.x1)}${item.open && item.kind !== "maintenance" ? " (as of)" : ""}` }),
        el("span", { class: "paging-text", text: item.text })));
    }
    if (!all.length) list.append(el("li", { class: "paging-item empty", text: "No episodes, no-data states or maintenance windows in this view." }));
    document.getElementById("paging-as-of").textContent = `as of ${when(paging.as_of)} UTC`;
  }

  // Shaded bands (Plotly shapes) for one metric's chart; `name` says which kind each is.
  function shapes(metric) {
    return (bands.get(metric) || []).map((b) => ({
      type: "rect", xref: "x", yref: "paper", x0: plotTime(b.x0), x1: plotTime(b.x1), y0: 0, y1: 1,
      name: b.kind, fillcolor: KINDS[b.kind].fill, line: { width: 1, color: KINDS[b.kind].line, dash: "dot" },
      layer: "below", label: { text: KINDS[b.kind].label, textposition: "top left", font: { size: 10, color: KINDS[b.kind].line } },
    }));
  }

  // ---------- the maintenance-window form ----------
  async function send(method, path, body) {
    const response = await fetch(path, {
      method, headers: { Accept: "application/json", ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try { data = await response.json(); } catch (_) { /* reported by status below */ }
    return { ok: response.ok, status: response.status, data: data || { error: `HTTP ${response.status}` } };
  }

  async function loadWindows() {
    const panel = document.getElementById("maintenance-panel");
    const body = document.querySelector("#maintenance-table tbody");
    const answer = await send("GET", "/api/maintenance");
    body.replaceChildren();
    if (!answer.ok) {
      body.append(el("tr", {}, el("td", { colspan: 6, class: "empty", text: `Maintenance windows unavailable: ${answer.data.error}` })));
      panel.dataset.state = "error";
      return;
    }
    for (const w of answer.data.windows) {
      const remove = el("button", { type: "button", class: "delete", "data-id": w.id, text: "Delete" });
      body.append(el("tr", { "data-id": w.id, "data-slo": w.slo_name },
        el("td", { text: w.slo_name }), el("td", { text: w.sli || "every SLI" }),
        el("td", { "data-field": "starts_at", "data-raw": w.starts_at, text: when(w.starts_at) }),
        el("td", { "data-field": "ends_at", "data-raw": w.ends_at, text: when(w.ends_at) }),
        el("td", { "data-field": "reason", text: w.reason }), el("td", {}, remove)));
    }
    if (!answer.data.windows.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "empty", text: "No maintenance windows now or ahead." })));
    panel.dataset.loads = String(Number(panel.dataset.loads || 0) + 1);
    panel.dataset.state = "ready";
  }

  function redraw() {
    window.dispatchEvent(new PopStateEvent("popstate")); // dashboard.js reloads the view: new bands
    return loadWindows();
  }

  function say(text, bad) {
    const box = document.getElementById("maintenance-message");
    box.textContent = text;
    box.className = bad ? "form-message bad" : "form-message";
    box.hidden = !text;
  }

  function buildForm(boot) {
    const form = document.getElementById("maintenance-form");
    const slo = form.elements.slo;
    const sli = form.elements.sli;
    for (const s of boot.slos) slo.append(el("option", { value: s.name, text: s.name }));
    const fillSlis = () => {
      sli.replaceChildren(el("option", { value: "", text: "every SLI" }));
      const chosen = boot.slos.find((s) => s.name === slo.value);
      for (const s of chosen ? chosen.slis : []) sli.append(el("option", { value: s.name, text: s.name }));
    };
    slo.addEventListener("change", fillSlis);
    fillSlis();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
      const fields = Object.fromEntries(["slo", "sli", "from", "to", "reason"].map((k) => [k, form.elements[k].value]));
      const answer = await send("POST", "/api/maintenance", fields);
      if (!answer.ok) {
        const field = answer.data.field;
        if (field && form.elements[field]) form.elements[field].setAttribute("aria-invalid", "true");
        say(answer.data.error, true);
        form.dataset.state = "error";
        return;
      }
      say(`Recorded window ${answer.data.id}.`, false);
      form.elements.reason.value = "";
      form.dataset.state = "saved";
      await redraw();
    });
    document.querySelector("#maintenance-table tbody").addEventListener("click", async (ev) => {
      const button = ev.target.closest("button.delete");
      if (!button) return;
      const answer = await send("DELETE", `/api/maintenance/${encodeURIComponent(button.dataset.id)}`);
      say(answer.ok ? `Deleted window ${button.dataset.id}.` : answer.data.error, !answer.ok);
      await redraw();
    });
  }

  buildForm(JSON.parse(document.getElementById("bootstrap").textContent));
  loadWindows();
  return { update, shapes };
})();
