"""Create a group per role with its permissions, and put existing users in theirs."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def forwards(apps, schema_editor):
    from accounts.roles import ROLE_GROUPS, sync_role_groups

    # Permissions are normally created after all migrations; make ours exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    sync_role_groups(Group, apps.get_model("auth", "Permission"))
    User = apps.get_model("accounts", "User")
    for role, name in ROLE_GROUPS.items():
        group = Group.objects.get(name=name)
        for user in User.objects.filter(role=role):
            user.groups.add(group)


def backwards(apps, schema_editor):
    from accounts.roles import ROLE_GROUPS

    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_GROUPS.values()).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_token_version_quotas"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
