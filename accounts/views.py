"""Browser pages: account, sign-in/out, sign-up, passwords and two-factor (sessions + CSRF)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts import otp, services
from accounts.access import is_otp_verified, signed_in_user
from accounts.forms import LoginForm, OtpCodeForm, ProfileForm, SignupForm
from accounts.quotas import quota_usage
from tradeplatform.errors import DomainError


class LoginView(auth_views.LoginView):
    # LoginView only needs a form that takes `request` and has get_user(); django-stubs
    # insists on an AuthenticationForm subclass, whose clean() would authenticate again.
    form_class = LoginForm  # type: ignore[assignment]
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_valid(form)  # type: ignore[arg-type]  # logs in, rotates the key
        if form.result is not None and form.result.device is not None:
            otp_login(self.request, form.result.device)
        return response


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): a GET link could log anyone out from another site."""

    next_page = settings.LOGOUT_REDIRECT_URL


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if not settings.REGISTRATION_OPEN:
        return render(request, "accounts/registration_closed.html", status=403)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.register()
        if user is not None:
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome! Your account is ready.")
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/signup.html", {"form": form})


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        # The service also revokes every JWT; this session is kept by the new auth hash.
        services.user_set_password(
            user=form.user, new_password=form.cleaned_data["new_password1"], field="new_password1"
        )
        update_session_auth_hash(self.request, form.user)
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        services.user_set_password(
            user=form.user, new_password=form.cleaned_data["new_password1"], field="new_password1"
        )
        self.request.session.pop(auth_views.INTERNAL_RESET_SESSION_TOKEN, None)
        return HttpResponseRedirect(self.get_success_url())


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The signed-in user's page: profile (editable), security links, API how-to, quotas."""
    user = signed_in_user(request.user)
    initial = {"display_name": user.display_name, "email": user.email}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and form.save(user) is not None:
        messages.success(request, "Your profile is saved.")
        return redirect("accounts:account")
    two_factor_on = otp.totp_device_for(user) is not None
    context: dict[str, Any] = {
        "form": form,
        "profile_user": user,
        "two_factor_on": two_factor_on,
        "quotas": quota_usage(user),
        "api": _api_examples(request, user.username, otp_on=two_factor_on),
    }
    return render(request, "accounts/account.html", context)


def _api_examples(request: HttpRequest, username: str, *, otp_on: bool) -> dict[str, str]:
    """curl commands for this user against this host's real endpoints (escaped by the template)."""
    token_url = request.build_absolute_uri(reverse("auth-token"))
    refresh_url = request.build_absolute_uri(reverse("auth-token-refresh"))
    strategies_url = request.build_absolute_uri(reverse("api-strategies"))
    credentials = f'"username": "{username}", "password": "YOUR_PASSWORD"'
    if otp_on:
        credentials += ', "otp": "123456"'
    json_header = "-H 'Content-Type: application/json'"
    return {
        "token_url": token_url,
        "obtain": f"curl -s -X POST {token_url} {json_header} \\\n  -d '{{{credentials}}}'",
        "refresh": (
            f"curl -s -X POST {refresh_url} {json_header} \\\n"
            '  -d "{\\"refresh\\": \\"$REFRESH\\"}"'
        ),
        "strategies": f'curl -s {strategies_url} -H "Authorization: Bearer $ACCESS"',
    }


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Status, enrolment (QR code + confirm) and disabling of the TOTP device."""
    user = signed_in_user(request.user)
    form = OtpCodeForm(request.POST if "otp" in request.POST else None)
    action = request.POST.get("action")
    try:
        if action == "start":
            otp.totp_enrol_start(user)
        elif action == "confirm" and form.is_valid():
            device = otp.totp_enrol_confirm(user, form.cleaned_data["otp"])
            otp_login(request, device)
            messages.success(request, "Two-factor authentication is on.")
            return redirect("accounts:two_factor")
        elif action == "disable" and form.is_valid():
            otp.totp_disable(user, form.cleaned_data["otp"])
            messages.success(request, "Two-factor authentication is off.")
            return redirect("accounts:two_factor")
    except DomainError as exc:
        form.add_error(None, exc.message)
    context: dict[str, Any] = {
        "form": form,
        "device": otp.totp_device_for(user),
        "enrolment": otp.totp_pending_enrolment(user),
        "verified": is_otp_verified(user),
    }
    return render(request, "accounts/two_factor.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """Prove a code for this session (e.g. before the admin); ?next= is honoured if safe."""
    device = otp.totp_device_for(signed_in_user(request.user))
    if device is None:
        return redirect("accounts:two_factor")
    form = OtpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if otp.totp_verify(device, form.cleaned_data["otp"]):
            otp_login(request, device)
            next_url = request.POST.get("next") or request.GET.get("next") or "/"
            from django.utils.http import url_has_allowed_host_and_scheme

            safe = url_has_allowed_host_and_scheme(next_url, {request.get_host()}, True)
            return redirect(next_url if safe else "/")
        form.add_error("otp", "The code is not valid.")
    return render(request, "accounts/two_factor_verify.html", {"form": form})
