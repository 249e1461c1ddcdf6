// The backtest detail page's charts: price with trades, equity with the benchmark, drawdown
// (lightweight-charts), monthly returns and trade returns (ECharts, loaded on demand).
// Data comes from the page's JSON endpoints (the CSP forbids inline scripts): charts.json holds
// every chart's data with the first symbol's prices; prices.json another symbol's.
//
// For tests and tools: each chart element carries what its library holds (data-points,
// data-candles, data-markers, data-cells, data-bins), window.tpCharts exposes the charts, and
// when every chart holds its data, body[data-charts-ready="1"] is set and a "tp:charts-ready"
// event is dispatched on document.
import {
  AreaSeries,
  LineSeries,
  createChart,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import {
  chartColors,
  formatDate,
  formatNumber,
  formatPercent,
  onColorSchemeChange,
  withAlpha,
} from "./chart-theme.js";
import { drawPriceChart, followCrosshair, lightweightOptions } from "./price-chart.js";

const percent = { type: "custom", formatter: (v) => `${(v * 100).toFixed(2)} %`, minMove: 0.0001 };

function text(id, value) {
  const element = document.getElementById(id);
  if (element) element.textContent = value;
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`chart data: HTTP ${response.status} from ${url}`);
  return response.json();
}

function drawEquity(element, data, colors) {
  const chart = createChart(element, lightweightOptions(colors));
  const series = chart.addSeries(LineSeries, { color: colors.accent, lineWidth: 2, title: "" });
  series.setData(data.equity);
  let benchmark = null;
  if (data.benchmark && data.benchmark.points.length > 0) {
    benchmark = chart.addSeries(LineSeries, {
      color: colors.muted, lineWidth: 1, lineStyle: 2, priceLineVisible: false,
    });
    benchmark.setData(data.benchmark.points);
    element.dataset.benchmarkPoints = String(benchmark.data().length);
  }
  chart.timeScale().fitContent();
  element.dataset.points = String(series.data().length);
  return {
    chart, series, benchmark,
    restyle(next) {
      chart.applyOptions(lightweightOptions(next));
      series.applyOptions({ color: next.accent });
      benchmark?.applyOptions({ color: next.muted });
    },
  };
}

function drawDrawdown(element, points, colors) {
  const chart = createChart(element, lightweightOptions(colors));
  const areaColors = (c) => ({
    lineColor: c.down, topColor: withAlpha(c.down, 0.5), bottomColor: withAlpha(c.down, 0.05),
  });
  const series = chart.addSeries(AreaSeries, {
    ...areaColors(colors), lineWidth: 1, priceFormat: percent, invertFilledArea: true,
  });
  series.setData(points);
  chart.timeScale().fitContent();
  element.dataset.points = String(series.data().length);
  return {
    chart, series,
    restyle(next) {
      chart.applyOptions(lightweightOptions(next));
      series.applyOptions(areaColors(next));
    },
  };
}

function describeEquity(data) {
  const first = data.equity[0];
  const last = data.equity[data.equity.length - 1];
  const growth = (end) => formatPercent((end / first.value - 1) * 100);
  let sentence = `The strategy went from ${formatNumber(first.value)} on ${formatDate(first.time)}`
    + ` to ${formatNumber(last.value)} on ${formatDate(last.time)} (${growth(last.value)}).`;
  const bench = data.benchmark?.points ?? [];
  if (bench.length > 0) {
    const end = bench[bench.length - 1].value;
    sentence += ` Buying and holding ${data.benchmark.symbol} with the same money went to`
      + ` ${formatNumber(end)} (${growth(end)}).`;
    text("benchmark-key", `buy and hold ${data.benchmark.symbol}`);
  } else {
    document.getElementById("benchmark-key")?.setAttribute("hidden", "");
  }
  text("equity-summary", sentence);
  // The down-sampled series keeps the global minimum, so this is the deepest drawdown.
  const deepest = data.drawdown.reduce((a, b) => (b.value < a.value ? b : a), data.drawdown[0]);
  text("drawdown-summary", deepest
    ? `The deepest drawdown was ${formatPercent(deepest.value * 100)} on ${formatDate(deepest.time)}.`
    : "");
}

// ", and the strategy's indicators sma_fast and sma_slow" (names as the strategy gave them).
function describeIndicators(data) {
  const names = (data.indicators ?? []).map((line) => line.name);
  const dropped = data.indicators_dropped ?? 0;
  const listed = names.length > 1
    ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : names[0];
  const lines = names.length > 0
    ? `, and the strategy's ${names.length > 1 ? "indicators" : "indicator"} ${listed}` : "";
  const left = dropped > 0
    ? ` (${dropped} more of the strategy's indicators were not kept: the run is too long)` : "";
  return lines + left;
}

