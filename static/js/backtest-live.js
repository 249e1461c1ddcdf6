// Live status of a queued or running backtest on its detail page, without reloading the page.
//
// Polls the JSON at #live-status[data-status-url] (backtesting:backtest-status): about once a
// second while the progress moves, backing off to 5 s while nothing changes and to 15 s after
// network errors; paused while the tab is hidden. The badge, <progress> and percentage follow.
// When the run finishes the page reloads once, so metrics, charts and trades (rendered by the
// server) appear. Without JavaScript the page's "refresh" link does the same by hand.

const FAST_MS = 1000;
const SLOW_MS = 5000;
const ERROR_MS = 15000;

function start(section) {
  const url = section.dataset.statusUrl;
  const badge = section.querySelector("[data-live=status]");
  const bar = section.querySelector("[data-live=progress]");
  const percent = section.querySelector("[data-live=percent]");
  const note = section.querySelector("[data-live=note]");
  const phase = section.querySelector("[data-live=phase]");
  let delay = FAST_MS;
  let last = "";
  let timer = null;
  let stopped = false;

  function show(data) {
    badge.textContent = data.status_label;
    badge.className = `badge badge-${data.status}`;
    bar.value = data.progress;
    const whole = Math.floor(data.progress * 100);
    bar.textContent = `${whole} %`;
    percent.textContent = `${whole} %`;
    if (phase && data.status === "running") phase.textContent = "Running.";
  }

  async function poll() {
    timer = null;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.status === 404 || response.status === 403) {
        // Deleted meanwhile, or the session ended: polling again cannot help.
        stopped = true;
        if (note) note.textContent = "This backtest is no longer available; reload the page.";
        return;
      }
      if (!response.ok) throw new Error(`status ${response.status}`);
      const data = await response.json();
      show(data);
      if (data.finished) {
        stopped = true;
        if (note) note.textContent = `${data.status_label}. Loading the results…`;
        window.location.reload();
        return;
      }
      const seen = `${data.status}:${data.progress}`;
      delay = seen === last ? Math.min(delay * 1.5, SLOW_MS) : FAST_MS;
      last = seen;
    } catch (error) {
      // A dropped connection or a restarting server: keep trying, less often.
      delay = Math.min(Math.max(delay * 2, SLOW_MS), ERROR_MS);
    }
    schedule();
  }

  function schedule() {
    if (!stopped && !document.hidden && timer === null) timer = window.setTimeout(poll, delay);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden && timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    } else {
      delay = FAST_MS;
      schedule();
    }
  });
  schedule();
}

const section = document.getElementById("live-status");
if (section && section.dataset.finished === "false" && section.dataset.statusUrl) start(section);
