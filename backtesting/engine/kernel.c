/*
 * The compiled kernel of the vectorized array path: the order walk and the account curve.
 *
 * Each function is a line-by-line port of a Python reference that stays in the engine:
 *   tp_walk_orders  <- arraypath._walk_orders with sizing.units_for_value inlined
 *   tp_build_curve  <- result.build_curve (step histories, marks, equity, exposure)
 *   tp_signal_core  <- vectorized.run_signals_arrays + build_curve in one call (the stages
 *                      below chained, plus arraypath.fills_ledger's position and trade columns)
 *   tp_longest_drawdown <- the longest of metrics._episodes' durations (headline statistics)
 *   tp_sma          <- indicators.sma on gap-free input (_rolling_sum's no-gap path / period)
 * The Python is the specification; tests/engine/test_kernel.py checks the two bit for bit.
 * Bit-identical results need the same IEEE-754 double operations in the same order as
 * Python's floats, so this file is built with -std=c11 -ffp-contract=off (no fused
 * multiply-add) and never with -ffast-math (Makefile, `kernel` target).
 *
 * Only plain C types cross the boundary (ctypes, no Python headers): the library does not
 * depend on the Python version, and the caller passes contiguous arrays it has checked.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Return codes of tp_walk_orders (backtesting/engine/kernel.py mirrors them). */
#define TP_OK 0
#define TP_UNSUPPORTED 1 /* adding to a position: the broker's lots are needed */
#define TP_FALLBACK 2    /* a sizing search too large for int64: the Python walk redoes it */
#define TP_RESIZE 3      /* tp_signal_core: a same-direction target change (the broker resizes) */
#define TP_CAPACITY 4    /* tp_signal_core: more target changes than the caller made room for */

/* Per-order fates (an order not listed as filled plainly); FLIPPED is or-ed in when the
 * order's closing half was booked before its opening half was refused. */
#define FATE_FILLED 0
#define FATE_NO_POSITION 1
#define FATE_ZERO_SIZE 2
#define FATE_BELOW_MINIMUM 3
#define FATE_NO_FUNDS 4
#define FATE_FLIPPED 8

/* Layout of the params array (kernel.py builds it). */
enum {
    P_CASH, P_FIXED, P_PCT, P_MIN_FEE, P_STEP, P_MIN_VALUE, P_MARGIN, P_SURE_PASS_OK,
    P_SURE_PASS, P_MONEY_EPS, P_IMPACT, P_COUNT
};

/* Python's max(a, b) for floats: b only if it is strictly greater (NaN stays). */
static inline double py_max(double a, double b) { return b > a ? b : a; }

/* CostModel.commission. */
static inline double commission(double notional, double fixed, double pct, double least) {
    if (notional <= 0.0) return 0.0;
    double fee = fixed + pct * notional;
    return fee > least ? fee : least;
}

/* math.ulp */
static double py_ulp(double x) {
    if (isnan(x)) return x;
    x = fabs(x);
    if (isinf(x)) return x;
    double up = nextafter(x, INFINITY);
    if (isinf(up)) return x - nextafter(x, -INFINITY);
    return up - x;
}

typedef struct {
    double fixed, pct, least;
} Costs;

/* sizing._fits */
static inline int fits(double units, double value, double price, const Costs *c) {
    double notional = units * price;
    return notional + commission(notional, c->fixed, c->pct, c->least) <= value;
}

/* sizing._shrink_to_fit */
static double shrink_to_fit(double units, double value, double price, const Costs *c) {
    double delta = py_ulp(units);
    while (units > 0.0) {
        units -= delta;
        delta *= 2.0;
        if (fits(units, value, price, c)) return units;
    }
    return 0.0;
}

/* sizing._largest_fitting_lots on int64 (the caller keeps too_many below 2**62, so no
 * step of the search overflows and every lots * step converts like a Python int). */
