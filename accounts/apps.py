from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib import admin
        from django_otp.admin import OTPAdminSite

        from accounts import schema  # noqa: F401 - registers the OpenAPI auth extension
        from accounts.forms import AdminLoginForm
        from accounts.roles import sync_role_groups_after_migrate

        # The admin demands a verified TOTP device (django-otp's documented way to switch
        # the default site); operators enrol at /accounts/2fa/ first.
        admin.site.__class__ = OTPAdminSite
        admin.site.login_form = AdminLoginForm  # the sign-in lockout applies there too
        # Apps migrated after ours add permissions the role groups must include.
        post_migrate.connect(sync_role_groups_after_migrate, dispatch_uid="accounts_role_groups")
