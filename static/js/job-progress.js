// Live progress of a queued or running research job on its page: polls the status JSON named
// by the status element's data-status-url every second, shows the status and the progress bar
// in place (elements marked data-live="status" and data-live="progress"), lets the page show
// what is its own (`onUpdate(data, show)`), and reloads the page once when the job finished.
const POLL_MS = 1000;

export function followJobProgress(status, onUpdate = () => {}) {
  const show = (name, value) => {
    const element = status.querySelector(`[data-live="${name}"]`);
    if (element) element.textContent = value;
  };
  const poll = async () => {
    try {
      const response = await fetch(status.dataset.statusUrl, { credentials: "same-origin" });
      if (response.status === 404) {
        show("status", "Deleted");
        return;
      }
      if (response.ok) {
        const data = await response.json();
        if (data.finished) {
          window.location.reload();
          return;
        }
        show("status", data.status);
        const bar = status.querySelector('[data-live="progress"]');
        if (bar) bar.value = data.progress;
        onUpdate(data, show);
      }
    } catch {
      // A blip in the network: the next poll tries again.
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}