function describePrices(data) {
  const trades = new Set(data.markers.map((m) => m.seq)).size;
  const drawn = data.bucket > 1
    ? `${data.candles.length.toLocaleString()} candles of ${data.bucket} bars each`
    : `${data.candles.length.toLocaleString()} candles`;
  const first = data.candles[0];
  const last = data.candles[data.candles.length - 1];
  const closes = first
    ? ` It closed at ${formatNumber(first.close)} on ${formatDate(first.time)} and at`
      + ` ${formatNumber(last.close)} on ${formatDate(last.time)}.`
    : "";
  text("price-summary", `${data.symbol}: ${data.bars.toLocaleString()} bars drawn as ${drawn},`
    + ` with ${data.markers.length} entry and exit markers of ${trades} trades`
    + `${describeIndicators(data)}.${closes}`);
}

function fillTable(table, head, rows) {
  const thead = table.createTHead();
  const headRow = thead.insertRow();
  for (const label of head) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = label;
    headRow.append(th);
  }
  const body = table.createTBody();
  for (const cells of rows) {
    const row = body.insertRow();
    cells.forEach((value, i) => {
      const cell = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) cell.scope = "row";
      cell.textContent = value;
      row.append(cell);
    });
  }
}

async function drawReturns(data, colors, module) {
  const section = document.getElementById("returns-section");
  const hasMonths = data.monthly_returns.length > 0;
  const returns = data.trade_returns;
  if (!hasMonths && !(returns && returns.count > 0)) {
    section.hidden = true;
    return {};
  }
  const { MONTHS, binLabel, drawMonthlyReturns, drawTradeReturns } = await module;
  const drawn = {};
  if (hasMonths) {
    drawn.monthly = drawMonthlyReturns(document.getElementById("monthly-chart"),
      data.monthly_returns, colors);
    fillTable(document.getElementById("monthly-table"), ["Year", ...MONTHS, "Year total"],
      data.monthly_returns.map((row) => [String(row.year),
        ...row.months.map((v) => (v === null ? "" : formatPercent(v))), formatPercent(row.total)]));
  } else {
    document.getElementById("monthly-block").hidden = true;
  }
  if (returns && returns.count > 0) {
    drawn.returns = drawTradeReturns(document.getElementById("returns-chart"), returns, colors);
    text("returns-summary", `${returns.count} closed trades: ${returns.winners} winners,`
      + ` ${returns.losers} losers; mean return ${formatPercent(returns.mean)} per trade.`);
    fillTable(document.getElementById("returns-table"), ["Trade return", "Trades"],
      returns.bins.map((bin) => [binLabel(bin), String(bin.count)]));
  } else {
    document.getElementById("trade-returns-block").hidden = true;
  }
  return drawn;
}

// The first symbol's prices come with charts.json; another symbol's on demand.
function followSymbolChoice(root, price) {
  const select = document.getElementById("price-symbol");
  select?.addEventListener("change", async () => {
    const url = `${root.dataset.pricesUrl}?symbol=${encodeURIComponent(select.value)}`;
    const data = await getJson(url);
    price.show(data);
    describePrices(data);
  });
}

async function start() {
  const root = document.querySelector("[data-charts-url]");
  if (!root) return;
  const colors = chartColors();
  // The data and the (large) ECharts module at once; the lightweight charts meanwhile.
  const summary = getJson(root.dataset.chartsUrl);
  const returnsModule = import("./returns-charts.js");
  const charts = {};
  charts.price = drawPriceChart(document.getElementById("price-chart"), colors);
  followCrosshair(charts.price, document.getElementById("price-readout"));
  const data = await summary;
  if (data.equity.length === 0) {
    root.hidden = true; // nothing to draw yet; the page says why
    return;
  }
  if (data.prices) {
    charts.price.show(data.prices);
    describePrices(data.prices);
    followSymbolChoice(root, charts.price);
  } else {
    document.getElementById("price-block").hidden = true; // its market data is gone
  }
  charts.equity = drawEquity(document.getElementById("equity-chart"), data, colors);
  charts.drawdown = drawDrawdown(document.getElementById("drawdown-chart"), data.drawdown, colors);
  describeEquity(data);
  Object.assign(charts, await drawReturns(data, colors, returnsModule));
  onColorSchemeChange((next) => {
    for (const chart of Object.values(charts)) chart.restyle(next);
  });
  window.tpCharts = charts;
  root.dataset.ready = "true";
  // Milliseconds since the navigation started: the page-load timing test reads it.
  document.body.dataset.chartsReadyAt = String(Math.round(performance.now()));
  document.body.dataset.chartsReady = "1";
  document.dispatchEvent(new CustomEvent("tp:charts-ready"));
}

start();
