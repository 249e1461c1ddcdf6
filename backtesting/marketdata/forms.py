"""The bar-import form shared by the operator page and the admin."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from backtesting.marketdata.models import Instrument
from backtesting.marketdata.timeframes import TIMEFRAME_CHOICES, Timeframe


class BarImportForm(forms.Form):
    instrument = forms.ModelChoiceField(queryset=Instrument.objects.all(), to_field_name="symbol")
    file = forms.FileField(
        help_text="CSV or gzip-compressed CSV with Date/Open/High/Low/Close[/Volume]."
    )
    timeframe = forms.ChoiceField(choices=TIMEFRAME_CHOICES, initial=Timeframe.D1.value)
    tz = forms.CharField(
        required=False,
        label="Time zone of naive times",
        help_text="Default: the instrument's time zone.",
    )
    skip_invalid = forms.BooleanField(required=False, label="Write the valid rows, report the rest")
    adjusted = forms.BooleanField(required=False, label="Use the Adj Close column")

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if (upload.size or 0) > settings.MARKETDATA_MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is too large.")
        return upload

    def clean_tz(self) -> str | None:
        value = self.cleaned_data["tz"].strip()
        if not value:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError("Unknown time zone.") from None
        return value


class ChartQueryForm(forms.Form):
    """The instrument page's and its bars.json's query: timeframe and an optional date range.

    Dates are UTC calendar days, both ends included (a daily bar is stamped 00:00 UTC of its
    session date, so a day picks exactly its session).
    """

    timeframe = forms.ChoiceField(choices=TIMEFRAME_CHOICES, required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date must not be before the start date.")
        return data
