"""Output shapes of the walk-forward API (shared by the API and the page's status JSON)."""

from __future__ import annotations

from rest_framework import serializers

from backtesting.optimization.serializers import SearchJobOutputSerializer


class WalkForwardOutputSerializer(SearchJobOutputSerializer):
    mode = serializers.CharField()
    in_sample_bars = serializers.IntegerField()
    out_of_sample_bars = serializers.IntegerField()
    step_bars = serializers.IntegerField()
    n_windows = serializers.IntegerField()


class WalkForwardWindowOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    is_start = serializers.DateTimeField()
    is_end = serializers.DateTimeField()
    oos_start = serializers.DateTimeField()
    oos_end = serializers.DateTimeField()
    parameters = serializers.DictField(help_text="The in-sample winner's swept values.")
    candidates = serializers.IntegerField(help_text="Combinations ranked in sample.")
    is_objective = serializers.FloatField(allow_null=True)
    oos_objective = serializers.FloatField(allow_null=True)
    is_metrics = serializers.DictField()
    oos_metrics = serializers.DictField()


class WalkForwardSummarySerializer(serializers.Serializer):
    total_return = serializers.FloatField(allow_null=True)
    annual_return = serializers.FloatField(allow_null=True)
    cagr = serializers.FloatField(allow_null=True)
    sharpe_ratio = serializers.FloatField(allow_null=True)
    sortino_ratio = serializers.FloatField(allow_null=True)
    max_drawdown = serializers.FloatField(allow_null=True)
    equity_final = serializers.FloatField(allow_null=True)
    buy_and_hold_return = serializers.FloatField()
    in_sample_annual_return = serializers.FloatField(allow_null=True)
    efficiency = serializers.FloatField(
        allow_null=True,
        help_text="Annualised out-of-sample return over the mean annualised in-sample return "
        "of the windows' winners; null when in sample lost money.",
    )
    n_windows = serializers.IntegerField()
    n_trades = serializers.IntegerField()


class WalkForwardCurveSerializer(serializers.Serializer):
    t = serializers.ListField(child=serializers.IntegerField(), help_text="Epoch seconds.")
    equity = serializers.ListField(child=serializers.FloatField())
    buy_and_hold = serializers.ListField(child=serializers.FloatField())


class WalkForwardDetailOutputSerializer(WalkForwardOutputSerializer):
    windows = WalkForwardWindowOutputSerializer(many=True)
    summary = WalkForwardSummarySerializer(allow_null=True)
    curve = WalkForwardCurveSerializer(allow_null=True, help_text="Down-sampled for display.")
