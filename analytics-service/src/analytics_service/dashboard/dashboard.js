// Redress analytics dashboard: fetches the figure endpoints with the API key and draws them as
// inline SVG. No library and no network beyond this service. The key comes from the form or
// from the URL fragment (#key=...), which browsers never send to the server, so it stays out
// of access logs; it is kept in sessionStorage only for this tab.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d",
  "#dc2626", "#4b5563", "#ca8a04"];
const CLOCKS = ["acknowledge", "first_response", "resolve"];

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function html(name, attributes = {}, text) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function message(container, cssClass, text) {
  container.replaceChildren(html("p", { class: cssClass }, text));
}

function legend(container, names) {
  const box = html("div", { class: "legend" });
  names.forEach((name, index) => {
    const item = html("span", {}, name);
    item.style.setProperty("--colour", COLOURS[index % COLOURS.length]);
    box.append(item);
  });
  container.append(box);
}

// Settings from the fragment (key, from, to, bucket, group_by), then the form.
function readFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("key")) {
    sessionStorage.setItem("redress-analytics-key", fragment.get("key"));
    fragment.delete("key");
    // Drop the key from the address bar (and from history) once it is stored.
    history.replaceState(null, "", location.pathname + location.search +
      (fragment.toString() ? "#" + fragment.toString() : ""));
  }
  for (const name of ["from", "to", "bucket", "group_by"]) {
    if (fragment.has(name)) document.getElementById(name).value = fragment.get(name);
  }
  document.getElementById("key").value = sessionStorage.getItem("redress-analytics-key") || "";
  if (!document.getElementById("to").value) {
    const today = new Date();
    const start = new Date(today.getTime() - 30 * 86400000);
    document.getElementById("to").value = today.toISOString().slice(0, 10);
    document.getElementById("from").value = start.toISOString().slice(0, 10);
  }
}

async function fetchFigure(path, params) {
  const key = document.getElementById("key").value.trim();
  const response = await fetch(path + "?" + new URLSearchParams(params), {
    headers: { Authorization: "Bearer " + key, Accept: "application/json" },
  });
  if (response.status === 404) return { unavailable: true };
  const body = await response.json().catch(() => null);
  if (response.status === 401) throw new Error("the API key was refused (unknown or revoked)");
  if (response.status === 403) throw new Error("the API key lacks the analytics:read scope");
  if (!response.ok) {
    const detail = body && (body.detail || body.title) ? body.detail || body.title : response.status;
    throw new Error(detail);
  }
  return { body };
}

function axes(svg, width, height, pad, maxValue, labels, format = (v) => String(v)) {
  svg.append(el("line", { x1: pad.left, y1: height - pad.bottom, x2: width - pad.right,
    y2: height - pad.bottom, stroke: "#9aa3af" }));
  svg.append(el("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom,
    stroke: "#9aa3af" }));
  svg.append(el("text", { x: pad.left - 6, y: pad.top + 4, "text-anchor": "end" },
    format(maxValue)));
  svg.append(el("text", { x: pad.left - 6, y: height - pad.bottom, "text-anchor": "end" },
    format(0)));
  labels.forEach(([x, text]) => svg.append(el("text", { x, y: height - pad.bottom + 16,
    "text-anchor": "middle" }, text)));
}

