// The run form, enhanced: a filter box over the instrument checkboxes, the timeframe select
// narrowed to what every chosen instrument has data for, dates following the common range
// (until the user types their own), the benchmark limited to the chosen instruments, and the
// lot size shown only for lots. Without this script the form still works: the server offers
// only instruments and timeframes with data and checks the combination again on submit.
// Also: the strategy chooser's list narrows as you type in its search box.

function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

function setupStrategySearch() {
  const input = document.getElementById("strategy-q");
  const list = document.getElementById("strategy-choices");
  if (!input || !list) return;
  const items = [...list.querySelectorAll("li[data-name]")];
  const none = document.getElementById("strategy-none");
  input.addEventListener("input", () => {
    const query = input.value.trim().toLowerCase();
    let shown = 0;
    for (const item of items) {
      item.hidden = !item.dataset.name.includes(query);
      if (!item.hidden) shown += 1;
    }
    if (none) none.hidden = shown > 0 || items.length === 0;
  });
}

// The days every symbol has `timeframe` for ([latest first, earliest last]), or null.
function commonRange(availability, symbols, timeframe) {
  let first = null;
  let last = null;
  for (const symbol of symbols) {
    const span = (availability[symbol] || {})[timeframe];
    if (!span) return null;
    if (first === null || span[0] > first) first = span[0];
    if (last === null || span[1] < last) last = span[1];
  }
  return first !== null && first <= last ? [first, last] : null;
}

// Timeframes every chosen symbol has (any symbol's, when none is chosen).
function offeredTimeframes(availability, symbols) {
  const sets = (symbols.length ? symbols : Object.keys(availability))
    .map((symbol) => new Set(Object.keys(availability[symbol] || {})));
  if (!sets.length) return new Set();
  if (!symbols.length) return new Set(sets.flatMap((set) => [...set]));
  return sets.reduce((all, set) => new Set([...all].filter((tf) => set.has(tf))));
}

class RunForm {
  constructor(form, availability) {
    this.form = form;
    this.availability = availability;
    this.boxes = [...form.querySelectorAll("input[name=instruments]")];
    this.el = form.elements;
    this.hint = document.getElementById("range-hint");
    this.count = document.getElementById("instrument-count");
    this.filter = document.getElementById("instrument-filter");
    // A re-rendered form (server errors) keeps the dates the user sent.
    this.datesEdited = form.querySelector(".errorlist") !== null;
  }

  chosen() {
    return this.boxes.filter((box) => box.checked).map((box) => box.value);
  }

  start() {
    for (const box of this.boxes) box.addEventListener("change", () => this.update(true));
    this.el.timeframe.addEventListener("change", () => this.update(true));
    for (const name of ["start", "end"]) {
      this.el[name].addEventListener("input", () => { this.datesEdited = true; });
    }
    this.el.sizing.addEventListener("change", () => this.showLotSize());
    this.el.version.addEventListener("change", () => {
      // Another version declares other parameters: show its form.
      window.location.assign(this.form.dataset.versionUrl + this.el.version.value);
    });
    this.filter.hidden = false;
    this.filter.addEventListener("input", () => this.applyFilter());
    this.filter.addEventListener("keydown", (event) => {
      if (event.key === "Enter") event.preventDefault(); // filtering, not submitting
    });
    this.showLotSize();
    this.update(false);
    this.form.dataset.ready = "true";
  }

  applyFilter() {
    const query = this.filter.value.trim().toUpperCase();
    let shown = 0;
    for (const box of this.boxes) {
      const label = box.closest("label");
      label.hidden = !box.checked && !label.dataset.symbol.includes(query);
      if (!label.hidden) shown += 1;
    }
    this.showCount(shown);
  }

  showCount(shown) {
    const chosen = this.chosen().length;
    const total = this.boxes.length;
    this.count.textContent = `${chosen} chosen` + (shown < total ? ` · ${shown} of ${total} shown.` : ".");
  }

  // moveDates: false on load, when the page shows what was chosen (or sent back with errors)
  // and nothing is changed behind the user's back, only what cannot run is greyed out.
  update(moveDates) {
    const symbols = this.chosen();
    this.narrowTimeframes(symbols, moveDates);
    this.narrowBenchmark(symbols, moveDates);
    this.labelRanges();
    this.applyFilter();
    const timeframe = this.el.timeframe.value;
    const range = symbols.length ? commonRange(this.availability, symbols, timeframe) : null;
    for (const [name, value] of [["start", range ? range[0] : ""], ["end", range ? range[1] : ""]]) {
      this.el[name].min = range ? range[0] : "";
      this.el[name].max = range ? range[1] : "";
      if (moveDates && range && !this.datesEdited) this.el[name].value = value;
    }
    this.hint.textContent = this.rangeText(symbols, range, timeframe);
  }

  rangeText(symbols, range, timeframe) {
    const label = this.el.timeframe.selectedOptions[0]?.textContent || timeframe;
    if (!symbols.length) return "Choose at least one instrument.";
    if (!timeframe || this.el.timeframe.selectedOptions[0]?.disabled) {
      return "These instruments share no timeframe: choose fewer.";
    }
    if (!range) return `These instruments have no ${label} bars in common.`;
    return `Data for all of them (${label}): ${range[0]} to ${range[1]}.`;
  }

  narrowTimeframes(symbols, move) {
    const offered = offeredTimeframes(this.availability, symbols);
    const select = this.el.timeframe;
    for (const option of select.options) {
      // A selected option stays enabled on load: a disabled one would not be submitted.
      option.disabled = !offered.has(option.value) && (move || !option.selected);
      option.hidden = option.disabled;
    }
    if (move && !offered.has(select.value)) {
      const preferred = offered.has("1d") ? "1d" : [...select.options].find((o) => !o.disabled)?.value;
      if (preferred) select.value = preferred;
    }
  }

  narrowBenchmark(symbols, move) {
    const select = this.el.benchmark;
    for (const option of select.options) {
      const unchosen = option.value !== "" && !symbols.includes(option.value);
      option.disabled = unchosen && (move || !option.selected);
      option.hidden = option.disabled;
    }
    if (move && select.value !== "" && !symbols.includes(select.value)) select.value = "";
  }

  labelRanges() {
    const timeframe = this.el.timeframe.value;
    for (const box of this.boxes) {
      const span = (this.availability[box.value] || {})[timeframe];
      const note = box.closest("label").querySelector(".instrument-range");
      note.textContent = span ? `${span[0]} – ${span[1]}` : `no ${timeframe} data`;
    }
  }

  showLotSize() {
    document.getElementById("row-lot_size").hidden = this.el.sizing.value !== "lots";
  }
}

setupStrategySearch();
const runForm = document.querySelector("form.backtest-form");
const availability = readJson("data-availability");
if (runForm && availability) new RunForm(runForm, availability).start();
