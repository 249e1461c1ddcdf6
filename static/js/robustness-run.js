// A robustness test's page: live progress while it runs (polling its status JSON, then one
// reload when it finished), and once it succeeded its charts, drawn from the result the page
// embeds with json_script (the CSP forbids inline scripts):
// - Monte Carlo: the percentile bands of the resampled equity paths (lightweight-charts) and
//   histograms of final return, max drawdown and Sharpe (ECharts), the actual value marked;
// - random entry: the histogram of the random strategies' returns, the strategy's marked.
// For tests: each chart element carries data-points or data-bins (what its library holds),
// window.tpRobustness exposes the charts, and body[data-charts-ready="1"] is set once drawn.
import {
  LineSeries,
  createChart,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import * as echarts from "../vendor/echarts/echarts.esm.min.mjs";
import { chartColors, formatNumber, formatPercent, onColorSchemeChange } from "./chart-theme.js";
import { followJobProgress } from "./job-progress.js";
import { lightweightOptions } from "./price-chart.js";

// Five percentile lines and the actual path; the time axis is the backtest's (bar times for
// the block bootstrap, trade closes for the trade methods).
const BAND_STYLES = [
  { width: 1, style: 2, tone: "muted" }, { width: 1, style: 0, tone: "accent" },
  { width: 3, style: 0, tone: "accent" }, { width: 1, style: 0, tone: "accent" },
  { width: 1, style: 2, tone: "muted" },
];

function drawBands(element, bands, colors) {
  const chart = createChart(element, lightweightOptions(colors));
  const money = { type: "price", precision: 2, minMove: 0.01 };
  const points = (values) => bands.times.map((time, i) => ({ time, value: values[i] }))
    .filter((p) => p.value !== null);
  const lines = bands.values.map((values, i) => {
    const s = BAND_STYLES[i];
    const line = chart.addSeries(LineSeries, {
      color: colors[s.tone], lineWidth: s.width, lineStyle: s.style, priceFormat: money,
      title: `P${bands.percentiles[i]}`, lastValueVisible: false, priceLineVisible: false,
    });
    line.setData(points(values));
    return line;
  });
  const actual = chart.addSeries(LineSeries, {
    color: colors.fg, lineWidth: 2, lineStyle: 1, priceFormat: money, title: "Actual",
    lastValueVisible: false, priceLineVisible: false,
  });
  actual.setData(points(bands.actual));
  chart.timeScale().fitContent();
  element.dataset.points = String(lines[2].data().length);
  element.dataset.series = String(lines.length + 1);
  return {
    chart, lines, actual,
    restyle(next) {
      chart.applyOptions(lightweightOptions(next));
      lines.forEach((line, i) => line.applyOptions({ color: next[BAND_STYLES[i].tone] }));
      actual.applyOptions({ color: next.fg });
    },
  };
}

function histogramOption(hist, actual, format, title, colors) {
  const labels = hist.counts.map((_, i) => format((hist.edges[i] + hist.edges[i + 1]) / 2));
  const marked = actual === null ? -1 : hist.counts.findIndex(
    (_, i) => actual >= hist.edges[i] && (actual < hist.edges[i + 1] || i === hist.counts.length - 1));
  return {
    animation: false,
    title: { text: title, left: "center", textStyle: { color: colors.fg, fontSize: 13 } },
    grid: { left: 44, right: 16, top: 56, bottom: 28 },
    tooltip: { trigger: "axis", formatter: (p) => `${p[0].name}: ${p[0].value} runs` },
    // A label every fifth bin: thirty rotated labels would overlap on any width.
    xAxis: { type: "category", data: labels,
      axisLabel: { color: colors.muted, interval: 4, hideOverlap: true },
      axisLine: { lineStyle: { color: colors.border } } },
    yAxis: { type: "value", axisLabel: { color: colors.muted },
      splitLine: { lineStyle: { color: colors.subtle } } },
    series: [{
      type: "bar", barCategoryGap: "5%",
      data: hist.counts.map((count, i) => ({
        value: count, itemStyle: { color: i === marked ? colors.warn : colors.accent },
      })),
      markLine: marked < 0 ? undefined : {
        symbol: "none", silent: true, lineStyle: { color: colors.warn, width: 2 },
        label: { formatter: `This strategy ${format(actual)}`, color: colors.fg, position: "end" },
        data: [{ xAxis: marked }],
      },
    }],
  };
}

function drawHistogram(element, hist, actual, format, title, colors) {
  const chart = echarts.init(element, null, { renderer: "canvas" });
  let current = colors;
  const draw = () => chart.setOption(histogramOption(hist, actual, format, title, current), true);
  draw();
  new ResizeObserver(() => chart.resize()).observe(element);
  element.dataset.bins = String(chart.getOption().series[0].data.length);
  return { chart, restyle(next) { current = next; draw(); } };
}

const percent = (v) => formatPercent(v * 100);
const number = (v) => formatNumber(v, 3);

function drawResult(root, result) {
  const colors = chartColors();
  const charts = {};
  if (root.dataset.kind === "monte_carlo") {
    charts.bands = drawBands(document.getElementById("rb-bands"), result.bands, colors);
    const titles = { final_return: ["Final return", percent], max_drawdown: ["Max drawdown", percent],
      sharpe: ["Sharpe (per step)", number] };
    for (const [key, [title, format]] of Object.entries(titles)) {
      charts[key] = drawHistogram(document.getElementById(`rb-hist-${key}`),
        result.distributions[key].histogram, result.actual[key], format, title, colors);
    }
  } else if (root.dataset.kind === "random_entry") {
    charts.chance = drawHistogram(document.getElementById("rb-hist-chance"), result.histogram,
      result.actual_return, percent, "Returns of the random strategies", colors);
  }
  onColorSchemeChange((next) => Object.values(charts).forEach((c) => c.restyle(next)));
  return charts;
}

const status = document.getElementById("rb-status");
if (status && status.dataset.finished === "false") {
  followJobProgress(status, (data, show) => {
    show("percent", `${Math.round(data.progress * 100)} %`);
  });
}
const root = document.getElementById("rb-charts");
const embedded = document.getElementById("robustness-result");
if (root && embedded) {
  window.tpRobustness = drawResult(root, JSON.parse(embedded.textContent));
  document.body.dataset.chartsReady = "1";
}
