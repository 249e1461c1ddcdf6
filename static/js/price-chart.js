// The price chart: candles with every trade's entry and exit, the strategy's indicators as
// lines, and volume in a pane below (lightweight-charts). Candles arrive bucketed by the
// server; markers are exact (each at its real fill price, on the candle whose bucket holds its
// time); an indicator has one point per candle. Lines near the price share its scale; others
// (an RSI between 0 and 100) get a pane of their own, so they do not flatten the candles.
import {
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
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

// Up to eight lines: four token colours, solid, then the same four dashed.
export function indicatorStyle(index, colors) {
  const palette = [colors.accent, colors.warn, colors.fg, colors.muted];
  return { color: palette[index % palette.length], lineStyle: index < palette.length ? 0 : 2 };
}

const VOLUME_PANE = 1;
const INDICATOR_PANE = 2;

function drawIndicators(chart, lines, colors) {
  return lines.map((line, i) => {
    const style = indicatorStyle(i, colors);
    const series = chart.addSeries(LineSeries, {
      ...style, lineWidth: 2, priceLineVisible: false, lastValueVisible: false,
      crosshairMarkerVisible: false,
    }, line.overlay ? 0 : INDICATOR_PANE);
    series.setData(line.points);
    return { name: line.name, series, style };
  });
}

// "━ sma_fast  ┅ rsi": each name in its line's colour (textContent: names are the user's).
function fillLegend(legend, drawn) {
  if (!legend) return;
  legend.replaceChildren(...drawn.map((line) => {
    const key = document.createElement("span");
    key.className = "key";
    key.style.color = line.style.color;
    key.textContent = `${line.style.lineStyle === 0 ? "\u2501" : "\u2505"} ${line.name}`;
    return key;
  }));
  legend.hidden = drawn.length === 0;
}

export function drawPriceChart(element, colors) {
  const chart = createChart(element, lightweightOptions(colors));
  const candles = chart.addSeries(CandlestickSeries, candleOptions(colors));
  const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" } },
    VOLUME_PANE);
  chart.panes()[0].setStretchFactor(3);
  chart.panes()[VOLUME_PANE].setStretchFactor(1);
  const markers = createSeriesMarkers(candles, []);
  const legend = document.getElementById("indicator-legend");
  let shown = null;
  let currentColors = colors;
  const price = { chart, candles, volume, markers, indicators: [], show, restyle };

  function showIndicators(lines) {
    for (const line of price.indicators) chart.removeSeries(line.series);
    // An indicator pane left empty by the previous symbol goes with its lines.
    while (chart.panes().length > INDICATOR_PANE) chart.removePane(INDICATOR_PANE);
    price.indicators = drawIndicators(chart, lines, currentColors);
    if (chart.panes().length > INDICATOR_PANE) chart.panes()[INDICATOR_PANE].setStretchFactor(1);
    fillLegend(legend, price.indicators);
    element.dataset.indicators = String(price.indicators.length);
  }

  function show(data) {
    shown = data;
    candles.setData(data.candles);
    volume.setData(volumePoints(data, currentColors));
    markers.setMarkers(data.markers.map((event) => markerFor(event, currentColors)));
    showIndicators(data.indicators ?? []);
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

  return price;
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
