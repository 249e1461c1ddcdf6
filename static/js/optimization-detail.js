// A sweep's page: live progress (polling status.json like backtest-live.js), the heatmap of the
// objective over any two swept parameters (the others held at the best combination), and the
// stability view (the objective along each parameter through the best point), with ECharts.
//
// The data comes from the page's JSON (#sweep-data, then status.json); the CSP allows no inline
// style, so tooltips are drawn on the canvas (renderMode "richText") as in returns-charts.js.
// window.tpCharts exposes the charts and the cells they hold, for the browser tests.
import * as echarts from "../vendor/echarts/echarts.esm.min.mjs";
import { chartColors, formatNumber, onColorSchemeChange } from "./chart-theme.js";

const FAST_MS = 1500;
const SLOW_MS = 6000;

function tooltip(colors, formatter) {
  return { renderMode: "richText", backgroundColor: colors.card, borderColor: colors.border,
    textStyle: { color: colors.fg }, formatter };
}

// Rows as {index, values: {name: v}, objective, trades} (objective null: undefined).
export function rowsOf(data) {
  const n = data.names.length;
  return data.points.map((p) => ({
    index: p[0],
    values: Object.fromEntries(data.names.map((name, i) => [name, p[1 + i]])),
    objective: p[1 + n],
    trades: p[2 + n] ?? 0,
  })).filter((r) => r.objective !== null && r.trades >= (data.min_trades || 0));
}

function atBest(row, best, free) {
  return Object.entries(best.parameters).every(([name, v]) => free.includes(name) || row.values[name] === v);
}

