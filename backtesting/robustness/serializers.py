"""Shapes of robustness runs in the API (output only; input lives beside each API class)."""

from __future__ import annotations

from rest_framework import serializers


class RobustnessRunOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    backtest = serializers.IntegerField(source="backtest_id")
    kind = serializers.CharField()
    parameters = serializers.DictField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error_code = serializers.CharField()
    error_message = serializers.CharField()


class RobustnessRunDetailOutputSerializer(RobustnessRunOutputSerializer):
    # Monte Carlo: distributions, probability_of_loss, bands; random entry: p_value, histogram;
    # look-ahead: n_checks, changed_count, changes, checks. Null until the run succeeded.
    result = serializers.DictField(source="result_or_none.data", allow_null=True, default=None)
