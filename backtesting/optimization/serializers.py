"""Output shapes of the sweeps API (shared by the API and the page's status JSON)."""

from __future__ import annotations

from rest_framework import serializers


class SearchJobOutputSerializer(serializers.Serializer):
    """What every parameter-search job shows: its inputs, search space and lifecycle.

    Sweeps and walk-forwards share it; each adds what is its own.
    """

    id = serializers.IntegerField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    strategy = serializers.IntegerField(source="strategy_version.strategy_id")
    strategy_version = serializers.IntegerField(source="strategy_version.number")
    instruments = serializers.ListField(source="symbols", child=serializers.CharField())
    timeframe = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    parameters = serializers.DictField()
    settings = serializers.DictField()
    space = serializers.DictField()
    constraints = serializers.ListField(child=serializers.CharField())
    objective = serializers.CharField()
    direction = serializers.CharField()
    min_trades = serializers.IntegerField()
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error_code = serializers.CharField()
    error_message = serializers.CharField()


class OptimizationOutputSerializer(SearchJobOutputSerializer):
    total = serializers.IntegerField()


class OptimizationResultOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    parameters = serializers.DictField()
    status = serializers.CharField()
    objective = serializers.FloatField(allow_null=True)
    n_trades = serializers.IntegerField(allow_null=True)
    metrics = serializers.DictField()
    error_message = serializers.CharField()


class DeflatedSharpeSerializer(serializers.Serializer):
    sharpe = serializers.FloatField(allow_null=True, required=False)
    psr = serializers.FloatField(allow_null=True, required=False)
    dsr = serializers.FloatField(allow_null=True, required=False)
    expected_max_sharpe = serializers.FloatField(allow_null=True, required=False)
    n_trials = serializers.IntegerField(required=False)
    skewness = serializers.FloatField(allow_null=True, required=False)
    kurtosis = serializers.FloatField(allow_null=True, required=False)
    n_returns = serializers.IntegerField(required=False)
    error = serializers.CharField(required=False)


class OptimizationDetailOutputSerializer(OptimizationOutputSerializer):
    stored = serializers.IntegerField(help_text="Combinations with a result row so far.")
    failed = serializers.IntegerField(help_text="Combinations that failed.")
    best = OptimizationResultOutputSerializer(
        allow_null=True, help_text="The best combination so far (final once succeeded)."
    )
    deflated = DeflatedSharpeSerializer(
        help_text="The best combination's Sharpe, PSR and DSR (empty until the sweep ends)."
    )
