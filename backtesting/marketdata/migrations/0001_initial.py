"""Market data becomes its own app: the models enter this app's state only.

The tables were created by backtesting.0001_marketdata and keep their names (db_table), so
no data moves; backtesting.0004_marketdata_own_app then drops the models from its state.
"""

import django.db.models.deletion
import django.db.models.functions.text
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('backtesting', '0001_marketdata'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Instrument',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('symbol', models.CharField(max_length=32, unique=True)),
                        ('name', models.CharField(blank=True, max_length=200)),
                        ('asset_class', models.CharField(choices=[('equity', 'Equity'), ('fx', 'FX'), ('crypto', 'Crypto'), ('future', 'Future'), ('index', 'Index')], default='equity', max_length=16)),
                        ('exchange', models.CharField(blank=True, max_length=32)),
                        ('currency', models.CharField(default='USD', max_length=8)),
                        ('timezone', models.CharField(default='UTC', max_length=64)),
                        ('price_tick', models.DecimalField(decimal_places=10, default=Decimal('0.01'), max_digits=18)),
                        ('is_active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'marketdata_instrument',
                        'ordering': ['symbol'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('symbol', django.db.models.functions.text.Upper('symbol')), models.Q(('symbol', ''), _negated=True)), name='marketdata_instrument_symbol_upper')],
                    },
                ),
                migrations.CreateModel(
                    name='Bar',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('timeframe', models.CharField(choices=[('1m', '1 minute'), ('5m', '5 minutes'), ('15m', '15 minutes'), ('1h', '1 hour'), ('4h', '4 hours'), ('1d', '1 day'), ('1w', '1 week')], max_length=3)),
                        ('timestamp', models.DateTimeField()),
                        ('open', models.FloatField()),
                        ('high', models.FloatField()),
                        ('low', models.FloatField()),
                        ('close', models.FloatField()),
                        ('volume', models.FloatField(default=0.0)),
                        ('instrument', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='bars', to='marketdata.instrument')),
                    ],
                    options={
                        'db_table': 'marketdata_bar',
                        'constraints': [models.UniqueConstraint(fields=('instrument', 'timeframe', 'timestamp'), name='marketdata_bar_unique_ts'), models.CheckConstraint(condition=models.Q(('low__gt', 0)), name='marketdata_bar_prices_positive'), models.CheckConstraint(condition=models.Q(('low__lte', models.F('open')), ('low__lte', models.F('close'))), name='marketdata_bar_low_lowest'), models.CheckConstraint(condition=models.Q(('high__gte', models.F('open')), ('high__gte', models.F('close'))), name='marketdata_bar_high_highest'), models.CheckConstraint(condition=models.Q(('volume__gte', 0)), name='marketdata_bar_volume_nonneg')],
                    },
                ),
                migrations.CreateModel(
                    name='SeriesVersion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('timeframe', models.CharField(choices=[('1m', '1 minute'), ('5m', '5 minutes'), ('15m', '15 minutes'), ('1h', '1 hour'), ('4h', '4 hours'), ('1d', '1 day'), ('1w', '1 week')], max_length=3)),
                        ('version', models.PositiveBigIntegerField(default=0)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('instrument', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='marketdata.instrument')),
                    ],
                    options={
                        'db_table': 'marketdata_series_version',
                        'constraints': [models.UniqueConstraint(fields=('instrument', 'timeframe'), name='marketdata_version_unique')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