static int64_t largest_fitting_lots(int64_t too_many, double value, double price, const Costs *c,
                                    double step) {
    int64_t hi = too_many, stride = 1;
    int64_t lo = hi - stride;
    while (lo > 0 && !fits((double)lo * step, value, price, c)) {
        hi = lo;
        stride *= 2;
        lo = hi - stride;
    }
    if (lo < 0) lo = 0;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2; /* == (lo + hi) // 2 for lo, hi >= 0 */
        if (fits((double)mid * step, value, price, c))
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

#define LOTS_LIMIT 4611686018427387904.0 /* 2**62 */

/* sizing.units_for_value; returns 0 when done, TP_FALLBACK when the lot search would leave
 * int64 (Python's unbounded ints are the reference there). */
static int units_for_value(double value, double price, const Costs *c, double step,
                           double *out) {
    *out = 0.0;
    if (value <= 0.0 || price <= 0.0) return 0;
    double fixed = c->fixed, pct = c->pct, least = c->least;
    double units = (value - fixed) / (price * (1.0 + pct));
    double notional = units * price;
    double fee = fixed + pct * notional;
    if (units > 0.0 && fee <= least) {
        units = (value - least) / price;
        notional = units * price;
        fee = fixed + pct * notional;
    }
    if (units <= 0.0) return 0;
    if (step <= 0.0) {
        if (notional + (fee > least ? fee : least) <= value) {
            *out = units;
            return 0;
        }
        *out = shrink_to_fit(units, value, price, c);
        return 0;
    }
    double q = units / step;
    if (!isfinite(q)) {
        *out = shrink_to_fit(units, value, price, c);
        return 0;
    }
    double n = floor(q);
    /* float(n + 1) for a Python int n is the correctly rounded n + 1, as is this sum. */
    double tries[2] = {n + 1.0, n};
    for (int t = 0; t < 2; t++) {
        double lots = tries[t];
        notional = lots * step * price;
        fee = fixed + pct * notional;
        if (notional + (fee > least ? fee : least) <= value) {
            *out = lots * step;
            return 0;
        }
    }
    if (n >= LOTS_LIMIT) return TP_FALLBACK;
    *out = (double)largest_fitting_lots((int64_t)n, value, price, c, step) * step;
    return 0;
}

/* Keep held[] (symbols with a position) ascending: the broker's summation order. */
static void held_insert(int64_t *held, int64_t *n_held, int64_t s) {
    int64_t j = *n_held;
    while (j > 0 && held[j - 1] > s) {
        held[j] = held[j - 1];
        j--;
    }
    held[j] = s;
    (*n_held)++;
}

static void held_remove(int64_t *held, int64_t *n_held, int64_t s) {
    int64_t j = 0;
    while (j < *n_held && held[j] != s) j++;
    if (j == *n_held) return;
    memmove(held + j, held + j + 1, (size_t)(*n_held - j - 1) * sizeof(int64_t));
    (*n_held)--;
}

/*
 * arraypath._walk_orders. Orders 0..n_orders-1 (all with a fill bar), symbols sym[k], fill
 * bar bar[k] + 1. open is (n_sym, n_bars) C-contiguous. Outputs: units (n_sym, zeroed by the
 * caller), fills (at most 2 per order; a closing fill stores the order as ~k), and per order
 * fate[k] with two numbers for the message (notional, or need and equity after the fill).
 * held is scratch for n_sym symbols. Returns TP_OK, TP_UNSUPPORTED or TP_FALLBACK.
 */
int tp_walk_orders(int64_t n_orders, int64_t n_sym, int64_t n_bars, const int64_t *sym,
                   const int64_t *bar, const double *target, const double *price,
                   const double *buy, const double *sell, const double *open,
                   const double *params, double *units, int64_t *held, int64_t *fill_k,
                   double *fill_q, double *fill_fee, double *fill_cash, int64_t *n_fills,
                   int8_t *fate, double *fate_a, double *fate_b) {
    (void)n_sym;
    const Costs costs = {params[P_FIXED], params[P_PCT], params[P_MIN_FEE]};
    const double fixed = costs.fixed, pct = costs.pct, cmin = costs.least;
    const double step = params[P_STEP], min_value = params[P_MIN_VALUE];
    const double margin = params[P_MARGIN], sure_pass = params[P_SURE_PASS];
    const double money_eps = params[P_MONEY_EPS];
    const int sure_pass_ok = params[P_SURE_PASS_OK] != 0.0;
    double cash = params[P_CASH];
    int64_t n_held = 0, nf = 0;

    for (int64_t k = 0; k < n_orders; k++) {
        const int64_t s = sym[k];
        const double want = target[k], cur = units[s];
        int flipped = 0;
        fate[k] = FATE_FILLED;
        if (cur != 0.0 && (want == 0.0 || cur * want < 0.0)) { /* close, or half a flip */
            double q = -cur;
            double x = q > 0.0 ? buy[k] : sell[k];
            double notional = fabs(q) * x;
            double fee = fixed + pct * notional;
            fee = notional > 0.0 ? (fee > cmin ? fee : cmin) : 0.0;
            cash -= q * x + fee;
            units[s] = 0.0;
            held_remove(held, &n_held, s);
            fill_k[nf] = ~k, fill_q[nf] = q, fill_fee[nf] = fee, fill_cash[nf] = cash, nf++;
            if (want == 0.0) continue;
            flipped = FATE_FLIPPED;
        } else if (want == 0.0) {
            fate[k] = FATE_NO_POSITION;
            continue;
        } else if (cur != 0.0) {
            *n_fills = nf;
            return TP_UNSUPPORTED;
        }
        const int64_t b = bar[k] + 1;
        const double px = price[k];
        const double *row = open + b; /* open[h, b] is row[h * n_bars] */
        double x, side;
        if (want > 0.0)
            x = buy[k], side = 1.0;
        else
            x = sell[k], side = -1.0;
        double eq = cash;
        for (int64_t j = 0; j < n_held; j++) eq += units[held[j]] * row[held[j] * n_bars];
        double size;
        if (units_for_value(fabs(want) * eq, x, &costs, step, &size) != 0) {
            *n_fills = nf;
            return TP_FALLBACK;
        }
        const double q = side * size;
        if (q == 0.0) {
            fate[k] = (int8_t)(FATE_ZERO_SIZE | flipped);
            continue;
        }
        const double notional = fabs(q) * x;
        if (notional < min_value) {
            fate[k] = (int8_t)(FATE_BELOW_MINIMUM | flipped);
            fate_a[k] = notional;
            continue;
        }
        double fee = fixed + pct * notional;
        fee = notional > 0.0 ? (fee > cmin ? fee : cmin) : 0.0;
        const double after = cash - (q * x + fee);
        const double scale = fabs(cash) + fabs(eq) + notional + fee;
        if (!(sure_pass_ok && after > sure_pass * scale)) {
            double gross = 0.0;
            for (int64_t j = 0; j < n_held; j++)
                gross += fabs(units[held[j]] * row[held[j] * n_bars]);
            const double equity_after = eq - fee - fabs(q) * fabs(x - px);
            const double need = margin * (gross + fabs(q) * px);
            if (need > equity_after + money_eps * py_max(fabs(equity_after), 1.0)) {
                fate[k] = (int8_t)(FATE_NO_FUNDS | flipped);
                fate_a[k] = need;
                fate_b[k] = equity_after;
                continue;
            }
        }
        cash = after;
        units[s] = q;
        held_insert(held, &n_held, s);
        fill_k[nf] = k, fill_q[nf] = q, fill_fee[nf] = fee, fill_cash[nf] = cash, nf++;
    }
    *n_fills = nf;
    return TP_OK;
}

/* np.nan_to_num for one float. */
static inline double nan_to_num(double v) {
    if (isnan(v)) return 0.0;
    if (isinf(v)) return v > 0.0 ? 1.7976931348623157e308 : -1.7976931348623157e308;
    return v;
}

/*
 * result.build_curve in one pass over the bars. Step events (bar, value after; the last
 * event of a bar wins) for the cash and, per symbol s, pos_bars/pos_values[pos_start[s] ..
 * pos_start[s + 1]). close is (n_sym, n_bars) C-contiguous; complete[s] says symbol s has a
 * bar everywhere. cursor is scratch for n_sym positions. Each bar's market value and gross
 * exposure are summed symbol by symbol from 0.0, the order of the NumPy reference's +=.
 */
void tp_build_curve(int64_t n_bars, int64_t n_sym, const int64_t *cash_bars,
                    const double *cash_values, int64_t n_cash, double initial_cash,
                    const int64_t *pos_start, const int64_t *pos_bars, const double *pos_values,
                    const double *close, const uint8_t *complete, int64_t *cursor,
                    double *held, double *equity, double *cash, double *exposure) {
    double cur = initial_cash;
    int64_t e = 0;
    for (int64_t s = 0; s < n_sym; s++) cursor[s] = pos_start[s], held[s] = 0.0;
    for (int64_t i = 0; i < n_bars; i++) {
        while (e < n_cash && cash_bars[e] <= i) cur = cash_values[e++];
        double value = 0.0, gross = 0.0;
        for (int64_t s = 0; s < n_sym; s++) {
            int64_t p = cursor[s];
            const int64_t end = pos_start[s + 1];
            if (p < end && pos_bars[p] <= i) {
                while (p < end && pos_bars[p] <= i) held[s] = pos_values[p++];
                cursor[s] = p;
            }
            const double u = held[s], px = close[s * n_bars + i];
            const double mv = complete[s] ? u * px : (u != 0.0 ? u * nan_to_num(px) : 0.0);
            value += mv;
            gross += fabs(mv);
        }
        const double eq = cur + value;
        cash[i] = cur;
        equity[i] = eq;
        exposure[i] = eq > 0.0 ? gross / eq : (gross > 0.0 ? INFINITY : 0.0);
    }
}

/*
 * vectorized.signal_column: copy one signal column into its row of the targets matrix and
 * return (NaN count, min, max of the other values) from the same pass. min and max are
 * exact, so this agrees with the NumPy reference whatever the order; an infinity shows up
 * as the min or the max. x may be strided (stride in elements).
 */
void tp_signal_column(int64_t n, const double *x, int64_t stride, double *row, double *out) {
    int64_t nans = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        const double v = x[i * stride];
        row[i] = v;
        if (isnan(v)) {
            nans++;
            continue;
        }
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    out[0] = (double)nans;
    out[1] = lo;
    out[2] = hi;
}

/* vectorized.zero_nans: NaN -> 0.0 in place (np.nan_to_num on arrays without infinities). */
void tp_zero_nans(int64_t n, double *x) {
    for (int64_t i = 0; i < n; i++)
        if (isnan(x[i])) x[i] = 0.0;
}

/*
 * vectorized.target_changes: the (symbol, bar, new, old) of every target change from bar
 * `start` on, ordered by bar, then symbol (the broker's submit order). targets is (n_sym,
 * n_bars) C-contiguous; nothing is held when trading starts, so at `start` the old target
 * is 0. Writes at most `capacity` changes and returns how many there are in all (more than
 * capacity: the caller retries with room for all of them).
 */
int64_t tp_target_changes(int64_t n_sym, int64_t n_bars, const double *targets, int64_t start,
                          int64_t capacity, int64_t *out_sym, int64_t *out_bar, double *out_new,
                          double *out_old) {
    int64_t m = 0;
    for (int64_t i = start; i < n_bars; i++) {
        for (int64_t s = 0; s < n_sym; s++) {
            const double *row = targets + s * n_bars;
            const double now = row[i], before = i == start ? 0.0 : row[i - 1];
            if (now != before) {
                if (m < capacity) {
                    out_sym[m] = s, out_bar[m] = i, out_new[m] = now, out_old[m] = before;
                }
                m++;
            }
        }
    }
    return m;
}

/*
 * result.window_drawdown and metrics.drawdown_series in one pass: peak = running maximum
 * (np.maximum.accumulate: NaN sticks, a tie takes the newer value, so 0.0 then -0.0 gives
 * -0.0), series = equity / peak
 * - 1, window = the same where peak > 0, else NaN. Either output may be NULL.
 */
void tp_drawdowns(int64_t n, const double *equity, double *series, double *window) {
    double peak = n > 0 ? equity[0] : 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double v = equity[i];
        if (i > 0 && !isnan(peak) && !(peak > v)) peak = v;
        const double dd = v / peak - 1.0;
        if (series != NULL) series[i] = dd;
        if (window != NULL) window[i] = peak > 0.0 ? dd : NAN;
    }
}

