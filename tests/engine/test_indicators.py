"""Indicators: hand-computed values on tiny arrays, argument validation, causality."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtesting.engine import indicators as ta
from backtesting.engine.views import NO_PARTNER, Clock, SeriesView

NAN = np.nan
HOUR = 3600 * 10**9
DAY = 24 * HOUR
MON_2024_01_01 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z, a Monday


def approx(values: list[float]) -> object:
    return pytest.approx(np.array(values, dtype=float), rel=1e-12, abs=1e-12, nan_ok=True)


# --------------------------------------------------------------------------- moving averages


def test_sma_averages_the_trailing_window() -> None:
    # (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+5)/3 = 4
    assert ta.sma([1, 2, 3, 4, 5], 3) == approx([NAN, NAN, 2, 3, 4])


def test_sma_skips_leading_nans_and_blanks_windows_containing_a_nan() -> None:
    x = [NAN, 1, 3, 5, NAN, 7, 9]
    # windows: (1,3)=2, (3,5)=4, (5,nan), (nan,7), (7,9)=8
    assert ta.sma(x, 2) == approx([NAN, NAN, 2, 4, NAN, NAN, 8])


def test_sma_stays_exact_on_large_prices() -> None:
    x = 1e6 + np.arange(10_000, dtype=float)
    out = ta.sma(x, 4)
    # mean of (k-3, k-2, k-1, k) offsets = k - 1.5
    np.testing.assert_allclose(out[3:], 1e6 + np.arange(3, 10_000) - 1.5, rtol=0, atol=1e-6)


def test_wma_weights_newest_value_most() -> None:
    # weights 1,2,3 (sum 6): (1*1+2*2+3*3)/6 = 14/6, (1*2+2*3+3*4)/6 = 20/6
    assert ta.wma([1, 2, 3, 4], 3) == approx([NAN, NAN, 14 / 6, 20 / 6])


def test_ema_is_seeded_with_the_sma_of_the_first_period_values() -> None:
    # period 3 -> alpha = 2/4 = 0.5; seed = (2+4+6)/3 = 4
    # i=3: 0.5*8 + 0.5*4 = 6; i=4: 0.5*12 + 0.5*6 = 9
    assert ta.ema([2, 4, 6, 8, 12], 3) == approx([NAN, NAN, 4, 6, 9])


def test_rma_uses_wilder_alpha_one_over_period() -> None:
    # period 2 -> alpha 0.5; seed (1+3)/2 = 2; 0.5*5+0.5*2 = 3.5; 0.5*7+0.5*3.5 = 5.25
    assert ta.rma([1, 3, 5, 7], 2) == approx([NAN, 2, 3.5, 5.25])


def test_ema_of_period_one_is_the_input() -> None:
    assert ta.ema([3, 1, 4, 1, 5], 1) == approx([3, 1, 4, 1, 5])


def _ema_reference(x: np.ndarray, period: int, alpha: float) -> np.ndarray:
    out = np.full(len(x), np.nan)
    out[period - 1] = x[:period].mean()
    for i in range(period, len(x)):
        out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out


@pytest.mark.parametrize("period", [2, 3, 14, 50, 400])
def test_block_ema_matches_the_textbook_loop(period: int) -> None:
    x = 100 + np.cumsum(np.random.default_rng(period).normal(size=3_000))
    expected = _ema_reference(x, period, 2 / (period + 1))
    np.testing.assert_allclose(ta.ema(x, period), expected, rtol=1e-10, equal_nan=True)


def test_ema_rejects_a_gap_after_warm_up() -> None:
    with pytest.raises(ValueError, match="non-finite value at index 2"):
        ta.ema([1, 2, NAN, 4], 2)


# --------------------------------------------------------------------------- oscillators


def test_rsi_by_hand() -> None:
    # changes: -, +1, -1, +2, +1; period 2 seeds at i=2: gain (1+0)/2=.5, loss (0+1)/2=.5 -> 50
    # i=3: gain .5*2+.5*.5=1.25, loss .5*0+.5*.5=.25 -> 100*1.25/1.5 = 83.33...
    # i=4: gain .5*1+.5*1.25=1.125, loss .125 -> 100*1.125/1.25 = 90
    assert ta.rsi([1, 2, 1, 3, 4], 2) == approx([NAN, NAN, 50, 100 * 1.25 / 1.5, 90])


def test_rsi_is_100_without_losses_and_50_without_moves() -> None:
    assert ta.rsi([1, 2, 3, 4], 2)[2:] == approx([100, 100])
    assert ta.rsi([5, 5, 5, 5], 2)[2:] == approx([50, 50])


def test_macd_by_hand() -> None:
    close = [1, 2, 4, 8, 16]
    # EMA2 (alpha 2/3): seed 1.5, then 2/3*4+1/3*1.5, then 2/3*8+1/3*prev, ...
    e2_2 = 2 / 3 * 4 + 1.5 / 3
    e2_3 = 2 / 3 * 8 + e2_2 / 3
    e2_4 = 2 / 3 * 16 + e2_3 / 3
    # EMA3 (alpha 1/2): seed 7/3, then 4 + 7/6, then 8 + prev/2
    e3_2 = 7 / 3
    e3_3 = 0.5 * 8 + 0.5 * e3_2
    e3_4 = 0.5 * 16 + 0.5 * e3_3
    line = [e2_2 - e3_2, e2_3 - e3_3, e2_4 - e3_4]
    # signal EMA2 of the line: seed mean(line[0], line[1]) at i=3
    sig_3 = (line[0] + line[1]) / 2
    sig_4 = 2 / 3 * line[2] + sig_3 / 3
    m, s, h = ta.macd(close, fast=2, slow=3, signal=2)
    assert m == approx([NAN, NAN, *line])
    assert s == approx([NAN, NAN, NAN, sig_3, sig_4])
    assert h == approx([NAN, NAN, NAN, line[1] - sig_3, line[2] - sig_4])


def test_stochastic_by_hand() -> None:
    high, low, close = [3, 4, 5, 6], [1, 2, 3, 2], [2, 4, 4, 3]
    k, d = ta.stochastic(high, low, close, k_period=3, d_period=2)
    # i=2: HH 5, LL 1 -> 100*(4-1)/4 = 75; i=3: HH 6, LL 2 -> 100*(3-2)/4 = 25; %D = (75+25)/2
    assert k == approx([NAN, NAN, 75, 25])
    assert d == approx([NAN, NAN, NAN, 50])


def test_stochastic_is_50_on_a_zero_range() -> None:
    k, _ = ta.stochastic([2, 2], [2, 2], [2, 2], k_period=2, d_period=1)
    assert k == approx([NAN, 50])


# --------------------------------------------------------------------------- volatility / trend


def test_bollinger_uses_population_std() -> None:
    upper, middle, lower = ta.bollinger([1, 2, 3, 4, 5], period=3, k=2)
    # each window is (m-1, m, m+1): population std = sqrt(2/3)
    width = 2 * np.sqrt(2 / 3)
    assert middle == approx([NAN, NAN, 2, 3, 4])
    assert upper == approx([NAN, NAN, 2 + width, 3 + width, 4 + width])
    assert lower == approx([NAN, NAN, 2 - width, 3 - width, 4 - width])


def test_zscore_by_hand() -> None:
    # i=2: (3-2)/sqrt(2/3); i=4: window (3,4,9), mean 16/3, var (49/9+16/9+121/9)/3 = 186/27
    expected_4 = (9 - 16 / 3) / np.sqrt(186 / 27)
    out = ta.zscore([1, 2, 3, 4, 9], 3)
    assert out == approx([NAN, NAN, 1 / np.sqrt(2 / 3), 1 / np.sqrt(2 / 3), expected_4])


def test_zscore_is_zero_on_a_constant_window() -> None:
    assert ta.zscore([4, 4, 4], 2) == approx([NAN, 0, 0])


HIGH = [10.0, 12, 11, 13, 12]
LOW = [8.0, 9, 7, 10, 8]
CLOSE = [9.0, 11, 8, 12, 9]


def test_true_range_by_hand() -> None:
    # 0: 10-8=2; 1: max(3, |12-9|, |9-9|)=3; 2: max(4, |11-11|, |7-11|)=4
    # 3: max(3, |13-8|, |10-8|)=5; 4: max(4, |12-12|, |8-12|)=4
    assert ta.true_range(HIGH, LOW, CLOSE) == approx([2, 3, 4, 5, 4])


def test_atr_by_hand() -> None:
    # seed (2+3)/2 = 2.5; (2.5+4)/2 = 3.25; (3.25+5)/2 = 4.125; (4.125+4)/2 = 4.0625
    assert ta.atr(HIGH, LOW, CLOSE, 2) == approx([NAN, 2.5, 3.25, 4.125, 4.0625])


def test_directional_indicators_and_adx_by_hand() -> None:
    # up = h-h[-1]: 2,-1,2,-1   down = l[-1]-l: -1,2,-3,2   -> +DM 2,0,2,0   -DM 0,2,0,2
    # TR from bar 1: 3,4,5,4 -> RMA2: 3.5, 4.25, 4.125
    # +DM RMA2: 1, 1.5, .75   -DM RMA2: 1, .5, 1.25
    plus, minus = ta.directional_indicators(HIGH, LOW, CLOSE, 2)
    assert plus == approx([NAN, NAN, 100 / 3.5, 150 / 4.25, 75 / 4.125])
    assert minus == approx([NAN, NAN, 100 / 3.5, 50 / 4.25, 125 / 4.125])
    # DX = 100*|+DM-(-DM)|/(+DM+-DM) (TR cancels): 0, 100*1/2 = 50, 100*.5/2 = 25
    # ADX RMA2: seed (0+50)/2 = 25 at i=3 (= 2*period-1); (25+25)/2 = 25
    assert ta.adx(HIGH, LOW, CLOSE, 2) == approx([NAN, NAN, NAN, 25, 25])


def test_donchian_includes_the_current_bar() -> None:
    upper, lower, middle = ta.donchian([1, 3, 2], [0, 1, 1], 2)
    assert upper == approx([NAN, 3, 3])
    assert lower == approx([NAN, 0, 1])
    assert middle == approx([NAN, 1.5, 2])


def test_vwap_cumulative_and_rolling() -> None:
    price, volume = [10.0, 20, 30], [1.0, 2, 1]
    # cumulative: 10; (10+40)/3; (10+40+30)/4 = 20.   rolling 2: (10+40)/3; (40+30)/3
    assert ta.vwap(price, price, price, volume) == approx([10, 50 / 3, 20])
    assert ta.vwap(price, price, price, volume, period=2) == approx([NAN, 50 / 3, 70 / 3])


def test_vwap_uses_the_typical_price_and_is_nan_without_volume() -> None:
    # typical = (12+8+10)/3 = 10
    assert ta.vwap([12, 12], [8, 8], [10, 10], [0, 5]) == approx([NAN, 10])


# --------------------------------------------------------------------------- crosses


def test_crossover_needs_at_or_below_then_strictly_above() -> None:
    a = [1.0, 2, 3, 1, 2, 3]
    b = [2.0, 2, 2, 2, 2, 2]
    # over: i=2 (2<=2, 3>2) and i=5 (2<=2, 3>2); touching from below (i=1, i=4) is not a cross
    # under: i=3 (3>=2, 1<2)
    assert ta.crossover(a, b).tolist() == [False, False, True, False, False, True]
    assert ta.crossunder(a, b).tolist() == [False, False, False, True, False, False]


def test_crossover_accepts_a_scalar_level_and_ignores_nan() -> None:
    assert ta.crossover([NAN, 40, 20, 35], 30).tolist() == [False, False, False, True]
    assert ta.crossunder([NAN, 40, 20, 35], 30).tolist() == [False, False, True, False]


def test_crossover_on_progressive_views_answers_for_the_current_bar() -> None:
    clock = Clock()
    fast = SeriesView(np.array([1.0, 3, 1]), clock)
    slow = SeriesView(np.array([2.0, 2, 2]), clock)
    answers = []
    for i in range(3):
        clock.i = i
        answers.append((ta.crossover(fast, slow), ta.crossunder(fast, 2.0)))
    assert answers == [(False, False), (True, False), (False, True)]


def test_crossover_on_read_only_views_matches_the_bar_by_bar_answer() -> None:
    # Read-only views get every bar's answer computed once; writeable ones are read per bar.
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=200).round(1), rng.normal(size=200).round(1)
    a[[3, 50]] = NAN
    b[[4, 51]] = NAN
    ro_a, ro_b = a.copy(), b.copy()
    ro_a.flags.writeable = ro_b.flags.writeable = False
    clock = Clock()
    memo_a, memo_b = SeriesView(ro_a, clock), SeriesView(ro_b, clock)
    live_a, live_b = SeriesView(a, clock), SeriesView(b, clock)
    for i in range(-1, 200):
        clock.i = i
        assert ta.crossover(memo_a, memo_b) is ta.crossover(live_a, live_b)
        assert ta.crossunder(memo_a, memo_b) is ta.crossunder(live_a, live_b)
    assert memo_a._up_with is memo_b and memo_a._down_with is memo_b
    assert live_a._up_with is NO_PARTNER and live_a._down_with is NO_PARTNER


# --------------------------------------------------------------------------- resampling


def _ohlcv(n: int) -> tuple[np.ndarray, ...]:
    base = np.arange(1, n + 1, dtype=float)
    return base, base + 0.5, base - 0.5, base + 0.25, np.ones(n)


def test_resample_by_factor_drops_nothing_but_hides_the_partial_tail() -> None:
    o, h, lo, c, v = _ohlcv(5)
    r = ta.resample_ohlc(np.arange(5) * HOUR, o, h, lo, c, v, 2)
    assert r.open.tolist() == [1, 3, 5]
    assert r.high.tolist() == [2.5, 4.5, 5.5]
    assert r.low.tolist() == [0.5, 2.5, 4.5]
    assert r.close.tolist() == [2.25, 4.25, 5.25]
    assert r.volume.tolist() == [2, 2, 1]
    # bar 0-1 is known at bar 1, bar 2-3 at bar 3; the one-bar tail never completes
    assert r.available_index.tolist() == [1, 3, 5]
    assert ta.align_to_base(r.close, r) == approx([NAN, 2.25, 2.25, 4.25, 4.25])


def test_daily_bar_from_session_hours_appears_on_the_next_days_first_bar() -> None:
    # 09:00, 10:00, 11:00 on two days: an 11:00 bar ends at noon, before the day ends, so the
    # day is only known to be over when the next day's first bar arrives.
    ts = np.array([9, 10, 11, 33, 34, 35]) * HOUR + MON_2024_01_01
    o, h, lo, c, v = _ohlcv(6)
    r = ta.resample_ohlc(ts, o, h, lo, c, v, "D")
    assert r.close.tolist() == [3.25, 6.25]
    assert r.available_index.tolist() == [3, 6]
    assert ta.align_to_base(r.close, r) == approx([NAN, NAN, NAN, 3.25, 3.25, 3.25])


def test_daily_bar_is_visible_on_its_last_bar_when_that_bar_spans_midnight() -> None:
    ts = np.array([0, 8, 16, 24, 32, 40]) * HOUR + MON_2024_01_01  # 8-hour bars
    o, h, lo, c, v = _ohlcv(6)
    r = ta.resample_ohlc(ts, o, h, lo, c, v, "D")
    assert r.available_index.tolist() == [2, 5]
    assert ta.align_to_base(r.close, r) == approx([NAN, NAN, 3.25, 3.25, 3.25, 6.25])


def test_a_new_york_day_ends_at_new_york_midnight_not_at_utc_midnight() -> None:
    # Hourly bars 20:00 UTC 2 Jan .. 05:00 UTC 3 Jan; New York (UTC-5) is still on 2 Jan until
    # the 05:00 UTC bar, so that day is finished at the close of the 04:00 UTC bar (index 8).
    ts = MON_2024_01_01 + DAY + np.arange(20, 30) * HOUR
    o, h, lo, c, v = _ohlcv(10)
    ny = ta.resample_ohlc(ts, o, h, lo, c, v, "D", tz="America/New_York")
    assert ny.first_index.tolist() == [0, 9]
    assert ny.available_index.tolist() == [8, 10]
    assert ny.labels.tolist() == [MON_2024_01_01 + DAY, MON_2024_01_01 + 2 * DAY]
    assert ny.volume.tolist() == [9, 1]
    utc = ta.resample_ohlc(ts, o, h, lo, c, v, "D")
    assert utc.first_index.tolist() == [0, 4]
    assert utc.available_index.tolist() == [3, 10]


def test_an_unknown_time_zone_is_bad_input() -> None:
    o, h, lo, c, v = _ohlcv(3)
    with pytest.raises(ValueError, match="unknown time zone"):
        ta.resample_ohlc(np.arange(3) * HOUR, o, h, lo, c, v, "D", tz="Mars/Olympus_Mons")


def test_weekly_and_monthly_rules_follow_the_calendar() -> None:
    # Sun 2023-12-31, Mon 2024-01-01, Wed 01-31, Thu 02-01
    ts = MON_2024_01_01 + np.array([-1, 0, 30, 31]) * DAY
    o, h, lo, c, v = _ohlcv(4)
    weekly = ta.resample_ohlc(ts, o, h, lo, c, v, "W")
    assert weekly.first_index.tolist() == [0, 1, 2]  # weeks start on Monday
    monthly = ta.resample_ohlc(ts, o, h, lo, c, v, "M")
    assert monthly.first_index.tolist() == [0, 1, 3]
    assert monthly.close.tolist() == [1.25, 3.25, 4.25]


def test_resample_rejects_unknown_rules_and_unsorted_time() -> None:
    o, h, lo, c, v = _ohlcv(3)
    with pytest.raises(ValueError, match="unknown resample rule"):
        ta.resample_ohlc(np.arange(3), o, h, lo, c, v, "fortnight")
    with pytest.raises(ValueError, match="strictly increasing"):
        ta.resample_ohlc(np.array([0, 2, 1]), o, h, lo, c, v, 2)


def test_align_to_base_rejects_a_length_mismatch() -> None:
    o, h, lo, c, v = _ohlcv(4)
    r = ta.resample_ohlc(np.arange(4), o, h, lo, c, v, 2)
    with pytest.raises(ValueError, match="higher-timeframe bars"):
        ta.align_to_base([1.0], r)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("period", [0, -3, 2.5, True, "3"])
def test_periods_must_be_positive_integers(period: object) -> None:
    with pytest.raises(ValueError, match="period"):
        ta.sma([1.0, 2.0], period)  # type: ignore[arg-type]


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="same length"):
        ta.atr([1.0, 2.0], [0.5], [1.0, 2.0], 1)
    with pytest.raises(ValueError, match="same length"):
        ta.crossover([1.0, 2.0], [1.0])


def test_two_dimensional_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="1-D"):
        ta.ema(np.ones((2, 2)), 2)


def test_macd_needs_fast_below_slow() -> None:
    with pytest.raises(ValueError, match="fast"):
        ta.macd([1.0] * 40, fast=26, slow=12)


def test_short_input_is_all_warm_up() -> None:
    for out in (ta.sma([1.0], 3), ta.ema([1.0], 3), ta.rsi([1.0, 2.0], 3), ta.wma([], 2)):
        assert np.isnan(out).all()


# --------------------------------------------------------------------------- causality


def _ohlc_from(close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spread = 0.01 * close + np.abs(np.sin(close))
    return close + spread, close - spread, close


def _resampled_close(c: np.ndarray) -> np.ndarray:
    h, lo, _ = _ohlc_from(c)
    r = ta.resample_ohlc(np.arange(len(c)) * HOUR, c, h, lo, c, np.ones(len(c)), "4h")
    return ta.align_to_base(ta.sma(r.close, 2), r)


SINGLE: dict[str, Callable[[np.ndarray], object]] = {
    "sma": lambda c: ta.sma(c, 5),
    "ema": lambda c: ta.ema(c, 5),
    "wma": lambda c: ta.wma(c, 4),
    "rsi": lambda c: ta.rsi(c, 5),
    "macd": lambda c: ta.macd(c, 3, 6, 3),
    "bollinger": lambda c: ta.bollinger(c, 5),
    "zscore": lambda c: ta.zscore(c, 5),
    "atr": lambda c: ta.atr(*_ohlc_from(c), 4),
    "adx": lambda c: ta.adx(*_ohlc_from(c), 3),
    "stochastic": lambda c: ta.stochastic(*_ohlc_from(c), 4, 2, 2),
    "donchian": lambda c: ta.donchian(*_ohlc_from(c)[:2], 4),
    "vwap": lambda c: ta.vwap(*_ohlc_from(c), np.abs(np.cos(c)) + 1),
    "vwap_rolling": lambda c: ta.vwap(*_ohlc_from(c), np.abs(np.cos(c)) + 1, 3),
    "crossover": lambda c: ta.crossover(c, ta.sma(c, 3)),
    "resampled": _resampled_close,
}

prices = st.lists(st.floats(1.0, 1_000.0), min_size=2, max_size=60)


@pytest.mark.parametrize("name", sorted(SINGLE))
@settings(max_examples=40, deadline=None)
@given(data=prices, tail=prices, cut=st.integers(0, 59))
def test_outputs_up_to_i_ignore_data_after_i(
    name: str, data: list[float], tail: list[float], cut: int
) -> None:
    original = np.array(data)
    i = min(cut, len(original) - 1)
    changed = original.copy()
    changed[i + 1 :] = np.resize(np.array(tail), len(original) - i - 1)
    before, after = SINGLE[name](original), SINGLE[name](changed)
    for b, a in zip(*(o if isinstance(o, tuple) else (o,) for o in (before, after)), strict=True):
        np.testing.assert_array_equal(np.asarray(b)[: i + 1], np.asarray(a)[: i + 1])
