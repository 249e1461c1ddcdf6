// A walk-forward's page: live progress while it runs (polling its status JSON, the windows done
// so far, then one reload when it finished), and once it succeeded the stitched out-of-sample
// equity against buy-and-hold over the same bars (lightweight-charts), drawn from the curve the
// page embeds with json_script (the CSP forbids inline scripts).
// For tests: #wf-equity carries data-points (what the equity series holds), window.tpWalkForward
// exposes the chart and its two series, and body[data-charts-ready="1"] is set once drawn.
import {
  LineSeries,
  createChart,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import { chartColors, onColorSchemeChange } from "./chart-theme.js";
import { followJobProgress } from "./job-progress.js";
import { lightweightOptions } from "./price-chart.js";

function drawEquity(element, curve) {
  let colors = chartColors();
  const chart = createChart(element, lightweightOptions(colors));
  const money = { type: "price", precision: 2, minMove: 0.01 };
  const points = (values) => curve.t.map((time, i) => ({ time, value: values[i] }));
  const hold = chart.addSeries(LineSeries, {
    color: colors.muted, lineWidth: 2, lineStyle: 2, priceFormat: money, title: "Buy and hold",
    lastValueVisible: false, priceLineVisible: false,
  });
  hold.setData(points(curve.buy_and_hold));
  const equity = chart.addSeries(LineSeries, {
    color: colors.accent, lineWidth: 3, priceFormat: money, title: "Walk-forward",
    priceLineVisible: false,
  });
  equity.setData(points(curve.equity));
  chart.timeScale().fitContent();
  element.dataset.points = String(equity.data().length);
  onColorSchemeChange((next) => {
    colors = next;
    chart.applyOptions(lightweightOptions(next));
    hold.applyOptions({ color: next.muted });
    equity.applyOptions({ color: next.accent });
  });
  return { chart, equity, hold };
}

const status = document.getElementById("wf-status");
if (status && status.dataset.finished === "false") {
  followJobProgress(status, (data, show) => {
    const total = data.n_windows ? ` of ${data.n_windows}` : "";
    show("windows", `${data.windows_done}${total} windows done`);
  });
}
const embedded = document.getElementById("walkforward-curve");
const element = document.getElementById("wf-equity");
if (embedded && element) {
  window.tpWalkForward = drawEquity(element, JSON.parse(embedded.textContent));
  document.body.dataset.chartsReady = "1";
}