/*
 * The longest drawdown episode of metrics._episodes, in ns, without building the episodes
 * (the headline statistics keep only this and the deepest point): episodes are the maximal
 * runs of bars with dd < 0 (NaN is not below), [start, end); each lasts
 * ts[end < n ? end : n - 1] - ts[start > 0 ? start - 1 : 0]. Returns -1 when there is none.
 * Integer comparisons and differences only (wrapping like NumPy's int64), so the caller's
 * int64 -> float64 and division by a day, which never reorder two durations, give the bits
 * of the reference's max over the converted durations.
 */
int64_t tp_longest_drawdown(int64_t n, const double *dd, const int64_t *ts) {
    int64_t longest = -1, start = -1;
    for (int64_t i = 0; i <= n; i++) {
        const int under = i < n && dd[i] < 0.0;
        if (under && start < 0) start = i;
        if (!under && start >= 0) {
            const int64_t stop = i < n ? i : n - 1, from = start > 0 ? start - 1 : 0;
            const int64_t length = (int64_t)((uint64_t)ts[stop] - (uint64_t)ts[from]);
            if (length > longest) longest = length;
            start = -1;
        }
    }
    return longest;
}

/* Counters tp_signal_core reports (kernel.py reads them by these positions). */
enum { C_CHANGES, C_LIVE, C_FILLS, C_TRADES, C_CLOSED, C_COUNT };

