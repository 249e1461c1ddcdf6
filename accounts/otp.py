"""TOTP devices: enrol, confirm, verify, disable; QR codes rendered locally as SVG.

One TOTP device per user. Enrolment creates an unconfirmed device (the secret is shown
once, as an otpauth:// URL, a base32 string and a QR code); confirming it with a valid
code turns two-factor on. django-otp's TOTPDevice throttles repeated bad codes itself.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from tradeplatform.errors import ConflictError, DomainValidationError


@dataclass(frozen=True)
class TotpEnrolment:
    device: TOTPDevice
    secret: str
    otpauth_url: str
    qr_data_uri: str


def totp_device_for(user: User, *, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).first()


def qr_svg_data_uri(text: str) -> str:
    """A QR code as an SVG data: URI (allowed by the CSP's img-src; no external service)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def totp_enrol_start(user: User) -> TotpEnrolment:
    """A new unconfirmed device; ConflictError if two-factor is already on."""
    if totp_device_for(user) is not None:
        raise ConflictError("Two-factor authentication is already on; disable it first.")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()  # abandoned attempts
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return _enrolment(device)


def totp_pending_enrolment(user: User) -> TotpEnrolment | None:
    device = totp_device_for(user, confirmed=False)
    return _enrolment(device) if device else None


def _enrolment(device: TOTPDevice) -> TotpEnrolment:
    url = device.config_url
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return TotpEnrolment(
        device=device, secret=secret, otpauth_url=url, qr_data_uri=qr_svg_data_uri(url)
    )


def totp_verify(device: TOTPDevice | None, code: str | None) -> bool:
    code = (code or "").strip().replace(" ", "")
    if device is None or not code.isdigit():
        return False
    return bool(device.verify_token(code))


def totp_enrol_confirm(user: User, code: str) -> TOTPDevice:
    device = totp_device_for(user, confirmed=False)
    if device is None:
        raise DomainValidationError("Start two-factor enrolment first.")
    if not totp_verify(device, code):
        raise DomainValidationError("The code is not valid.", details={"otp": ["Invalid code."]})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


def totp_disable(user: User, code: str) -> None:
    device = totp_device_for(user)
    if device is None:
        raise ConflictError("Two-factor authentication is not on.")
    if not totp_verify(device, code):
        raise DomainValidationError("The code is not valid.", details={"otp": ["Invalid code."]})
    TOTPDevice.objects.filter(user=user).delete()
