"""Results leave the job row: a one-to-one BacktestResult, the curve as compact arrays.

Copies, then drops: each backtest with a result in the old columns (metrics, equity_curve,
timings, sandbox_log) gets a BacktestResult holding the same values, the curve's JSON lists
as the arrays of backtesting/curves.py. Backwards copies them back before the table goes.
Also records which bar codec version each stored fingerprint hashed: 1 for every fingerprint
stored so far (the framing before backtesting/engine/barcodec.py's version 2).

The codec is copied here, not imported, so this migration keeps its meaning if the app's
codec changes later.
"""

import math

import django.db.models.deletion
import numpy as np
from django.db import migrations, models

FIRST_FINGERPRINT_VERSION = 1


def _iso_times(ns):
    return [s + "Z" for s in np.datetime_as_string(ns.astype("datetime64[ns]"), unit="s").tolist()]


def _curve_arrays(curve):
    if curve is None:
        return {"timestamps": None, "equity": None, "drawdown": None}
    stamps = np.array([t.removesuffix("Z") for t in curve["timestamps"]], dtype="datetime64[ns]")
    ns = stamps.astype(np.int64)
    if _iso_times(ns) != curve["timestamps"]:
        raise ValueError("an equity curve's timestamps are not in the engine's format")
    arrays = {"timestamps": ns.astype("<i8").tobytes()}
    for name in ("equity", "drawdown"):
        values = [math.nan if v is None else v for v in curve[name]]
        if len(values) != len(ns):
            raise ValueError(f"an equity curve's {name} and timestamps differ in length")
        arrays[name] = np.array(values, dtype="<f8").tobytes()
    return arrays


def _curve_json(result):
    if result.timestamps is None:
        return None
    curve = {"timestamps": _iso_times(np.frombuffer(bytes(result.timestamps), dtype="<i8"))}
    for name in ("equity", "drawdown"):
        values = np.frombuffer(bytes(getattr(result, name)), dtype="<f8").tolist()
        curve[name] = [v if math.isfinite(v) else None for v in values]
    return curve


def results_to_table(apps, schema_editor):
    Backtest = apps.get_model("backtesting", "Backtest")
    BacktestResult = apps.get_model("backtesting", "BacktestResult")
    with_result = (
        models.Q(metrics__isnull=False)
        | models.Q(equity_curve__isnull=False)
        | ~models.Q(timings={})
        | ~models.Q(sandbox_log="")
    )
    rows = Backtest.objects.filter(with_result).values(
        "pk", "metrics", "equity_curve", "timings", "sandbox_log"
    )
    for row in rows.iterator(chunk_size=100):
        BacktestResult.objects.create(
            backtest_id=row["pk"],
            metrics=row["metrics"],
            timings=row["timings"],
            sandbox_log=row["sandbox_log"],
            **_curve_arrays(row["equity_curve"]),
        )
    Backtest.objects.exclude(data_fingerprint="").update(
        data_fingerprint_version=FIRST_FINGERPRINT_VERSION
    )


def results_to_row(apps, schema_editor):
    Backtest = apps.get_model("backtesting", "Backtest")
    BacktestResult = apps.get_model("backtesting", "BacktestResult")
    for result in BacktestResult.objects.iterator(chunk_size=100):
        Backtest.objects.filter(pk=result.backtest_id).update(
            metrics=result.metrics,
            equity_curve=_curve_json(result),
            timings=result.timings,
            sandbox_log=result.sandbox_log,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('backtesting', '0004_marketdata_own_app'),
    ]

    operations = [
        migrations.AddField(
            model_name='backtest',
            name='data_fingerprint_version',
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name='BacktestResult',
            fields=[
                ('backtest', models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                    related_name='result', serialize=False, to='backtesting.backtest',
                )),
                ('metrics', models.JSONField(blank=True, null=True)),
                ('timestamps', models.BinaryField(blank=True, null=True)),
                ('equity', models.BinaryField(blank=True, null=True)),
                ('drawdown', models.BinaryField(blank=True, null=True)),
                ('timings', models.JSONField(blank=True, default=dict)),
                ('sandbox_log', models.TextField(blank=True)),
            ],
        ),
        migrations.RunPython(results_to_table, results_to_row),
        migrations.RemoveField(
            model_name='backtest',
            name='equity_curve',
        ),
        migrations.RemoveField(
            model_name='backtest',
            name='metrics',
        ),
        migrations.RemoveField(
            model_name='backtest',
            name='sandbox_log',
        ),
        migrations.RemoveField(
            model_name='backtest',
            name='timings',
        ),
    ]