/*
 * The whole simulation core of a signal run in one call, so a short run pays one crossing of
 * the ctypes boundary instead of one per stage. Chains, with the same operations as each
 * reference (and the functions above where there is one):
 *   1. vectorized.target_changes (tp_target_changes) into sym/bar/target/old, at most
 *      `capacity` of them (TP_CAPACITY: counts[C_CHANGES] says how many there are);
 *   2. run_signals_arrays' refusal of same-direction changes (TP_RESIZE);
 *   3. arraypath.SignalOrders.build: the next bar's open (NaN on the last bar), times
 *      (1 + impact) for a buy and (1 + -impact) for a sell;
 *   4. book_orders: the orders before the last bar (counts[C_LIVE]) walked by tp_walk_orders
 *      (its TP_UNSUPPORTED / TP_FALLBACK are returned as they are);
 *   5. arraypath.fills_ledger: per fill its order (closing ones flagged in `closing`, not as
 *      ~k), bar and price; the position events grouped by symbol in booking order; the trade
 *      columns (closed trades in closing order, then open ones by symbol at the last close);
 *   6. result.build_curve (tp_build_curve) on complete bars.
 * The caller allocates every array: changes and orders hold `capacity`, fills and position
 * events 2 * capacity, trades capacity + n_sym, the curve n_bars, units/scratch n_sym (+1
 * for pos_start). open, close and has_bar are (n_sym, n_bars) C-contiguous; a symbol's bars
 * are `complete` (build_curve) when has_bar is set on every bar.
 */
