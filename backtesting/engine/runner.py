"""``run_backtest``: drive a strategy over aligned bars through the broker.

Per bar ``i`` the loop (1) fills pending orders on bar i, (2) applies close-of-bar risk,
(3) calls the strategy, whose orders become eligible from bar i + 1, (4) records cash.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from backtesting.engine.bars import AlignedBars, BarSeries, align_bars
from backtesting.engine.broker import Broker
from backtesting.engine.errors import EngineError, StrategyError
from backtesting.engine.plotted import plotted_indicators
from backtesting.engine.result import BacktestResult, assemble, assemble_ledger
from backtesting.engine.spec import BacktestSpec
from backtesting.engine.strategy import (
    PHASE_INIT,
    Data,
    Strategy,
    check_instance_names,
    check_strategy_class,
)
from backtesting.engine.vectorized import (
    SignalDriver,
    run_signals_arrays,
    run_signals_fast,
    signal_targets,
    zero_nans,
)
from backtesting.engine.views import Clock

Progress = Callable[[float], Any] | None
PROGRESS_STEPS = 100
MAX_MESSAGE_CHARS = 2000
ENGINE_DIR = str(Path(__file__).parent)


def run_backtest(
    spec: BacktestSpec | dict[str, Any],
    bars: dict[str, BarSeries],
    strategy: type[Strategy],
    progress: Progress = None,
    *,
    full_statistics: bool = True,
) -> BacktestResult:
    """Run ``strategy`` over ``bars`` under ``spec``.

    ``full_statistics=False`` leaves metrics.DETAIL_STATISTICS out of the result's statistics
    and the plotted indicators out of the result (a parameter sweep keeps only headline
    metrics); every other value is the same.

    Returns a frozen BacktestResult. Raises StrategyError when the user's code is at fault,
    EngineError on inconsistent input or an engine bug; an exception raised by ``progress``
    propagates unchanged (that is how a caller cancels a run).
    """
    spec = spec if isinstance(spec, BacktestSpec) else BacktestSpec.from_dict(spec)
    if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
        raise EngineError("strategy must be a Strategy subclass")
    check_strategy_class(strategy)  # again: attributes may have been set after the class body
    aligned = align_bars(bars)
    if spec.benchmark is not None and spec.benchmark not in aligned.symbols:
        raise EngineError(f"benchmark {spec.benchmark!r} is not among the bars")
    broker = Broker(spec, aligned)
    clock = broker.clock  # one cursor for the broker and the strategy's views
    code_files = _user_files(strategy)
    user = _instantiate(strategy, code_files)
    with _user_errors(code_files):
        user._bind(broker, _datas(aligned, clock), clock, spec.params)
    if _overrides(strategy, "signals"):
        result = _run_signals(spec, aligned, broker, user, code_files, progress, full_statistics)
        return _with_indicators(result, user, aligned) if full_statistics else result
    with _user_errors(code_files):
        user._phase = PHASE_INIT
        user.init()
    check_instance_names(user, "init()")
    start, eval_start = _start_bars(spec, user._indicator_arrays, aligned.n_bars)
    user._go_live()
    _run_loop(broker, user.next, start, aligned.n_bars, code_files, progress)
    broker.finish_run()
    result = assemble(spec, aligned, broker, "event", start, eval_start, full_statistics)
    return _with_indicators(result, user, aligned) if full_statistics else result


def _with_indicators(
    result: BacktestResult, user: Strategy, aligned: AlignedBars
) -> BacktestResult:
    """The result with the strategy's plotted indicators, read after the run has ended.

    Only now is the instance's __dict__ read for the attribute names (``vars`` during the
    run would slow every ``self.x`` in ``next()``); nothing here feeds back into the run.
    """
    attributes = getattr(user, "__dict__", None)
    plotted = plotted_indicators(
        user._indicator_sources,
        attributes if isinstance(attributes, dict) else {},
        aligned.symbols,
        aligned.timestamps,
    )
    return dataclasses.replace(result, indicators=plotted)


def _run_signals(
    spec: BacktestSpec,
    aligned: AlignedBars,
    broker: Broker,
    user: Strategy,
    code_files: frozenset[str],
    progress: Progress,
    full_statistics: bool,
) -> BacktestResult:
    with _user_errors(code_files):
        raw = user.signals(user.data)  # type: ignore[attr-defined]
    check_instance_names(user, "signals()")
    with _user_errors(code_files):  # user objects inside what signals() returned run too
        targets = signal_targets(raw, aligned, spec)
    start, eval_start = _start_bars(spec, [*user._indicator_arrays, *targets], aligned.n_bars)
    driver = SignalDriver(broker, zero_nans(targets), start)
    ledger = (
        run_signals_arrays(spec, aligned, driver) if driver.array_path_ok(spec, aligned) else None
    )
    if ledger is not None:
        if progress is not None:
            progress(1.0)
        return assemble_ledger(
            spec, aligned, ledger, "vectorized", start, eval_start, full_statistics
        )
    if driver.fast_path_ok(spec, aligned):
        run_signals_fast(broker, driver, aligned.n_bars, progress)
    else:
        _run_loop(broker, driver.step, start, aligned.n_bars, code_files, progress)
    broker.finish_run()
    return assemble(spec, aligned, broker, "vectorized", start, eval_start, full_statistics)


def _run_loop(
    broker: Broker,
    on_bar: Callable[[], Any],
    start: int,
    n: int,
    code_files: frozenset[str],
    progress: Progress,
) -> None:
    """The shared bar loop, run in chunks so ``progress`` is called outside the error guard."""
    # Without a progress callback one chunk: the chunks' guards and calls cost a short run
    # as much as a hundred bars, and the bars run in the same order either way.
    chunk = max(1, -(-n // PROGRESS_STEPS)) if progress is not None else max(1, n)
    same_close = broker.spec.fill_mode == "same_close"
    # Without close-of-bar risk (shorts, leverage) and same-close fills the broker has work
    # only on bars with pending orders: the lean loop below.
    run = _run_bars if same_close or broker.risk_checks else _run_bars_lean
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        with _user_errors(code_files):
            _warm_up(broker, lo, min(hi, start))
            run(broker, on_bar, max(lo, start), hi, same_close)
        if progress is not None:
            progress(hi / n)


def _warm_up(broker: Broker, lo: int, hi: int) -> None:
    """Bars before the strategy is called: fills and close-of-bar risk only."""
    clock = broker.clock
    for i in range(lo, hi):
        clock.i = i
        if broker.pending or broker.risk_checks or broker.trailing:
            if broker.pending:
                broker.process_bar(i)
            if broker.risk_checks or broker.trailing:
                broker.close_bar(i)
            broker.record_cash(i)


def _run_bars_lean(
    broker: Broker, on_bar: Callable[[], Any], lo: int, hi: int, same_close: bool
) -> None:
    # The hottest loop of the engine, for long-only runs without leverage filling at the next
    # open: locals only, no allocation per bar, one store to advance the shared clock, and the
    # broker entered only on bars with pending orders. A trailing stop's trade always has its
    # pending stop order, so "no pending orders" also means "no trailing level to move". Cash
    # moves only inside these broker calls (next() can place or cancel orders but never fill
    # them), so the cash ledger is consulted only on bars where they ran.
    clock, pending = broker.clock, broker.pending  # the broker keeps this list object
    process, close_bar, record = broker.process_bar, broker.close_bar, broker.record_cash
    for i in range(lo, hi):
        clock.i = i
        if pending:
            process(i)
            if broker.trailing:
                close_bar(i)
            record(i)
        on_bar()


def _run_bars(
    broker: Broker, on_bar: Callable[[], Any], lo: int, hi: int, same_close: bool
) -> None:
    # The general loop: close-of-bar risk (borrow, maintenance margin) on every bar, and the
    # labelled same-close mode filling market orders at the close they were placed on.
    clock = broker.clock
    process, close_bar, record = broker.process_bar, broker.close_bar, broker.record_cash
    fill_at_close = broker.fill_market_at_close
    risk = broker.risk_checks
    for i in range(lo, hi):
        clock.i = i
        busy = False
        if broker.pending:
            process(i)
            busy = True
        if risk or broker.trailing:
            close_bar(i)
            busy = True
        on_bar()
        if same_close:
            fill_at_close(i)
            busy = True
        if busy:
            record(i)


def _start_bars(spec: BacktestSpec, arrays: list[np.ndarray], n: int) -> tuple[int, int]:
    """First bar of ``next`` (every indicator defined) and first bar of the evaluation window."""
    start = 0
    for arr in arrays:
        # The first False of isnan is the first defined value; argmin finds it in one pass
        # (0 when every value is NaN, which the check of that position tells apart).
        nan = np.isnan(arr)
        first = int(nan.argmin())
        start = max(start, n if nan[first] else first)
    if spec.warmup_bars is not None:
        start = max(start, spec.warmup_bars)
    eval_start = spec.warmup_bars if spec.warmup_bars is not None else start
    if start >= n or eval_start >= n:
        raise StrategyError(
            f"not enough bars: warm-up needs {max(start, eval_start) + 1} bars, the data has {n}"
        )
    return start, eval_start


def _datas(aligned: AlignedBars, clock: Clock) -> dict[str, Data]:
    out = {}
    for s, sym in enumerate(aligned.symbols):
        arrays = {
            "open": aligned.open[s],
            "high": aligned.high[s],
            "low": aligned.low[s],
            "close": aligned.close[s],
            "volume": aligned.volume[s],
            "time": aligned.timestamps,
        }
        out[sym] = Data(sym, arrays, clock)
    return out


def _overrides(cls: type, name: str) -> bool:
    return getattr(cls, name, None) is not getattr(Strategy, name, None)


def _instantiate(cls: type[Strategy], files: frozenset[str]) -> Strategy:
    try:
        return cls()
    except Exception as exc:
        raise StrategyError(
            f"could not create the strategy: {_user_message(exc)}", _user_lines(exc, files)
        ) from exc


def _user_files(cls: type) -> frozenset[str]:
    """Source files of the user's strategy class (frames from them are the user's traceback)."""
    files = set()
    for klass in cls.__mro__:
        if klass is Strategy or klass is object:
            continue
        for attr in vars(klass).values():
            code = getattr(attr, "__code__", None)
            if code is not None:
                files.add(code.co_filename)
    return frozenset(files)


def _user_lines(exc: BaseException, files: frozenset[str] | None) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)
    keep = [f for f in frames if files is None or f.filename in files]
    return traceback.format_list(keep)


def _user_message(exc: BaseException) -> str:
    """``Type: text`` of an exception raised through the user's code, kept short."""
    try:
        text = str(exc)
    except Exception:  # whatever a broken __str__ raises, the type still names the error
        text = ""
    name = type(exc).__name__
    text = text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"
    return f"{name}: {text}" if text else name


def _internal_message(exc: BaseException) -> str:
    """Names our failing line, never the exception's text (it may quote user values)."""
    every = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in every if f.filename.startswith(ENGINE_DIR)]
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"internal error: {type(exc).__name__}{where}"


class _user_errors:
    """Turn exceptions raised through the user's code into StrategyError; others are ours."""

    __slots__ = ("files",)

    def __init__(self, files: frozenset[str]) -> None:
        self.files = files

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, StrategyError | EngineError):
            return False
        if not isinstance(exc, Exception):
            return False  # KeyboardInterrupt, SystemExit: never swallow
        lines = _user_lines(exc, self.files)
        if lines:
            raise StrategyError(_user_message(exc), lines) from exc
        # No frame of the user's code: everything the user returned or set was checked where
        # the engine took it (StrategyError), so what is left is ours.
        raise EngineError(_internal_message(exc)) from exc
