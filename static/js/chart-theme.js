// Chart colours come from the page's design tokens (static/css/app.css), so the charts follow
// prefers-color-scheme exactly like the rest of the page. Canvas libraries cannot read CSS
// variables themselves: we resolve them here and hand them over as plain colours.
const scheme = window.matchMedia("(prefers-color-scheme: dark)");

export function chartColors() {
  const style = getComputedStyle(document.documentElement);
  const token = (name) => style.getPropertyValue(name).trim();
  return {
    fg: token("--fg"),
    muted: token("--muted"),
    card: token("--card"),
    border: token("--border"),
    subtle: token("--subtle"),
    accent: token("--accent"),
    up: token("--up"),
    down: token("--down"),
    warn: token("--warn"),
  };
}

// `#rrggbb` with an alpha channel (the tokens are six-digit hex colours).
export function withAlpha(color, alpha) {
  if (!/^#[0-9a-f]{6}$/i.test(color)) return color;
  const byte = Math.round(alpha * 255).toString(16).padStart(2, "0");
  return `${color}${byte}`;
}

// Calls `restyle(colors)` whenever the colour scheme flips (the tokens change with it).
export function onColorSchemeChange(restyle) {
  scheme.addEventListener("change", () => {
    // The media query's new tokens apply with the next style pass: read them after it.
    requestAnimationFrame(() => restyle(chartColors()));
  });
}

const numberFormats = new Map();

export function formatNumber(value, digits = 2) {
  if (!numberFormats.has(digits)) {
    numberFormats.set(digits, new Intl.NumberFormat(undefined, {
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    }));
  }
  return numberFormats.get(digits).format(value);
}

export function formatPercent(value, digits = 2) {
  const sign = value > 0 ? "+" : value < 0 ? "\u2212" : "";
  return `${sign}${formatNumber(Math.abs(value), digits)} %`;
}

export function formatDate(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}