int tp_signal_core(int64_t n_sym, int64_t n_bars, const double *targets, int64_t start,
                   int64_t capacity, const double *open, const double *close,
                   const uint8_t *has_bar, double cash0, double fixed, double pct,
                   double min_fee, double step, double min_value, double margin,
                   double sure_pass_ok, double sure_pass, double money_eps, double impact,
                   int64_t *counts, int64_t *sym, int64_t *bar,
                   double *target, double *old, double *price, double *buy, double *sell,
                   double *units, int64_t *held, int64_t *fill_k, double *fill_q,
                   double *fill_fee, double *fill_cash, int8_t *fate, double *fate_a,
                   double *fate_b, uint8_t *closing, int64_t *fill_bar, double *fill_price,
                   int64_t *pos_start, int64_t *pos_bars, double *pos_values,
                   int64_t *last_fill, double *trade_size, double *trade_entry_price,
                   double *trade_exit_price, double *trade_commission,
                   int64_t *trade_entry_bar, int64_t *trade_exit_bar, uint8_t *trade_open,
                   uint8_t *complete, double *held_units, double *equity, double *cash,
                   double *exposure) {
    /* The spec's numbers come as arguments (no array to build for one call); walk_params'
     * order. */
    const double params[P_COUNT] = {cash0, fixed, pct, min_fee, step, min_value, margin,
                                    sure_pass_ok, sure_pass, money_eps, impact};
    memset(counts, 0, C_COUNT * sizeof(int64_t));
    const int64_t m = tp_target_changes(n_sym, n_bars, targets, start, capacity, sym, bar,
                                        target, old);
    counts[C_CHANGES] = m;
    if (m > capacity) return TP_CAPACITY;
    for (int64_t k = 0; k < m; k++)
        if (old[k] * target[k] > 0.0) return TP_RESIZE;

    const double up = 1.0 + params[P_IMPACT], down = 1.0 + -params[P_IMPACT];
    int64_t live = 0;
    for (int64_t k = 0; k < m; k++) {
        const int64_t b = bar[k] + 1;
        const double px = b < n_bars ? open[sym[k] * n_bars + b] : NAN;
        price[k] = px, buy[k] = px * up, sell[k] = px * down;
        if (bar[k] < n_bars - 1) live++; /* bars ascend: np.searchsorted(bar, n_bars - 1) */
    }
    counts[C_LIVE] = live;

    for (int64_t s = 0; s < n_sym; s++) units[s] = 0.0;
    int64_t nf = 0;
    const int status = tp_walk_orders(live, n_sym, n_bars, sym, bar, target, price, buy, sell,
                                      open, params, units, held, fill_k, fill_q, fill_fee,
                                      fill_cash, &nf, fate, fate_a, fate_b);
    counts[C_FILLS] = nf;
    if (status != TP_OK) return status;

    /* Fills: their order, bar and price; position events counted per symbol. */
    for (int64_t s = 0; s <= n_sym; s++) pos_start[s] = 0;
    for (int64_t j = 0; j < nf; j++) {
        const int64_t raw = fill_k[j], k = raw < 0 ? ~raw : raw;
        closing[j] = raw < 0;
        fill_k[j] = k;
        fill_bar[j] = bar[k] + 1;
        fill_price[j] = fill_q[j] > 0.0 ? buy[k] : sell[k];
        pos_start[sym[k] + 1]++;
    }
    for (int64_t s = 0; s < n_sym; s++) pos_start[s + 1] += pos_start[s];
    /* Each symbol's events in booking order (a stable counting sort); last_fill[s] is the
     * slot of its next event meanwhile. */
    for (int64_t s = 0; s < n_sym; s++) last_fill[s] = pos_start[s];
    for (int64_t j = 0; j < nf; j++) {
        const int64_t s = sym[fill_k[j]], p = last_fill[s]++;
        pos_bars[p] = fill_bar[j];
        pos_values[p] = closing[j] ? 0.0 : fill_q[j];
    }

    /* Trades. A fill either opens a symbol's one lot or closes it in full, so a closing fill
     * pairs with that symbol's fill before it (last_fill, now the latest fill seen). */
    for (int64_t s = 0; s < n_sym; s++) last_fill[s] = -1;
    int64_t nt = 0;
    for (int64_t j = 0; j < nf; j++) {
        const int64_t s = sym[fill_k[j]], e = last_fill[s];
        last_fill[s] = j;
        if (!closing[j]) continue;
        /* Broker._fill books the opening fill's fee as fee * remaining / q (remaining == q);
         * Broker._close_lots the closing fill's as fee * |units / q|. */
        const double share = fill_fee[e] * fill_q[e] / fill_q[e];
        trade_size[nt] = fill_q[e];
        trade_entry_price[nt] = fill_price[e];
        trade_exit_price[nt] = fill_price[j];
        trade_commission[nt] = share + fill_fee[j] * fabs(fill_q[e] / fill_q[j]);
        trade_entry_bar[nt] = fill_bar[e];
        trade_exit_bar[nt] = fill_bar[j];
        trade_open[nt] = 0;
        nt++;
    }
    counts[C_CLOSED] = nt;
    const int64_t last = n_bars - 1;
    for (int64_t s = 0; s < n_sym; s++) {
        const int64_t e = last_fill[s];
        if (e < 0 || closing[e]) continue;
        trade_size[nt] = fill_q[e];
        trade_entry_price[nt] = fill_price[e];
        trade_exit_price[nt] = close[s * n_bars + last];
        trade_commission[nt] = fill_fee[e] * fill_q[e] / fill_q[e];
        trade_entry_bar[nt] = fill_bar[e];
        trade_exit_bar[nt] = last;
        trade_open[nt] = 1;
        nt++;
    }
    counts[C_TRADES] = nt;

    for (int64_t s = 0; s < n_sym; s++) {
        const uint8_t *row = has_bar + s * n_bars;
        int64_t i = 0;
        while (i < n_bars && row[i]) i++;
        complete[s] = i == n_bars; /* bars.has_bar.all(axis=1) */
    }
    tp_build_curve(n_bars, n_sym, fill_bar, fill_cash, nf, params[P_CASH], pos_start, pos_bars,
                   pos_values, close, complete, last_fill, held_units, equity, cash, exposure);
    return TP_OK;
}

