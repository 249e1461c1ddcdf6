// The backtest detail page's equity and underwater drawdown charts (lightweight-charts).
// Data comes from the page's JSON endpoint (the CSP forbids inline scripts). After drawing,
// each chart element carries data-points = the number of points the chart library holds, and
// window.tpCharts exposes the series, so a browser test can check what was actually drawn.
import {
  AreaSeries,
  LineSeries,
  createChart,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";

const dark = window.matchMedia("(prefers-color-scheme: dark)");

function palette() {
  return dark.matches
    ? { bg: "#161b22", text: "#d0d7de", grid: "#2d333b", line: "#58a6ff", loss: "#f47067" }
    : { bg: "#ffffff", text: "#1d2330", grid: "#eef2f6", line: "#1f6feb", loss: "#b42318" };
}

function chartOptions(colors) {
  return {
    autoSize: true, // follows the container, so the chart resizes with the window
    // The library's own logo injects a <style> element, which the CSP refuses: the page
    // credits TradingView in text below the charts instead (their NOTICE asks for credit).
    layout: { background: { color: colors.bg }, textColor: colors.text, attributionLogo: false },
    grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
    timeScale: { borderColor: colors.grid },
    rightPriceScale: { borderColor: colors.grid },
  };
}

const percent = { type: "custom", formatter: (v) => `${(v * 100).toFixed(2)} %`, minMove: 0.0001 };

function draw(element, seriesType, options, points) {
  const chart = createChart(element, chartOptions(palette()));
  const series = chart.addSeries(seriesType, options);
  series.setData(points);
  chart.timeScale().fitContent();
  element.dataset.points = String(series.data().length);
  return { chart, series };
}

function restyle(charts) {
  const colors = palette();
  for (const { chart } of Object.values(charts)) chart.applyOptions(chartOptions(colors));
  charts.equity.series.applyOptions({ color: colors.line });
  charts.drawdown.series.applyOptions({ lineColor: colors.loss, topColor: colors.loss });
}

async function start() {
  const root = document.querySelector("[data-charts-url]");
  if (!root) return;
  const response = await fetch(root.dataset.chartsUrl, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`chart data: HTTP ${response.status}`);
  const data = await response.json();
  if (data.equity.length === 0) {
    root.hidden = true; // nothing to draw yet; the metrics table says why
    return;
  }
  const colors = palette();
  const charts = {
    equity: draw(root.querySelector("#equity-chart"), LineSeries,
      { color: colors.line, lineWidth: 2 }, data.equity),
    drawdown: draw(root.querySelector("#drawdown-chart"), AreaSeries, {
      lineColor: colors.loss, topColor: colors.loss, bottomColor: "rgba(0, 0, 0, 0)",
      lineWidth: 1, priceFormat: percent, invertFilledArea: true,
    }, data.drawdown),
  };
  dark.addEventListener("change", () => restyle(charts));
  window.tpCharts = charts;
  root.dataset.ready = "true";
}

start();
