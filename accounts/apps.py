from django.apps import AppConfig, apps
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
        # django-otp's sign-in page, in plain English and saying where to turn two-factor on.
        admin.site.login_template = "admin/two_factor_login.html"
        admin.site.site_header = admin.site.site_title = "tradeplatform admin"
        admin.site.index_title = "Operators' console"
        # Third-party app headings the admin index shows ("Otp_Totp" reads as code).
        apps.get_app_config("otp_totp").verbose_name = "Two-factor devices"
        apps.get_app_config("token_blacklist").verbose_name = "API tokens"
        # Apps migrated after ours add permissions the role groups must include.
        post_migrate.connect(sync_role_groups_after_migrate, dispatch_uid="accounts_role_groups")
