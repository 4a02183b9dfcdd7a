// Scopes on the page (docs/dashboard.md): the scope picker writes repository=, workflow= or team=
// into the URL (dashboard.js then draws that scope's series, SLO panel and violations), and the
// ranking panel lists a dimension's values by a metric over the URL's time window (/api/ranking).
"use strict";

(function () {
  const D = window.dashboard;
  const DIMENSIONS = D.BOOT.dimensions;
  const TIME_PARAMS = ["range", "from", "to", "granularity"];
  const SUGGESTIONS = 50; // values fetched per keystroke; the API filters by prefix
  const PLURAL = { repository: "repositories", workflow: "workflows", team: "teams" };
  const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  let searchSeq = 0, rankingSeq = 0, searchTimer = null;

  const dimensionSelect = document.getElementById("scope-dimension");
  const valueInput = document.getElementById("scope-value");
  const datalist = document.getElementById("scope-values");
  const applyButton = document.getElementById("scope-apply");

  // ---------- the picker ----------
  function scopeOf(params) {
    const dimension = DIMENSIONS.find((d) => params.get(d));
    return dimension ? { dimension, value: params.get(dimension) } : null;
  }

  async function suggest() {
    const seq = ++searchSeq;
    const dimension = dimensionSelect.value;
    if (!dimension) { datalist.replaceChildren(); return; }
    const qs = new URLSearchParams({ dimension, prefix: valueInput.value, limit: SUGGESTIONS });
    try {
      const body = await D.fetchJson("/api/scopes", qs.toString());
      if (seq !== searchSeq) return; // typed on meanwhile
      datalist.replaceChildren(...body.values.map((v) => D.el("option", { value: v })));
      document.getElementById("scope-count").textContent =
        body.truncated ? `first ${body.values.length} matches` : `${body.values.length} ${PLURAL[dimension] || dimension}`;
      datalist.dataset.prefix = body.prefix;
      datalist.dataset.dimension = dimension;
    } catch (err) {
      document.getElementById("scope-count").textContent = err.message;
    }
  }

  function apply() {
    const dimension = dimensionSelect.value;
    const value = valueInput.value.trim();
    if (dimension && !value) return;
    D.setParams((p) => {
      DIMENSIONS.forEach((d) => p.delete(d));
      if (dimension) p.set(dimension, value);
    });
  }

  function buildPicker() {
    for (const d of DIMENSIONS) dimensionSelect.append(D.el("option", { value: d, text: d }));
    dimensionSelect.addEventListener("change", () => {
      valueInput.value = "";
      valueInput.disabled = applyButton.disabled = !dimensionSelect.value;
      if (dimensionSelect.value) { suggest(); valueInput.focus(); } else apply(); // "Global": back to global rows
    });
    valueInput.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(suggest, 120);
    });
    valueInput.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); apply(); } });
    applyButton.addEventListener("click", apply);
  }

  function syncPicker(params) {
    const scope = scopeOf(params);
    const dimension = scope ? scope.dimension : "";
    if (dimensionSelect.value !== dimension) { dimensionSelect.value = dimension; datalist.replaceChildren(); }
    valueInput.value = scope ? scope.value : "";
    valueInput.disabled = applyButton.disabled = !dimension;
  }

  // ---------- the ranking ----------
  const rankingPanel = document.getElementById("ranking-panel");
  const rankDimension = document.getElementById("ranking-dimension");
  const rankMetric = document.getElementById("ranking-metric");
  const rankOrder = document.getElementById("ranking-order");
  const rankLimit = document.getElementById("ranking-limit");

  function buildRanking() {
    for (const d of DIMENSIONS) rankDimension.append(D.el("option", { value: d, text: PLURAL[d] || d }));
    for (const m of D.BOOT.metrics) rankMetric.append(D.el("option", { value: m.name, text: m.name }));
    rankMetric.value = D.BOOT.metrics.some((m) => m.name === "provenance_availability") ? "provenance_availability" : D.BOOT.metrics[0].name;
    rankLimit.value = D.BOOT.ranking_limit;
    for (const control of [rankDimension, rankMetric, rankOrder, rankLimit]) {
      control.addEventListener("change", () => loadRanking(D.currentParams()));
    }
  }

  function rankingQuery(params) {
    const qs = new URLSearchParams();
    for (const key of TIME_PARAMS) for (const v of params.getAll(key)) qs.append(key, v);
    qs.set("dimension", rankDimension.value);
    qs.set("metric", rankMetric.value);
    qs.set("order", rankOrder.value);
    qs.set("limit", rankLimit.value || D.BOOT.ranking_limit);
    return qs.toString();
  }

  async function loadRanking(params) {
    const seq = ++rankingSeq;
    const qs = rankingQuery(params);
    rankingPanel.dataset.state = "loading";
    document.getElementById("ranking-api").href = "/api/ranking?" + qs;
    const body = document.querySelector("#ranking-table tbody");
    try {
      const data = await D.fetchJson("/api/ranking", qs);
      if (seq !== rankingSeq) return;
      body.replaceChildren();
      document.getElementById("ranking-value-head").textContent = data.dimension;
      document.getElementById("ranking-count").textContent =
        data.total > data.rows.length ? `${data.rows.length} of ${data.total}` : `${data.total}`;
      if (!data.rows.length) {
        body.append(D.el("tr", {}, D.el("td", { colspan: 5, class: "empty",
          text: `No ${data.dimension} has ${data.metric} rows per ${data.view.granularity} in this view.` })));
      }
      for (const row of data.rows) {
        body.append(D.el("tr", { "data-value": row.value },
          D.el("td", { class: "num", text: row.rank }),
          D.el("td", {}, D.el("a", { href: row.url, class: "scope-link", text: row.value })),
          D.el("td", { class: "num strong", "data-raw": row.metric_value, text: D.fmtValue(row.metric_value, data.unit) }),
          D.el("td", { class: "num", text: row.sample_size === null ? "—" : count.format(row.sample_size) }),
          D.el("td", { class: "num", text: row.periods }),
        ));
      }
      rankingPanel.dataset.state = "ready";
    } catch (err) {
      if (seq !== rankingSeq) return;
      body.replaceChildren(D.el("tr", {}, D.el("td", { colspan: 5, class: "empty bad-text", text: err.message })));
      rankingPanel.dataset.state = "error";
    }
    rankingPanel.dataset.query = qs;
  }

  function onView(params) {
    syncPicker(params);
    loadRanking(params);
  }

  buildPicker();
  buildRanking();
  document.addEventListener("dashboard:load", (ev) => onView(ev.detail.params));
  onView(D.currentParams()); // dashboard.js drew its first view before this script ran
})();
