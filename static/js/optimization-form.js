// The new-sweep form: shows the fields of the chosen search (samples and seed for random and
// TPE, the batch size for TPE) and counts the grid's combinations before the constraints.
function axisLength(row) {
  const read = (key) => Number(row.querySelector(`[name=${key}_${row.dataset.param}]`)?.value);
  const [low, high, step] = [read("min"), read("max"), read("step")];
  if (!(step > 0) || !(high >= low)) return 0;
  return Math.floor((high - low) / step + 1e-9) + 1;
}

function update(form) {
  const kind = form.querySelector("#sweep-kind").value;
  for (const label of form.querySelectorAll("[data-kinds]")) {
    label.hidden = !label.dataset.kinds.split(" ").includes(kind);
  }
  const swept = [...form.querySelectorAll("tr[data-param]")].filter(
    (row) => row.querySelector("input[type=checkbox]")?.checked,
  );
  const count = form.querySelector("#sweep-count");
  if (kind !== "grid") {
    count.textContent = "";
  } else {
    const n = swept.reduce((total, row) => total * axisLength(row), swept.length ? 1 : 0);
    count.textContent = `${n.toLocaleString()} grid points before the constraints.`;
  }
}

const form = document.getElementById("sweep-form");
if (form) {
  form.addEventListener("input", () => update(form));
  form.addEventListener("change", () => update(form));
  update(form);
}
