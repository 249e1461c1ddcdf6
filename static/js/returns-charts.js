// The monthly returns heatmap (years x months, diverging colours, a yearly total column) and
// the distribution of trade returns (bins coloured by sign), drawn with ECharts.
//
// The CSP allows no inline style: ECharts' HTML tooltips write style="" attributes through
// innerHTML, which it would block. Tooltips are therefore drawn on the canvas (renderMode
// "richText") from plain-text formatters; the same numbers are in the data tables below.
import * as echarts from "../vendor/echarts/echarts.esm.min.mjs";
import { formatNumber, formatPercent } from "./chart-theme.js";

export const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
  "Nov", "Dec"];

function tooltip(colors, formatter) {
  return {
    renderMode: "richText",
    backgroundColor: colors.card,
    borderColor: colors.border,
    textStyle: { color: colors.fg },
    formatter,
  };
}

// Heatmap cells: [month 0-11, year row, percent]; the year's total is column 12.
export function monthlyCells(rows) {
  const cells = [];
  rows.forEach((row, y) => {
    row.months.forEach((value, m) => {
      if (value !== null) cells.push([m, y, value]);
    });
  });
  return cells;
}

function monthlyOption(rows, colors, narrow) {
  const cells = monthlyCells(rows);
  const totals = rows.map((row, y) => [12, y, row.total]);
  // A symmetric scale, so 0 % is the neutral middle colour whatever the extremes are.
  const extreme = Math.max(0.5, ...cells.map((c) => Math.abs(c[2])));
  const years = rows.map((row) => String(row.year));
  const label = (params) => formatNumber(params.value[2], 1);
  return {
    animation: false,
    textStyle: { color: colors.fg },
    tooltip: tooltip(colors, (p) => {
      const month = p.value[0] === 12 ? "Year" : MONTHS[p.value[0]];
      return `${month} ${years[p.value[1]]}: ${formatPercent(p.value[2])}`;
    }),
    grid: { left: 44, right: 8, top: 8, bottom: 56 },
    xAxis: { type: "category", data: [...MONTHS, "Year"], splitArea: { show: false },
      axisLabel: { color: colors.muted, interval: 0, fontSize: narrow ? 9 : 12 },
      axisLine: { lineStyle: { color: colors.border } } },
    yAxis: { type: "category", data: years, inverse: true,
      axisLabel: { color: colors.muted }, axisLine: { lineStyle: { color: colors.border } } },
    visualMap: {
      min: -extreme, max: extreme, dimension: 2, seriesIndex: 0, calculable: false,
      orient: "horizontal", left: "center", bottom: 0, itemHeight: 120,
      inRange: { color: [colors.down, colors.subtle, colors.up] },
      textStyle: { color: colors.muted },
      formatter: (value) => formatPercent(value, 1),
    },
    series: [
      { name: "Monthly return", type: "heatmap", data: cells,
        label: { show: !narrow, formatter: label, color: colors.fg, fontSize: 10 },
        itemStyle: { borderColor: colors.card, borderWidth: 1 } },
      { name: "Year", type: "heatmap", data: totals,
        label: { show: true, formatter: label, color: colors.fg, fontSize: narrow ? 8 : 10,
          fontWeight: "bold" },
        itemStyle: { color: colors.subtle, borderColor: colors.card, borderWidth: 1 } },
    ],
  };
}

function binLabel(bin) {
  return `${formatNumber(bin.low, 1)} to ${formatNumber(bin.high, 1)} %`;
}

function histogramOption(returns, colors) {
  return {
    animation: false,
    textStyle: { color: colors.fg },
    tooltip: tooltip(colors, (p) => {
      const bin = returns.bins[p.dataIndex];
      return `${binLabel(bin)}: ${bin.count} trade${bin.count === 1 ? "" : "s"}`;
    }),
    grid: { left: 40, right: 8, top: 12, bottom: 40 },
    xAxis: { type: "category", data: returns.bins.map((bin) => formatNumber(bin.low, 1)),
      name: "trade return, %", nameLocation: "middle", nameGap: 26,
      nameTextStyle: { color: colors.muted }, axisLabel: { color: colors.muted },
      axisLine: { lineStyle: { color: colors.border } } },
    yAxis: { type: "value", minInterval: 1, axisLabel: { color: colors.muted },
      splitLine: { lineStyle: { color: colors.subtle } } },
    series: [{
      name: "Trades", type: "bar", barCategoryGap: "8%",
      data: returns.bins.map((bin) => ({
        value: bin.count,
        itemStyle: { color: bin.low >= 0 ? colors.up : colors.down },
      })),
    }],
  };
}

// An ECharts instance on `element` that follows its size and redraws with `build(colors)`.
function mount(element, build, colors) {
  const chart = echarts.init(element, null, { renderer: "canvas" });
  let current = colors;
  const draw = () => chart.setOption(build(current, element.clientWidth < 560), true);
  draw();
  new ResizeObserver(() => {
    chart.resize();
    draw(); // labels come and go with the width
  }).observe(element);
  return {
    chart,
    restyle(next) {
      current = next;
      draw();
    },
  };
}

export function drawMonthlyReturns(element, rows, colors) {
  // A row per year stays readable however many years the run spans.
  element.style.height = `${Math.max(220, 100 + rows.length * 44)}px`;
  const drawn = mount(element, (c, narrow) => monthlyOption(rows, c, narrow), colors);
  element.dataset.cells = String(drawn.chart.getOption().series[0].data.length);
  return drawn;
}

export function drawTradeReturns(element, returns, colors) {
  const drawn = mount(element, (c) => histogramOption(returns, c), colors);
  element.dataset.bins = String(drawn.chart.getOption().series[0].data.length);
  return drawn;
}

export { binLabel };
