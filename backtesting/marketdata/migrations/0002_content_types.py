"""Content types (and so admin permissions and log entries) follow the models to `marketdata`.

A database migrated by the old history has rows ('backtesting', 'instrument'|'bar'|
'seriesversion'); relabelling them keeps their ids, so the permissions granted on them carry
over. A fresh database has none yet (post_migrate creates them after this runs): nothing to do.
"""

from django.db import migrations

MODELS = ("instrument", "bar", "seriesversion")


def relabel(apps, from_label: str, to_label: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        # If the new row exists already (post_migrate ran before), keep it: never two rows.
        if content_type.objects.filter(app_label=to_label, model=model).exists():
            continue
        content_type.objects.filter(app_label=from_label, model=model).update(app_label=to_label)


def content_types_forward(apps, schema_editor) -> None:
    relabel(apps, "backtesting", "marketdata")


def content_types_backward(apps, schema_editor) -> None:
    relabel(apps, "marketdata", "backtesting")


class Migration(migrations.Migration):

    dependencies = [
        ('marketdata', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
