// The compare page: every compared backtest's equity (rebased to 100) on one chart and its
// drawdown on a second, drawn with lightweight-charts from the page's JSON endpoint (the CSP
// forbids inline scripts). Colours come from the page's CSS variables (--series-N, the design
// tokens), so light and dark follow prefers-color-scheme. After drawing, window.tpCompare
// holds the charts and series so a browser test can read what was actually drawn.
// On the picker, a count says how many backtests are ticked (two to four compare).
import {
  LineSeries,
  createChart,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";

const dark = window.matchMedia("(prefers-color-scheme: dark)");

function token(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function chartOptions() {
  return {
    autoSize: true, // follows the container, so the charts resize with the window
    // The library's logo injects a <style> element, which the CSP refuses: the page credits
    // TradingView in text instead.
    layout: { background: { color: token("--card") }, textColor: token("--fg"), attributionLogo: false },
    grid: { vertLines: { color: token("--border") }, horzLines: { color: token("--border") } },
    timeScale: { borderColor: token("--border") },
    rightPriceScale: { borderColor: token("--border") },
  };
}

const percent = { type: "custom", formatter: (v) => `${(v * 100).toFixed(2)} %`, minMove: 0.0001 };
const rebased = { type: "price", precision: 2, minMove: 0.01 };

function drawLines(element, runs, key, priceFormat) {
  const chart = createChart(element, chartOptions());
  const series = runs.map((run, i) => {
    const line = chart.addSeries(LineSeries, {
      color: token(`--series-${i + 1}`), lineWidth: 2, priceFormat, title: `#${run.id}`,
    });
    line.setData(run[key]);
    return line;
  });
  chart.timeScale().fitContent();
  element.dataset.series = String(series.length);
  return { chart, series };
}

function restyle(charts) {
  for (const { chart, series } of Object.values(charts)) {
    chart.applyOptions(chartOptions());
    series.forEach((line, i) => line.applyOptions({ color: token(`--series-${i + 1}`) }));
  }
}

async function drawCharts(root) {
  const response = await fetch(root.dataset.compareUrl, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`compare data: HTTP ${response.status}`);
  const data = await response.json();
  const charts = {
    equity: drawLines(root.querySelector("#compare-equity"), data.series, "equity", rebased),
    drawdown: drawLines(root.querySelector("#compare-drawdown"), data.series, "drawdown", percent),
  };
  dark.addEventListener("change", () => restyle(charts));
  window.tpCompare = charts;
  root.dataset.ready = "true";
}

function countTicks(form) {
  const count = form.querySelector("#picker-count");
  if (!count) return;
  const max = Number(form.dataset.max);
  const update = () => {
    const ticked = form.querySelectorAll("input[name=ids]:checked").length;
    count.textContent = ticked < 2 ? `${ticked} ticked: tick at least 2.`
      : ticked > max ? `${ticked} ticked: at most ${max} compare.` : `${ticked} ticked.`;
  };
  form.addEventListener("change", update);
  update();
}

const root = document.querySelector("[data-compare-url]");
if (root) drawCharts(root);
for (const form of document.querySelectorAll(".compare-picker-form")) countTicks(form);