function sortedUnique(values) {
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

// Heatmap cells [x position, y position, objective] over `x` and `y`, the rest at the best.
export function heatmapCells(data, x, y) {
  const rows = rowsOf(data);
  const xs = sortedUnique(data.points.map((p) => p[1 + data.names.indexOf(x)]));
  const ys = sortedUnique(data.points.map((p) => p[1 + data.names.indexOf(y)]));
  const cells = data.best
    ? rows.filter((r) => atBest(r, data.best, [x, y]))
      .map((r) => [xs.indexOf(r.values[x]), ys.indexOf(r.values[y]), r.objective])
    : [];
  return { xs, ys, cells };
}

function heatmapOption(grid, x, y, colors, label) {
  const values = grid.cells.map((c) => c[2]);
  const low = values.length ? Math.min(...values) : 0;
  const high = values.length ? Math.max(...values) : 1;
  return {
    animation: false,
    textStyle: { color: colors.fg },
    tooltip: tooltip(colors, (p) => `${x} ${grid.xs[p.value[0]]}, ${y} ${grid.ys[p.value[1]]}: ${label} ${formatNumber(p.value[2], 3)}`),
    grid: { left: 48, right: 12, top: 8, bottom: 76 },
    xAxis: { type: "category", data: grid.xs.map(String), name: x, nameLocation: "middle", nameGap: 24,
      nameTextStyle: { color: colors.muted }, axisLabel: { color: colors.muted }, axisLine: { lineStyle: { color: colors.border } } },
    yAxis: { type: "category", data: grid.ys.map(String), name: y, nameLocation: "middle", nameGap: 36,
      nameTextStyle: { color: colors.muted }, axisLabel: { color: colors.muted }, axisLine: { lineStyle: { color: colors.border } } },
    visualMap: { min: low, max: high === low ? low + 1 : high, dimension: 2, calculable: false,
      orient: "horizontal", left: "center", bottom: 0, itemHeight: 120,
      inRange: { color: [colors.down, colors.subtle, colors.up] }, textStyle: { color: colors.muted },
      formatter: (v) => formatNumber(v, 2) },
    series: [{ type: "heatmap", data: grid.cells, itemStyle: { borderColor: colors.card, borderWidth: 1 } }],
  };
}

// One line per parameter: [value, objective] through the best point.
export function stabilityLines(data) {
  const rows = rowsOf(data);
  if (!data.best) return [];
  return data.names.map((name) => ({
    name,
    best: data.best.parameters[name],
    points: rows.filter((r) => atBest(r, data.best, [name]))
      .map((r) => [r.values[name], r.objective]).sort((a, b) => a[0] - b[0]),
  }));
}

function lineOption(line, colors, label) {
  return {
    animation: false,
    textStyle: { color: colors.fg },
    tooltip: tooltip(colors, (p) => `${line.name} ${p.value[0]}: ${label} ${formatNumber(p.value[1], 3)}`),
    grid: { left: 48, right: 12, top: 24, bottom: 36 },
    title: { text: line.name, left: 0, top: 0, textStyle: { color: colors.fg, fontSize: 13 } },
    xAxis: { type: "value", scale: true, axisLabel: { color: colors.muted }, axisLine: { lineStyle: { color: colors.border } },
      splitLine: { show: false } },
    yAxis: { type: "value", scale: true, axisLabel: { color: colors.muted }, splitLine: { lineStyle: { color: colors.subtle } } },
    series: [{ type: "line", data: line.points, showSymbol: true, symbolSize: 5, lineStyle: { color: colors.accent },
      itemStyle: { color: colors.accent },
      markLine: { symbol: "none", silent: true, label: { show: false }, lineStyle: { color: colors.warn, type: "dashed" },
        data: [{ xAxis: line.best }] } }],
  };
}

function mountChart(element) {
  const chart = echarts.init(element, null, { renderer: "canvas" });
  new ResizeObserver(() => chart.resize()).observe(element);
  return chart;
}

function start() {
  const source = document.getElementById("sweep-data");
  if (!source) return;
  let data = JSON.parse(source.textContent);
  let colors = chartColors();
  const label = data.objective;
  const section = document.getElementById("sweep-heatmap-section");
  const heatmapEl = document.getElementById("sweep-heatmap");
  const xSelect = document.getElementById("heatmap-x");
  const ySelect = document.getElementById("heatmap-y");
  const stabilityEl = document.getElementById("sweep-stability");
  const charts = { heatmap: null, stability: {} };
  window.tpCharts = charts;

  for (const select of [xSelect, ySelect]) {
    for (const name of data.names) select.add(new Option(name, name));
  }
  if (data.names.length >= 2) {
    xSelect.value = data.names[0];
    ySelect.value = data.names[1];
  } else {
    section.hidden = true;
  }

  function drawHeatmap() {
    if (section.hidden) return;
    if (xSelect.value === ySelect.value) {
      // Two different parameters: move the other select on.
      ySelect.value = data.names.find((n) => n !== xSelect.value);
    }
    const grid = heatmapCells(data, xSelect.value, ySelect.value);
    if (!charts.heatmap) charts.heatmap = { chart: mountChart(heatmapEl) };
    charts.heatmap.cells = grid.cells;
    charts.heatmap.chart.setOption(heatmapOption(grid, xSelect.value, ySelect.value, colors, label), true);
    heatmapEl.dataset.cells = String(grid.cells.length);
  }

  function drawStability() {
    for (const line of stabilityLines(data)) {
      let entry = charts.stability[line.name];
      if (!entry) {
        const el = document.createElement("div");
        el.className = "sweep-chart sweep-chart-small";
        el.dataset.parameter = line.name;
        el.setAttribute("role", "img");
        el.setAttribute("aria-label", `Objective along ${line.name}`);
        stabilityEl.append(el);
        entry = { chart: mountChart(el), el };
        charts.stability[line.name] = entry;
      }
      entry.points = line.points;
      entry.el.dataset.points = String(line.points.length);
      entry.chart.setOption(lineOption(line, colors, label), true);
    }
  }

  function drawAll() {
    drawHeatmap();
    drawStability();
  }
  xSelect.addEventListener("change", drawHeatmap);
  ySelect.addEventListener("change", drawHeatmap);
  onColorSchemeChange((next) => {
    colors = next;
    drawAll();
  });
  drawAll();

  const live = document.getElementById("sweep-live");
  if (!live || live.dataset.finished === "true") return;
  const badge = live.querySelector("[data-live=status]");
  const bar = live.querySelector("[data-live=progress]");
  const count = live.querySelector("[data-live=count]");
  const bestObjective = document.querySelector("[data-live=best-objective]");
  const bestLine = document.querySelector("[data-live=best]");
  let delay = FAST_MS;
  let last = "";

  async function poll() {
    try {
      const response = await fetch(live.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.status === 404 || response.status === 403) return;
      if (!response.ok) throw new Error(`status ${response.status}`);
      data = await response.json();
      badge.textContent = data.status_label;
      badge.className = `badge badge-${data.status}`;
      bar.value = data.progress;
      count.textContent = `${data.stored} of ${data.total} combinations`;
      if (data.best) {
        const params = Object.entries(data.best.parameters).map(([k, v]) => `${k} ${v}`).join(" · ");
        if (bestObjective) bestObjective.textContent = formatNumber(data.best.objective, 3);
        else bestLine.textContent = `${params}: ${label} ${formatNumber(data.best.objective, 3)}`;
      }
      drawAll();
      if (data.finished) {
        window.location.reload(); // the best combination's DSR and the top table are the server's
        return;
      }
      const seen = `${data.status}:${data.stored}`;
      delay = seen === last ? Math.min(delay * 1.5, SLOW_MS) : FAST_MS;
      last = seen;
    } catch (error) {
      delay = SLOW_MS;
    }
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, delay);
}

start();
