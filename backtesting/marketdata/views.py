"""Market-data pages: the instruments with their coverage, one instrument's candle chart (and
its bars.json) for every signed-in user; the bar upload with its validation report for operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.access import has_operator_access, has_role
from accounts.models import Role
from backtesting.marketdata.chartdata import Gap, candle_index, gap_rule_text
from backtesting.marketdata.errors import BarImportError
from backtesting.marketdata.forms import BarImportForm, ChartQueryForm
from backtesting.marketdata.models import Instrument
from backtesting.marketdata.selectors import (
    InstrumentChart,
    InstrumentCoverage,
    instrument_chart,
    instruments_coverage,
    servable_timeframes,
)
from backtesting.marketdata.services import bars_import
from backtesting.marketdata.timeframes import Timeframe
from backtesting.marketdata.writes import ns_to_datetime

INSTRUMENTS_PER_PAGE = 50
LATEST_BARS_SHOWN = 20


def import_form_handle(request: HttpRequest, form: BarImportForm) -> dict[str, object] | None:
    """Run the import for a bound, valid form; the report (ok or not) for the template."""
    data = form.cleaned_data
    try:
        report = bars_import(
            instrument=data["instrument"],
            source=data["file"],
            timeframe=data["timeframe"],
            tz_name=data["tz"],
            skip_invalid=data["skip_invalid"],
            use_adj_close=data["adjusted"],
        )
    except BarImportError as exc:
        return {"ok": False, "message": exc.message, **(exc.details or {})}
    return {"ok": True, "message": "Imported.", **report.as_dict()}


def import_page_process(
    request: HttpRequest, *, initial_symbol: str | None
) -> tuple[BarImportForm, dict[str, object] | None]:
    """The import form of the operator page and the admin: checks the operator, runs a
    posted import, or offers an empty form pre-filled with `initial_symbol`."""
    if not has_operator_access(request.user):
        raise PermissionDenied
    if request.method != "POST":
        return BarImportForm(initial={"instrument": initial_symbol}), None
    form = BarImportForm(request.POST, request.FILES)
    return form, import_form_handle(request, form) if form.is_valid() else None


@login_required
def bars_import_view(request: HttpRequest) -> HttpResponse:
    form, report = import_page_process(request, initial_symbol=request.GET.get("symbol"))
    status = 400 if report is not None and not report["ok"] else 200
    return render(
        request, "marketdata/import.html", {"form": form, "report": report}, status=status
    )


@login_required
@require_GET
def instrument_list_view(request: HttpRequest) -> HttpResponse:
    term = request.GET.get("q", "").strip()
    instruments = Instrument.objects.order_by("symbol")
    if term:
        instruments = instruments.search(term)
    page = Paginator(instruments, INSTRUMENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "rows": instruments_coverage(list(page)), "q": term}
    return render(request, "marketdata/instrument_list.html", context)


@dataclass(frozen=True)
class ChartQuery:
    timeframe: Timeframe
    start: datetime | None
    end: datetime | None


def _instrument_or_404(symbol: str) -> Instrument:
    try:
        return Instrument.objects.get(symbol=symbol.strip().upper())
    except Instrument.DoesNotExist:
        raise Http404(f"No instrument {symbol.upper()!r}.") from None


def _chart_query(
    form: ChartQueryForm, coverage: InstrumentCoverage
) -> tuple[ChartQuery | None, list[str]]:
    """The valid query (timeframe defaulting to 1d, else the finest with data), or problems."""
    if not form.is_valid():
        return None, [
            f"{form[name].label if name in form.fields else 'Range'}: "
            + " ".join(str(e) for e in errors)
            for name, errors in form.errors.items()
        ]
    servable = servable_timeframes({s.timeframe for s in coverage.stored})
    if not servable:
        return None, []  # no bars at all: the page says so
    wanted = form.cleaned_data["timeframe"]
    if not wanted:
        wanted = Timeframe.D1 if Timeframe.D1 in servable else next(iter(servable))
    timeframe = Timeframe(wanted)
    if timeframe not in servable:
        offered = ", ".join(tf.value for tf in servable)
        symbol = coverage.instrument.symbol
        return None, [f"There is no {timeframe.value} data for {symbol}; choose {offered}."]
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    return ChartQuery(
        timeframe,
        datetime.combine(start, time.min, UTC) if start else None,
        datetime.combine(end, time.max, UTC) if end else None,
    ), []


@login_required
@require_GET
def instrument_detail_view(request: HttpRequest, symbol: str) -> HttpResponse:
    instrument = _instrument_or_404(symbol)
    coverage = instruments_coverage([instrument])[0]
    form = ChartQueryForm(request.GET)
    _date_bounds(form, coverage)
    query, problems = _chart_query(form, coverage)
    chart = None
    if query is not None:
        drawn = instrument_chart(instrument, query.timeframe, query.start, query.end)
        chart = _chart_summary(request, instrument, drawn)
    context = {
        "instrument": instrument,
        "coverage": coverage,
        "form": form,
        "problems": problems,
        "timeframes": _timeframe_links(request, coverage, query),
        "chart": chart,
        "price_format": _price_format(instrument),
        # Viewers are read-only: the run form would refuse them.
        "can_backtest": has_role(request.user, Role.TRADER),
        "backtest_url": reverse("backtesting:backtest-create")
        + "?"
        + urlencode({"instruments": instrument.symbol}),
    }
    return render(
        request, "marketdata/instrument_detail.html", context, status=400 if problems else 200
    )


@login_required
@require_GET
def instrument_bars_json_view(request: HttpRequest, symbol: str) -> JsonResponse:
    """The chart's candles and volume, bucketed (chartdata.MAX_CANDLES), and its gaps."""
    instrument = _instrument_or_404(symbol)
    coverage = instruments_coverage([instrument])[0]
    query, problems = _chart_query(ChartQueryForm(request.GET), coverage)
    if query is None:
        return JsonResponse(
            {"errors": problems or ["No bars for this instrument yet."]}, status=400
        )
    chart = instrument_chart(instrument, query.timeframe, query.start, query.end)
    return JsonResponse(_chart_payload(instrument, chart))


