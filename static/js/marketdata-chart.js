// The market-data instrument page's candle chart with volume (lightweight-charts v5).
// Data comes from the page's bars.json (the CSP forbids inline scripts): candles already
// bucketed by the server, volume per candle, gaps with the candle they are marked on.
// Colours are the page's CSS design tokens, read with getComputedStyle, so the chart follows
// the light/dark preference like the rest of the page. After drawing, the chart element carries
// data-candles (what the library holds), and window.tpCharts.marketdata exposes the series,
// so a browser test can check what was actually drawn.
import {
  CandlestickSeries,
  HistogramSeries,
  createChart,
  createSeriesMarkers,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";

const dark = window.matchMedia("(prefers-color-scheme: dark)");

function token(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function withAlpha(color, alpha) {
  // Tokens are hex (#rgb or #rrggbb); anything else is used as it is.
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color);
  if (!hex) return color;
  const digits = hex[1].length === 3 ? [...hex[1]].map((d) => d + d).join("") : hex[1];
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(digits.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

function palette() {
  return {
    bg: token("--card"), text: token("--fg"), grid: token("--border"),
    up: token("--up"), down: token("--down"), gap: token("--warn"),
  };
}

function chartOptions(colors, intraday) {
  return {
    autoSize: true, // follows the container, so the chart resizes with the window
    // The library's logo injects a <style> element, which the CSP refuses: the page credits
    // TradingView in text under the chart instead.
    layout: {
      background: { color: colors.bg }, textColor: colors.text, attributionLogo: false,
      panes: { separatorColor: colors.grid },
    },
    grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
    // A small minimum spacing lets fitContent show the whole range on a phone too.
    timeScale: { borderColor: colors.grid, timeVisible: intraday, minBarSpacing: 0.05 },
    rightPriceScale: { borderColor: colors.grid },
  };
}

function candleOptions(colors) {
  return {
    upColor: colors.up, downColor: colors.down, borderUpColor: colors.up,
    borderDownColor: colors.down, wickUpColor: colors.up, wickDownColor: colors.down,
  };
}

function volumePoints(data, colors) {
  return data.volume.map((point, i) => ({
    ...point,
    color: withAlpha(data.candles[i].close >= data.candles[i].open ? colors.up : colors.down, 0.5),
  }));
}

function gapMarkers(data, colors) {
  const seen = new Set();
  const markers = [];
  for (const gap of data.gaps) {
    if (seen.has(gap.time)) continue; // several gaps inside one bucket: one marker
    seen.add(gap.time);
    markers.push({ time: gap.time, position: "aboveBar", shape: "arrowDown", color: colors.gap, text: "gap" });
  }
  return markers;
}

function draw(element, data) {
  const colors = palette();
  const intraday = !["1d", "1w"].includes(data.timeframe);
  const chart = createChart(element, chartOptions(colors, intraday));
  const candles = chart.addSeries(CandlestickSeries, candleOptions(colors));
  candles.setData(data.candles);
  // Volume in a pane of its own (index 1), with its own price scale.
  const volume = chart.addSeries(HistogramSeries, {
    priceFormat: { type: "volume" }, priceLineVisible: false, lastValueVisible: false,
  }, 1);
  volume.setData(volumePoints(data, colors));
  const [pricePane, volumePane] = chart.panes();
  pricePane.setStretchFactor(3);
  volumePane.setStretchFactor(1);
  const markers = createSeriesMarkers(candles, gapMarkers(data, colors));
  chart.timeScale().fitContent();
  return { chart, candles, volume, markers, data, intraday };
}

function restyle(drawn) {
  const colors = palette();
  drawn.chart.applyOptions(chartOptions(colors, drawn.intraday));
  drawn.candles.applyOptions(candleOptions(colors));
  drawn.volume.setData(volumePoints(drawn.data, colors));
  drawn.markers.setMarkers(gapMarkers(drawn.data, colors));
}

async function start() {
  const element = document.getElementById("md-chart");
  if (!element) return;
  const response = await fetch(element.dataset.barsUrl, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`market data chart: HTTP ${response.status}`);
  const data = await response.json();
  const drawn = draw(element, data);
  dark.addEventListener("change", () => restyle(drawn));
  window.tpCharts = { ...(window.tpCharts || {}), marketdata: drawn };
  element.dataset.candles = String(drawn.candles.data().length);
  element.dataset.volumeBars = String(drawn.volume.data().length);
  element.dataset.gapMarkers = String(drawn.markers.markers().length);
  element.dataset.barsPerCandle = String(data.bucket.bars_per_candle);
  element.dataset.ready = "true";
}

start();
