// The price chart: candles with every trade's entry and exit, and volume in a pane below
// (lightweight-charts). Candles arrive bucketed by the server; markers are exact (each at its
// real fill price, on the candle whose bucket holds its time).
import {
  CandlestickSeries,
  HistogramSeries,
  createChart,
  createSeriesMarkers,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import { formatNumber, withAlpha } from "./chart-theme.js";

export function lightweightOptions(colors) {
  return {
    autoSize: true, // follows the container, so the chart resizes with the window
    // The library's own logo injects a <style> element, which the CSP refuses: the page
    // credits TradingView in text below the charts instead (their NOTICE asks for credit).
    layout: { background: { color: colors.card }, textColor: colors.fg, attributionLogo: false,
      panes: { separatorColor: colors.border } },
    grid: { vertLines: { color: colors.subtle }, horzLines: { color: colors.subtle } },
    // Narrowing the window squeezes the same dates in rather than cutting the oldest off.
    timeScale: { borderColor: colors.border, lockVisibleTimeRangeOnResize: true },
    rightPriceScale: { borderColor: colors.border },
    crosshair: { mode: 0 }, // free crosshair: it follows the pointer, not the nearest close
  };
}

// A buy (long entry, short exit) points up from below its price; a sell points down.
function markerFor(event, colors) {
  const buying = (event.kind === "entry") === (event.direction === "long");
  const common = {
    time: event.time,
    price: event.price,
    position: buying ? "atPriceBottom" : "atPriceTop",
  };
  if (event.kind === "entry") {
    return { ...common, id: `entry-${event.seq}`, shape: buying ? "arrowUp" : "arrowDown",
      color: event.direction === "long" ? colors.accent : colors.warn };
  }
  return { ...common, id: `exit-${event.seq}`, shape: "circle", size: 0.6,
    color: (event.pnl_pct ?? 0) >= 0 ? colors.up : colors.down };
}

function volumePoints(data, colors) {
  return data.volume.map((point, i) => {
    const candle = data.candles[i];
    const rising = candle.close >= candle.open;
    return { ...point, color: withAlpha(rising ? colors.up : colors.down, 0.45) };
  });
}

function candleOptions(colors) {
  return {
    upColor: colors.up, downColor: colors.down, borderVisible: false,
    wickUpColor: colors.up, wickDownColor: colors.down,
  };
}

export function drawPriceChart(element, colors) {
  const chart = createChart(element, lightweightOptions(colors));
  const candles = chart.addSeries(CandlestickSeries, candleOptions(colors));
  const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" } }, 1);
  chart.panes()[0].setStretchFactor(3);
  chart.panes()[1].setStretchFactor(1);
  const markers = createSeriesMarkers(candles, []);
  let shown = null;
  let currentColors = colors;

  function show(data) {
    shown = data;
    candles.setData(data.candles);
    volume.setData(volumePoints(data, currentColors));
    markers.setMarkers(data.markers.map((event) => markerFor(event, currentColors)));
    chart.timeScale().fitContent();
    element.dataset.candles = String(candles.data().length);
    element.dataset.markers = String(markers.markers().length);
  }

  function restyle(next) {
    currentColors = next;
    chart.applyOptions(lightweightOptions(next));
    candles.applyOptions(candleOptions(next));
    if (shown) show(shown);
  }

  return { chart, candles, volume, markers, show, restyle };
}

// "O 101.20 H 103.00 L 100.90 C 102.40" under the pointer, as text (no inline styles).
export function followCrosshair(price, readout) {
  price.chart.subscribeCrosshairMove((param) => {
    const bar = param.seriesData?.get(price.candles);
    if (!bar) {
      readout.textContent = "";
      return;
    }
    readout.textContent = ["O", "H", "L", "C"]
      .map((label, i) => `${label} ${formatNumber([bar.open, bar.high, bar.low, bar.close][i])}`)
      .join("  ");
  });
}
