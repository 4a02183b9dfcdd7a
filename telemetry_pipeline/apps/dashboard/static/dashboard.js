// The dashboard page: the view lives in the URL's query string, which is sent as-is to the JSON
// API (/api/kpis, /api/slo-status, /api/violations, /api/paging); this script only draws what they
// return. paging.js (loaded first, window.Paging) draws the paging bands and list.
"use strict";

(function () {
  const BOOT = JSON.parse(document.getElementById("bootstrap").textContent);
  const METRICS = new Map(BOOT.metrics.map((m) => [m.name, m]));
  const GROUP_TITLES = { provenance: "Provenance & validation", audit: "Audit observer", operational: "Operations" };
  const COLORS = { provenance: "#2563eb", audit: "#7c3aed", operational: "#0f766e" };
  const GRANULARITY_LABELS = { "": "Auto", hour: "Hour", day: "Day", week: "Week" };
  const RANGE_LABELS = { "24h": "24 h", "7d": "7 d", "30d": "30 d", "90d": "90 d", custom: "Custom" };
  let loadSeq = 0;

  // ---------- URL state ----------
  function currentParams() {
    return new URLSearchParams(window.location.search);
  }

  function setParams(mutate) {
    const params = currentParams();
    mutate(params);
    const qs = params.toString();
    history.pushState(null, "", qs ? "?" + qs : window.location.pathname);
    load();
  }

  // ---------- formatting ----------
  const nf = (digits) => new Intl.NumberFormat("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const nfInt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

  function fmtValue(value, unit) {
    if (value === null || value === undefined) return "—";
    if (unit === "percent") return nf(value >= 99 && value < 100 ? 3 : 2).format(value) + " %";
    if (unit === "ms") {
      if (Math.abs(value) >= 60000) return nf(2).format(value / 60000) + " min";
      if (Math.abs(value) >= 1000) return nf(2).format(value / 1000) + " s";
      return nf(0).format(value) + " ms";
    }
    if (unit === "bytes") {
      const units = ["B", "KiB", "MiB", "GiB", "TiB"];
      let v = value, i = 0;
      while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
      return nf(i === 0 ? 0 : 1).format(v) + " " + units[i];
    }
    return Number.isInteger(value) ? nfInt.format(value) : nf(1).format(value);
  }

  function fmtTarget(comparator, target, unit) {
    return (comparator === ">=" ? "≥ " : "< ") + fmtValue(target, unit);
  }

  function fmtPeriod(iso, granularity) {
    if (!iso) return "—";
    const d = iso.replace("T", " ").slice(0, 16); // YYYY-MM-DD HH:MM (UTC)
    if (granularity === "hour") return d;
    return d.slice(0, 10) + (granularity === "week" ? " (week)" : "");
  }

  // The closed hour's trailing burn rates, one per window of burn_windows.yaml: the API names them
  // burn_rate_<window> (a span like 1h or 3d), in the file's order; burn_rate_day is the daily row's.
  function closedHourRates(row) {
    return Object.keys(row).map((k) => /^burn_rate_(\d+[mhd])$/.exec(k)).filter(Boolean)
      .map(([k, w]) => `${w} ${fmtBurn(row[k])}`).join(" · ");
  }

  function fmtBurn(v) {
    return v === null || v === undefined ? "—" : nf(2).format(v) + "×";
  }

  const plotTime = (iso) => iso.replace("Z", "");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data")) node.setAttribute(k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  // ---------- controls ----------
  function buildControls() {
    const ranges = document.getElementById("range-buttons");
    for (const r of [...BOOT.ranges, "custom"]) {
      ranges.append(el("button", { type: "button", "data-range": r, text: RANGE_LABELS[r] || r }));
    }
    ranges.addEventListener("click", (ev) => {
      const r = ev.target.closest("button")?.dataset.range;
      if (!r) return;
      if (r === "custom") {
        document.getElementById("custom-range").hidden = false;
        ranges.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b.dataset.range === "custom"));
        return;
      }
      setParams((p) => { p.delete("from"); p.delete("to"); p.set("range", r); });
    });
    document.getElementById("apply-custom").addEventListener("click", () => {
      const from = document.getElementById("from-input").value;
      const to = document.getElementById("to-input").value;
      setParams((p) => {
        p.delete("range");
        if (from) p.set("from", from + (from.length === 16 ? ":00Z" : "Z")); else p.delete("from");
        if (to) p.set("to", to + (to.length === 16 ? ":00Z" : "Z")); else p.delete("to");
      });
    });

    const gran = document.getElementById("granularity-buttons");
    for (const g of ["", ...BOOT.granularities]) {
      gran.append(el("button", { type: "button", "data-granularity": g, text: GRANULARITY_LABELS[g] || g }));
    }
    gran.addEventListener("click", (ev) => {
      const b = ev.target.closest("button");
      if (!b) return;
      setParams((p) => (b.dataset.granularity ? p.set("granularity", b.dataset.granularity) : p.delete("granularity")));
    });

    const chips = document.getElementById("group-chips");
    for (const g of BOOT.groups) {
      const input = el("input", { type: "checkbox", value: g, "data-group": g });
      chips.append(el("label", { class: "chip", style: `--chip: ${COLORS[g]}` }, input, el("span", { text: g })));
    }
    chips.addEventListener("change", () => {
      const checked = [...chips.querySelectorAll("input:checked")].map((i) => i.value);
      setParams((p) => {
        p.delete("group");
        if (checked.length && checked.length < BOOT.groups.length) checked.forEach((g) => p.append("group", g));
      });
    });

    const slo = document.getElementById("slo-select");
    for (const s of BOOT.slos) slo.append(el("option", { value: s.name, text: s.name.replaceAll("_", " ") }));
    slo.addEventListener("change", () => setParams((p) => (slo.value ? p.set("slo", slo.value) : p.delete("slo"))));

    const dagster = document.getElementById("dagster-link");
    dagster.href = BOOT.dagster_url;
  }

  function syncControls(params, view) {
    const custom = params.has("from") || params.has("to");
    const range = custom ? "custom" : params.get("range") || BOOT.default_range;
    document.querySelectorAll("#range-buttons button").forEach((b) => b.classList.toggle("active", b.dataset.range === range));
    document.getElementById("custom-range").hidden = !custom;
    if (view) {
      document.getElementById("from-input").value = view.from.slice(0, 16);
      document.getElementById("to-input").value = view.to.slice(0, 16);
    }
    const g = params.get("granularity") || "";
    document.querySelectorAll("#granularity-buttons button").forEach((b) => {
      b.classList.toggle("active", b.dataset.granularity === g);
      if (b.dataset.granularity === "" && view && !g) b.textContent = `Auto (${view.granularity})`;
      else if (b.dataset.granularity === "") b.textContent = "Auto";
    });
    const groups = params.getAll("group").flatMap((v) => v.split(","));
    document.querySelectorAll("#group-chips input").forEach((i) => { i.checked = !groups.length || groups.includes(i.value); });
    document.getElementById("slo-select").value = params.get("slo") || "";
  }

  // ---------- data ----------
  async function fetchJson(path, qs) {
    const response = await fetch(path + (qs ? "?" + qs : ""), { headers: { Accept: "application/json" } });
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON: report the status below */ }
    if (!response.ok || body === null) throw new Error(body?.error || `${path}: HTTP ${response.status} ${response.statusText}`);
    return body;
  }

  async function load() {
    const seq = ++loadSeq;
    const params = currentParams();
    const qs = params.toString();
    document.body.dataset.state = "loading";
    syncControls(params, null);
    document.dispatchEvent(new CustomEvent("dashboard:load", { detail: { params } })); // scopes.js
    for (const [id, path] of [["api-kpis", "/api/kpis"], ["api-slo", "/api/slo-status"], ["api-violations", "/api/violations"],
      ["api-paging", "/api/paging"]]) {
      document.getElementById(id).href = path + (qs ? "?" + qs : "");
    }
    try {
      const [kpis, slo, violations, paging] = await Promise.all([
        fetchJson("/api/kpis", qs), fetchJson("/api/slo-status", qs), fetchJson("/api/violations", qs),
        fetchJson("/api/paging", qs),
      ]);
      if (seq !== loadSeq) return; // a newer view was asked for meanwhile
      document.getElementById("error").hidden = true;
      syncControls(params, kpis.view);
      renderHeader(kpis);
      renderSloPanel(slo);
      window.Paging.update(paging);
      renderCharts(kpis);
      renderViolations(violations);
      document.body.dataset.view = qs;
      document.body.dataset.state = "ready";
    } catch (err) {
      if (seq !== loadSeq) return;
      const box = document.getElementById("error");
      box.textContent = err.message;
      box.hidden = false;
      document.body.dataset.view = qs;
      document.body.dataset.state = "error";
    }
  }

  function renderHeader(kpis) {
    const v = kpis.view;
    const extra = kpis.downsampled
      ? ` · ${kpis.bucket_periods} ${v.granularity}s per point (${kpis.max_points} point budget)`
      : "";
    const scope = v.scope ? ` · ${v.scope.dimension} ${v.scope.value}` : "";
    document.getElementById("window-label").textContent =
      `${fmtPeriod(v.from, "hour")} → ${fmtPeriod(v.to, "hour")} UTC · per ${v.granularity}${extra}${scope}`;
  }

  function renderSloPanel(slo) {
    const body = document.querySelector("#slo-table tbody");
    body.replaceChildren();
    const granularity = slo.view.granularity;
    if (!slo.slis.length) {
      body.append(el("tr", {}, el("td", { colspan: 9, class: "empty", text: "No SLO matches the filters." })));
      return;
    }
    let previous = null;
    for (const row of slo.slis) {
      const unit = METRICS.get(row.metric_name).unit;
      const latest = row.latest;
      // as of now (open period included, row.now) for global ratio SLIs; a scoped SLO's budget is its
      // last closed day's (no raw-row evaluation per scope); latency SLIs have no budget
      const budget = row.now ? row.now.error_budget_remaining : row.error_budget_remaining;
      const budgetCell = el("td", { class: "num", "data-field": "error_budget_remaining", "data-raw": budget ?? "",
        title: row.error_budget_remaining === null ? null
          : `last closed day ${fmtPeriod(row.budget_period_start, "day")}: ${nf(1).format(row.error_budget_remaining)} %` });
      if (budget === null) budgetCell.textContent = row.sli === "latency_p95" ? "n/a" : "—";
      else {
        const pct = Math.max(0, Math.min(100, budget));
        const tone = budget <= 0 ? "bad" : budget < 25 ? "warn" : "good";
        budgetCell.append(
          el("span", { class: "budget" }, el("span", { class: `budget-fill ${tone}`, style: `width:${pct}%` })),
          el("span", { class: `budget-text ${tone}`, text: nf(1).format(budget) + " %" }),
        );
      }
      const windows = row.now ? Object.values(row.now.burn) : [];
      const burn = el("td", { class: "num", "data-field": "burn", "data-raw": windows.map((w) => w.burn_rate).join(","),
        title: `closed hour ${fmtPeriod(row.burn_period_start, "hour")}: ${closedHourRates(row)}` });
      burn.append(row.now ? windows.map((w) => fmtBurn(w.burn_rate)).join(" · ") : (row.sli === "latency_p95" ? "n/a" : "—"));
      if (row.burn_alert) burn.append(" ", el("span", { class: `pill ${row.burn_alert}`, text: row.burn_alert, title: row.burn_alert_windows }));
      const statusText = { met: "met", violated: "violated", low_sample: `not met · n < ${row.min_sample_size}`, no_data: "no data" }[row.status];
      const period = latest
        ? el("a", { href: latest.slo_status_url, target: "_blank", rel: "noopener", text: fmtPeriod(latest.period_start, granularity) })
        : "—";
      body.append(el("tr", { "data-slo": row.slo_name, "data-sli": row.sli, class: row.slo_name !== previous ? "first" : null },
        el("td", { class: "slo-name", text: row.slo_name !== previous ? row.slo_name.replaceAll("_", " ") : "" }),
        el("td", { text: row.sli.replace("_", " ") }),
        el("td", { "data-field": "period_start", "data-raw": latest?.period_start ?? "" }, period),
        el("td", { class: "num strong", "data-field": "value", "data-raw": latest?.value ?? "", text: fmtValue(latest?.value, unit) }),
        el("td", { class: "num", "data-field": "target", "data-raw": row.target, text: fmtTarget(row.comparator, row.target, unit) }),
        el("td", { "data-field": "status", "data-raw": row.status }, el("span", { class: `badge ${row.status}`, text: statusText })),
        budgetCell,
        burn,
        el("td", { class: "num", "data-field": "violations_in_view", "data-raw": row.violations_in_view,
          text: `${row.violations_in_view} / ${row.periods_in_view}` }),
      ));
      previous = row.slo_name;
    }
  }

  function renderCharts(kpis) {
    const root = document.getElementById("charts");
    root.querySelectorAll(".chart").forEach((c) => Plotly.purge(c));
    root.replaceChildren();
    const v = kpis.view;
    const xRange = [plotTime(v.first_period), plotTime(v.to)];
    const byGroup = new Map(BOOT.groups.map((g) => [g, []]));
    for (const m of kpis.metrics) {
      if (!byGroup.has(m.group)) byGroup.set(m.group, []);
      byGroup.get(m.group).push(m);
    }
    if (!kpis.metrics.length) {
      root.append(el("p", { class: "empty panel", text: "No metric matches the filters." }));
    }
    for (const [group, metrics] of byGroup) {
      if (!metrics.length) continue;
      const grid = el("div", { class: "grid" });
      root.append(el("section", { class: "group", "data-group": group },
        el("h2", { class: "group-title", style: `--chip: ${COLORS[group]}`, text: GROUP_TITLES[group] || group }), grid));
      for (const m of metrics) {
        const chart = el("div", { class: "chart", id: `chart-${m.name}`, "data-metric": m.name, "data-points": m.points.value.length });
        const latest = m.points.value.length ? m.points.value[m.points.value.length - 1] : null;
        const target = m.targets[0];
        const head = el("div", { class: "card-head" },
          el("div", {}, el("h3", { text: m.name }), el("p", { class: "desc", text: m.description })),
          el("div", { class: "latest" },
            el("span", { class: "latest-value", text: fmtValue(latest, m.unit) }),
            target ? el("span", { class: "target-note", text: `target ${fmtTarget(target.comparator, target.target, m.unit)}` }) : null,
          ));
        grid.append(el("article", { class: "card" }, head, chart));
        drawChart(chart, m, kpis, xRange, COLORS[group]);
      }
    }
  }

  function drawChart(node, m, kpis, xRange, color) {
    const x = m.points.period_start.map(plotTime);
    const traces = [];
    if (kpis.downsampled) {
      traces.push({ x, y: m.points.max, name: "bucket max", mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false });
      traces.push({ x, y: m.points.min, name: "bucket min", mode: "lines", line: { width: 0 }, fill: "tonexty",
        fillcolor: color + "30", hoverinfo: "skip", showlegend: false });
    }
    traces.push({
      x, y: m.points.value, name: m.name, type: "scatter", mode: x.length <= 60 ? "lines+markers" : "lines",
      line: { color, width: 2 }, marker: { size: 5 },
      customdata: m.points.sample_size,
      hovertemplate: "%{y:,.4~f}<br>sample %{customdata:,}<extra></extra>",
    });
    for (const t of x.length ? m.targets : []) {
      traces.push({
        x: xRange, y: [t.target, t.target], name: `SLO target ${t.comparator} ${t.target}`, mode: "lines",
        line: { color: "#dc2626", width: 1.5, dash: "dash" }, hoverinfo: "skip",
      });
    }
    if (m.violations.period_start.length) {
      traces.push({
        x: m.violations.period_start.map(plotTime), y: m.violations.value, name: "violations", mode: "markers",
        marker: { color: "#dc2626", size: 9, symbol: "x-thin", line: { width: 2.5, color: "#dc2626" } },
        hovertemplate: "violation %{y:,.4~f}<extra></extra>",
      });
    }
    const shapes = m.violations.period_start.map((s) => {
      const start = new Date(s);
      const end = new Date(start.getTime() + kpis.bucket_seconds * 1000);
      return { type: "rect", xref: "x", yref: "paper", x0: plotTime(s), x1: end.toISOString().replace(/\.000Z$/, ""),
        y0: 0, y1: 1, fillcolor: "rgba(220,38,38,0.08)", line: { width: 0 }, layer: "below" };
    }).concat(window.Paging.shapes(m.name));
    const layout = {
      height: 210, margin: { l: 56, r: 12, t: 6, b: 36 }, showlegend: false, hovermode: "x unified",
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "Inter, 'Liberation Sans', 'DejaVu Sans', sans-serif", size: 11, color: "#475569" },
      xaxis: { type: "date", range: xRange, gridcolor: "#eef2f7", linecolor: "#cbd5e1" },
      yaxis: { gridcolor: "#eef2f7", zeroline: false, ticksuffix: m.unit === "percent" ? " %" : "", automargin: true,
        // a rate cannot leave 0..100: keep autorange from padding past the bounds
        autorangeoptions: m.unit === "percent" ? { clipmin: 0, clipmax: 100 } : { clipmin: 0 } },
      shapes,
    };
    if (!x.length) {
      layout.annotations = [{ text: "no data in this view", xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false,
        font: { size: 13, color: "#94a3b8" } }];
      layout.yaxis.visible = false;
    }
    Plotly.newPlot(node, traces, layout, { displayModeBar: false, responsive: true });
  }

  function renderViolations(data) {
    const body = document.querySelector("#violations-table tbody");
    body.replaceChildren();
    document.getElementById("violations-count").textContent =
      data.total > data.violations.length ? `${data.violations.length} of ${data.total}` : `${data.total}`;
    if (!data.violations.length) {
      body.append(el("tr", {}, el("td", { colspan: 8, class: "empty", text: "No violations in this view." })));
      return;
    }
    for (const row of data.violations) {
      const unit = METRICS.get(row.metric_name).unit;
      body.append(el("tr", { "data-slo": row.slo_name, "data-sli": row.sli, "data-period": row.period_start },
        el("td", { text: fmtPeriod(row.period_start, row.granularity) }),
        el("td", { text: row.slo_name.replaceAll("_", " ") }),
        el("td", { text: row.sli.replace("_", " ") }),
        el("td", { class: "num bad-text", "data-raw": row.value, text: fmtValue(row.value, unit) }),
        el("td", { class: "num", text: fmtTarget(row.comparator, row.target, unit) }),
        el("td", { class: "num", text: nfInt.format(row.sample_size) }),
        el("td", {}, row.burn_alert ? el("span", { class: `pill ${row.burn_alert}`, text: row.burn_alert }) : "—"),
        el("td", { class: "links" },
          el("a", { href: row.slo_status_url, target: "_blank", rel: "noopener", class: "partition-link", text: `SLO ${row.partition}` }),
          el("a", { href: row.kpi_url, target: "_blank", rel: "noopener", class: "partition-link subtle", text: "KPIs" })),
      ));
    }
  }

  // What the other scripts of the page (scopes.js) share of this one.
  window.dashboard = { BOOT, currentParams, setParams, fetchJson, fmtValue, el };
  window.addEventListener("popstate", load);
  buildControls();
  load();
})();
