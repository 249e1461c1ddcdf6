"""The sweep pages in a real browser: the new form prefilled from declared bounds, and a
finished 90-combination sweep whose heatmap and stability lines hold exactly the rows the
server stored (the others held at the best point), with the DSR next to the best Sharpe, at
desktop and phone widths without horizontal scroll."""

from __future__ import annotations

from typing import Any

from backtesting.optimization.execution import optimization_chunk_execute
from backtesting.optimization.models import OptimizationResult
from backtesting.optimization.services import optimization_submit
from tests.backtesting.conftest import seed_bars
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory
from tests.optimization.conftest import run_all_chunks, sweep_input

pytestmark = BROWSER_MARKS

HELD = """() => {
  const c = window.tpCharts;
  return {
    cells: c.heatmap.cells,
    lines: Object.fromEntries(Object.entries(c.stability).map(([k, v]) => [k, v.points])),
    echartsCells: c.heatmap.chart.getOption().series[0].data.length,
  };
}"""


def _finished_sweep() -> Any:
    trader = TraderFactory(username="sam")
    seed_bars("AAA")
    version = StrategyFactory.create(owner=trader, name="Cross").versions.get()
    optimization = run_all_chunks(optimization_submit(owner=trader, data=sweep_input(version)))
    assert optimization.status == "succeeded" and optimization.total == 90
    return optimization


def test_the_sweep_page_draws_the_stored_rows_around_the_best_point(live_server, page) -> None:
    optimization = _finished_sweep()
    best = OptimizationResult.objects.get(optimization=optimization, index=optimization.best_index)
    rows = list(OptimizationResult.objects.filter(optimization=optimization, status="ok"))
    sign_in(page, live_server.url, "sam", DEFAULT_PASSWORD)

    page.goto(
        f"{live_server.url}/research/sweeps/new/?strategy={optimization.strategy_version.strategy_id}"
    )
    assert page.input_value("input[name=max_slow]") == "357"  # 5 + 8 steps of 44
    assert "grid points" in page.text_content("#sweep-count")
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "sweep-new-phone")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/research/sweeps/{optimization.pk}/")
    page.wait_for_selector("#sweep-heatmap[data-cells]")
    held = page.evaluate(HELD)
    # fast x slow with nothing else swept: every stored row is a cell.
    expected = {(r.parameters["fast"], r.parameters["slow"], r.objective) for r in rows}
    xs = sorted({r.parameters["fast"] for r in rows})
    ys = sorted({r.parameters["slow"] for r in rows})
    assert {(xs[x], ys[y], v) for x, y, v in held["cells"]} == expected
    assert held["echartsCells"] == len(expected) == 90
    # Stability: slow fixed at the best's, fast varies (and the other way round).
    along_fast = sorted(
        (r.parameters["fast"], r.objective)
        for r in rows
        if r.parameters["slow"] == best.parameters["slow"]
    )
    assert [tuple(p) for p in held["lines"]["fast"]] == along_fast
    assert "Deflated Sharpe (DSR)" in page.text_content(".sweep-best")
    assert page.locator(".sweep-top tbody tr").count() == 10
    page.select_option("#heatmap-x", "slow")  # the other select moves on to fast
    assert page.input_value("#heatmap-y") == "fast"
    screenshot(page, "sweep")

    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/research/sweeps/{optimization.pk}/")
    page.wait_for_selector("#sweep-heatmap[data-cells]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "sweep-phone")


def test_the_heatmap_fills_as_chunks_finish_and_the_page_settles_on_the_result(
    live_server, page
) -> None:
    trader = TraderFactory(username="liv")
    seed_bars("AAA")
    version = StrategyFactory.create(owner=trader, name="Live").versions.get()
    optimization = optimization_submit(owner=trader, data=sweep_input(version))
    chunks = list(optimization.chunks.order_by("number").values_list("pk", flat=True))
    first_size = len(optimization.chunks.get(pk=chunks[0]).combinations)
    assert 0 < first_size < 90  # the page must show a partial sweep
    sign_in(page, live_server.url, "liv", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/research/sweeps/{optimization.pk}/")
    assert page.text_content("[data-live=count]").strip() == "0 of 90 combinations"

    optimization_chunk_execute(chunk_id=chunks[0])  # as a worker would, meanwhile
    page.wait_for_selector(f"text={first_size} of 90 combinations")
    page.wait_for_selector(f"#sweep-heatmap[data-cells='{first_size}']")
    assert page.text_content("[data-live=status]").strip() == "Running"
    stored = OptimizationResult.objects.filter(optimization=optimization, objective__isnull=False)
    best = stored.order_by("-objective", "index")[0]
    assert f"fast {best.parameters['fast']} · slow {best.parameters['slow']}" in page.text_content(
        "[data-live=best]"
    )
    screenshot(page, "sweep-running")

    for chunk_id in chunks[1:]:
        optimization_chunk_execute(chunk_id=chunk_id)
    page.wait_for_selector("#sweep-dsr")  # the page reloads once the sweep is done
    assert page.text_content("[data-live=status]").strip() == "Succeeded"
    assert page.get_attribute("#sweep-heatmap", "data-cells") == "90"
