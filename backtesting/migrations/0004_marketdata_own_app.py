"""Market data moved to its own app (label `marketdata`): drop its models from this app's state.

State only: the tables (marketdata_instrument, marketdata_bar, marketdata_series_version) stay
as they are and now belong to marketdata.0001_initial. Backtest.instruments points at the
moved Instrument first, so the state never holds a relation to a model that is gone.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('backtesting', '0003_backtest_owner_running'),
        ('marketdata', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='backtest',
                    name='instruments',
                    field=models.ManyToManyField(related_name='backtests', to='marketdata.instrument'),
                ),
                migrations.DeleteModel(name='Bar'),
                migrations.DeleteModel(name='SeriesVersion'),
                migrations.DeleteModel(name='Instrument'),
            ],
            database_operations=[],
        ),
    ]