/*
 * indicators.sma(x, period) for 1 <= period <= n when every x is finite: _rolling_sum's
 * no-gap path and the division, operation for operation. shift = x[0]; c = np.cumsum(x -
 * shift) behind a leading 0.0 (NumPy's cumsum is sequential: c[1] = x[0] - shift, then each
 * sum adds the next difference); out[j + period - 1] = ((c[j + period] - c[j]) + period *
 * shift) / period and NaN before (np.full's NaN divided stays that NaN). c is the caller's
 * scratch of n + 1 doubles. Returns 1, before writing anything, when an x is NaN or
 * infinite: the caller takes the NumPy path, which masks them.
 */
int tp_sma(int64_t n, const double *x, int64_t period, double *c, double *out) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 1;
    const double shift = x[0];
    double acc = x[0] - shift;
    c[0] = 0.0;
    c[1] = acc;
    for (int64_t i = 1; i < n; i++) {
        acc = acc + (x[i] - shift);
        c[i + 1] = acc;
    }
    const double p = (double)period;
    const double offset = p * shift;
    for (int64_t i = 0; i < period - 1; i++) out[i] = NAN;
    for (int64_t j = 0; j + period <= n; j++)
        out[j + period - 1] = ((c[j + period] - c[j]) + offset) / p;
    return 0;
}