function drawTrend(container, trend) {
  const buckets = [...new Set(trend.series.map((p) => p.bucket_start))].sort();
  const groups = Object.keys(trend.totals).sort();
  if (!buckets.length) return message(container, "empty", "No complaints in this range.");
  const width = 900, height = 300;
  const pad = { left: 48, right: 16, top: 12, bottom: 28 };
  const maxCount = Math.max(1, ...trend.series.map((p) => p.count));
  // A time axis over the asked range, so a quiet stretch shows as one.
  const start = Date.parse(trend.from), span = Math.max(1, Date.parse(trend.to) - start);
  const x = (i) => pad.left + ((Date.parse(buckets[i]) - start) / span) *
    (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / maxCount) * (height - pad.top - pad.bottom);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Complaints per ${trend.bucket} by ${trend.group_by}`, "data-chart": "trend" });
  const first = buckets[0].slice(0, 10), last = buckets[buckets.length - 1].slice(0, 10);
  axes(svg, width, height, pad, maxCount, [[x(0), first], [x(buckets.length - 1), last]]);
  groups.forEach((group, index) => {
    const counts = new Map(trend.series.filter((p) => p.group === group)
      .map((p) => [p.bucket_start, p.count]));
    // A bucket without complaints of this group is a zero, not a gap.
    const points = buckets.map((bucket, i) => [x(i), y(counts.get(bucket) || 0), bucket]);
    const colour = COLOURS[index % COLOURS.length];
    svg.append(el("polyline", { points: points.map(([px, py]) => `${px},${py}`).join(" "),
      fill: "none", stroke: colour, "stroke-width": 2, "data-group": group,
      "data-total": trend.totals[group] }));
    points.forEach(([px, py, bucket]) => {
      const dot = el("circle", { cx: px, cy: py, r: 3, fill: colour, "data-group": group,
        "data-count": counts.get(bucket) || 0 });
      dot.append(el("title", {}, `${group} ${bucket.slice(0, 16)}: ${counts.get(bucket) || 0}`));
      svg.append(dot);
    });
  });
  container.replaceChildren(svg);
  legend(container, groups.map((g) => `${g} (${trend.totals[g]})`));
}

function bars(container, chart, rows, seriesNames, valueOf, options) {
  // rows: [{label, ...}], one cluster of bars per row, one bar per series.
  const width = 900, height = 300;
  const pad = { left: 48, right: 16, top: 12, bottom: 44 };
  const maxValue = options.maxValue(rows);
  const cluster = (width - pad.left - pad.right) / rows.length;
  const barWidth = Math.max(2, (cluster * 0.8) / seriesNames.length);
  const y = (v) => height - pad.bottom - (v / maxValue) * (height - pad.top - pad.bottom);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": options.label, "data-chart": chart });
  axes(svg, width, height, pad, maxValue, [], options.format);
  rows.forEach((row, r) => {
    const left = pad.left + r * cluster + cluster * 0.1;
    seriesNames.forEach((name, s) => {
      const value = valueOf(row, name);
      if (value === null || value === undefined) return;
      const bar = el("rect", { x: left + s * barWidth, y: y(value), width: barWidth - 1,
        height: Math.max(0, y(0) - y(value)), "data-row": row.label, "data-series": name,
        "data-value": value,
        fill: options.colour ? options.colour(row, name, s) : COLOURS[s % COLOURS.length] });
      bar.append(el("title", {}, `${row.label} ${name}: ${options.format(value)}`));
      svg.append(bar);
      if (options.mark) {
        const mark = options.mark(row, name);
        if (mark !== undefined) {
          svg.append(el("line", { x1: left + s * barWidth - 2, x2: left + (s + 1) * barWidth + 1,
            y1: y(mark), y2: y(mark), stroke: "#111827", "stroke-dasharray": "4 2",
            "data-threshold": mark }));
        }
      }
    });
    svg.append(el("text", { x: left + (seriesNames.length * barWidth) / 2,
      y: height - pad.bottom + 16, "text-anchor": "middle" }, row.label));
    if (row.sublabel) {
      svg.append(el("text", { x: left + (seriesNames.length * barWidth) / 2,
        y: height - pad.bottom + 30, "text-anchor": "middle" }, row.sublabel));
    }
  });
  container.replaceChildren(svg);
  legend(container, seriesNames);
}

function drawSuppliers(container, months) {
  if (!months.length) return message(container, "empty", "No supplier complaints in this range.");
  const rows = months.map((m) => ({ ...m, label: m.supplier, sublabel: m.month.slice(0, 7) }));
  const threshold = { supplier_component: "supplier_component_threshold",
    manufacturing: "manufacturing_threshold" };
  bars(container, "supplier-defects", rows, ["supplier_component", "manufacturing"],
    (row, name) => row[name], {
      label: "Upheld defects per supplier and month",
      maxValue: (all) => Math.max(1, ...all.flatMap((m) => [m.supplier_component, m.manufacturing,
        m.supplier_component_threshold + 1, m.manufacturing_threshold + 1])),
      format: (v) => String(v),
      mark: (row, name) => row[threshold[name]],
      colour: (row, name, s) => (row[name] > row[threshold[name]] ? "#dc2626" : COLOURS[s]),
    });
}

function drawSla(container, sla) {
  const groups = sla.groups || [];
  if (!groups.length) return message(container, "empty", "No cases in this range.");
  const rows = groups.map((g) => ({ ...g, label: g.priority, sublabel: g.team }));
  bars(container, "sla", rows, CLOCKS,
    (row, clock) => (row[clock] ? row[clock].within_target_share : null), {
      label: "Share of cases within target per priority and team",
      maxValue: () => 1,
      format: (v) => `${Math.round(v * 100)}%`,
    });
  if (sla.at_risk_total !== undefined) {
    container.append(html("p", { class: "note", "data-at-risk": sla.at_risk_total },
      `Open cases at risk now: ${sla.at_risk_total}`));
  }
}

async function show(name, container, path, params, draw) {
  try {
    const result = await fetchFigure(path, params);
    if (result.unavailable) {
      message(container, "unavailable", `${name} figures are not available on this server.`);
    } else {
      draw(container, result.body);
    }
    return true;
  } catch (error) {
    message(container, "error", `${name}: ${error.message}`);
    return false;
  }
}

async function refresh() {
  const status = document.getElementById("status");
  if (!document.getElementById("key").value.trim()) {
    status.textContent = "Enter an API key with the analytics:read scope.";
    return;
  }
  sessionStorage.setItem("redress-analytics-key", document.getElementById("key").value.trim());
  const range = {
    from: document.getElementById("from").value + "T00:00:00Z",
    // "To" is inclusive in the form: the whole last day counts.
    to: new Date(Date.parse(document.getElementById("to").value + "T00:00:00Z") + 86400000)
      .toISOString(),
  };
  status.textContent = "Loading…";
  const results = await Promise.all([
    show("Trend", document.getElementById("trend-chart"), "v1/analytics/trends",
      { ...range, bucket: document.getElementById("bucket").value,
        group_by: document.getElementById("group_by").value }, drawTrend),
    show("Supplier defect", document.getElementById("supplier-chart"),
      "v1/analytics/supplier-defects", range, drawSuppliers),
    show("SLA", document.getElementById("sla-chart"), "v1/analytics/sla", range, drawSla),
  ]);
  status.textContent = results.every(Boolean) ? "Updated " + new Date().toLocaleTimeString() :
    "Some figures could not be loaded.";
  document.body.dataset.loaded = "true";
}

document.getElementById("controls").addEventListener("submit", (event) => {
  event.preventDefault();
  refresh();
});
readFragment();
refresh();
