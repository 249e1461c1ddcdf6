// The header's menu button on narrow screens (templates/base.html). Without this module the
// links wrap under the brand; with it they fold behind one button that says whether it is open.
const NARROW = window.matchMedia("(max-width: 720px)");

function setUp(header) {
  const button = header.querySelector(".site-menu-button");
  const nav = header.querySelector(".site-nav");
  if (!button || !nav) return;

  const setOpen = (open) => {
    button.setAttribute("aria-expanded", String(open));
    header.classList.toggle("menu-open", open);
  };

  button.hidden = false;
  header.classList.add("menu-ready");
  setOpen(false);

  button.addEventListener("click", () => {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  header.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && header.classList.contains("menu-open")) {
      setOpen(false);
      button.focus();
    }
  });
  // Clicking elsewhere closes an open menu, as people expect of a drop-down.
  document.addEventListener("click", (event) => {
    if (header.classList.contains("menu-open") && !header.contains(event.target)) setOpen(false);
  });
  // Widening the window past the breakpoint shows the links inline again: reset the state.
  NARROW.addEventListener("change", () => setOpen(false));
}

const header = document.querySelector(".site-header");
if (header) setUp(header);