def _chart_payload(instrument: Instrument, chart: InstrumentChart) -> dict[str, Any]:
    candles = chart.candles.bars
    seconds = (candles.timestamps // 1_000_000_000).tolist()
    opens, highs, lows = candles.open.tolist(), candles.high.tolist(), candles.low.tolist()
    closes, volumes = candles.close.tolist(), candles.volume.tolist()
    return {
        "symbol": instrument.symbol,
        "timeframe": chart.timeframe.value,
        "bucket": {
            "bars_per_candle": chart.candles.per_candle,
            "source_bars": chart.candles.source_bars,
            "candles": len(candles),
        },
        "candles": [
            {"time": t, "open": o, "high": h, "low": lo, "close": c}
            for t, o, h, lo, c in zip(seconds, opens, highs, lows, closes, strict=True)
        ],
        "volume": [{"time": t, "value": v} for t, v in zip(seconds, volumes, strict=True)],
        "gaps": [
            {
                "from": ns_to_datetime(g.before).isoformat(),
                "to": ns_to_datetime(g.after).isoformat(),
                "missing": g.missing,
                "time": seconds[candle_index(chart.candles, g.after)],
            }
            for g in chart.gaps
        ],
    }


def _chart_summary(
    request: HttpRequest, instrument: Instrument, chart: InstrumentChart
) -> dict[str, Any]:
    """What the page prints about the chart: counts, the gaps, the latest bars as a table."""
    intraday = chart.timeframe.is_intraday
    bars = chart.bars
    latest = range(len(bars) - 1, max(-1, len(bars) - 1 - LATEST_BARS_SHOWN), -1)
    query = request.GET.copy()
    query["timeframe"] = chart.timeframe.value
    largest = max(chart.gaps, key=lambda g: g.missing, default=None)
    return {
        "bars_url": reverse("marketdata:instrument-bars", args=[instrument.symbol])
        + "?"
        + query.urlencode(),
        "bar_count": len(bars),
        "candle_count": len(chart.candles.bars),
        "per_candle": chart.candles.per_candle,
        "timeframe": chart.timeframe.value,
        "gaps": [_gap_display(g, intraday) for g in chart.gaps],
        "largest_gap": _gap_display(largest, intraday) if largest else None,
        "gap_rule": gap_rule_text(chart.timeframe),
        "latest": [
            {
                "time": _moment(int(bars.timestamps[i]), intraday),
                "open": bars.open[i],
                "high": bars.high[i],
                "low": bars.low[i],
                "close": bars.close[i],
                "volume": bars.volume[i],
            }
            for i in latest
        ],
        "first": _moment(int(bars.timestamps[0]), intraday) if len(bars) else None,
        "last": _moment(int(bars.timestamps[-1]), intraday) if len(bars) else None,
    }


def _date_bounds(form: ChartQueryForm, coverage: InstrumentCoverage) -> None:
    """The date pickers open on the data there is (min/max from the stored series)."""
    firsts = [s.first for s in coverage.stored if s.first]
    lasts = [s.last for s in coverage.stored if s.last]
    if firsts and lasts:
        for name in ("start", "end"):
            form.fields[name].widget.attrs.update(
                min=f"{min(firsts):%Y-%m-%d}", max=f"{max(lasts):%Y-%m-%d}"
            )


def _price_format(instrument: Instrument) -> str:
    """floatformat's argument for this instrument's prices: the tick's decimals, grouped."""
    exponent = instrument.price_tick.normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 2
    return f"{decimals}g"


def _gap_display(gap: Gap, intraday: bool) -> dict[str, Any]:
    return {
        "from": _moment(gap.before, intraday),
        "to": _moment(gap.after, intraday),
        "missing": gap.missing,
    }


def _moment(ns: int, intraday: bool) -> str:
    moment = ns_to_datetime(ns)
    return f"{moment:%Y-%m-%d %H:%M} UTC" if intraday else f"{moment:%Y-%m-%d}"


def _timeframe_links(
    request: HttpRequest, coverage: InstrumentCoverage, query: ChartQuery | None
) -> list[dict[str, Any]]:
    """The switcher: only timeframes with data, each keeping the chosen date range."""
    links = []
    for tf, source in servable_timeframes({s.timeframe for s in coverage.stored}).items():
        params = request.GET.copy()
        params["timeframe"] = tf.value
        links.append(
            {
                "value": tf.value,
                "label": tf.label,
                "url": "?" + params.urlencode(),
                "current": query is not None and query.timeframe is tf,
                "source": source if source is not tf else None,
            }
        )
    return links
