"""DRF permission classes, written once for every API of the platform.

    from accounts.permissions import (
        IsViewer, IsTrader, IsOperator, IsTraderOrReadOnly, IsOwnerOrOperator,
    )

    class StrategyListCreateApi(APIView):
        permission_classes = [IsTraderOrReadOnly]   # viewers read, traders write

    class StrategyDetailApi(APIView):
        permission_classes = [IsTraderOrReadOnly, IsOwnerOrOperator]
        # fetch with accounts.ownership.get_visible_or_404(...) and call
        # self.check_object_permissions(request, obj) before changing it.

Role classes (view level; anonymous -> 401, wrong role -> 403 envelope):
- `IsViewer`: any active authenticated user (every role ranks at least viewer).
- `IsTrader`: traders, operators, superusers: whoever may write strategies and run code.
- `IsTraderOrReadOnly`: safe methods for any user, the rest as IsTrader.
- `IsOperator`: operators and superusers *with a verified TOTP device* for this session/token
  (see accounts.access.has_operator_access). Unverified operators get 403 with code
  `otp_required`; for JWT, obtain the token with the `otp` field.

Object class:
- `IsOwnerOrOperator`: the owner (the object's `owner` attribute, or `owner_attr` on the
  view) or a verified operator may do anything; anyone else may *read* a row whose
  `is_shared`/`shared` attribute (or the view's `shared_attr`) is true; changing it is
  403. A row the user cannot see at all raises 404 (never 403), so a view that forgot to
  scope its queryset still leaks nothing.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.access import has_operator_access, has_role, is_otp_verified
from accounts.models import Role


class OtpRequired(PermissionDenied):
    default_detail = (
        "This requires two-factor verification: log in with your TOTP code "
        "(the `otp` field of /api/v1/auth/token/)."
    )
    default_code = "otp_required"


class IsViewer(BasePermission):
    message = "You need an active account to do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, Role.VIEWER)


class IsTrader(BasePermission):
    message = "Only traders can do this; your role is read-only."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, Role.TRADER)


class IsTraderOrReadOnly(BasePermission):
    message = IsTrader.message

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return has_role(request.user, Role.VIEWER)
        return has_role(request.user, Role.TRADER)


class IsOperator(BasePermission):
    message = "Only operators can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not has_role(request.user, Role.OPERATOR):
            return False
        if not is_otp_verified(request.user):
            raise OtpRequired()
        return True


def _is_shared(obj: Any, view: Any) -> bool:
    attr = getattr(view, "shared_attr", None)
    if attr:
        return bool(getattr(obj, attr, False))
    return bool(getattr(obj, "is_shared", False) or getattr(obj, "shared", False))


class IsOwnerOrOperator(BasePermission):
    message = "Only the owner can change this object."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, Role.VIEWER)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        user = request.user
        owner_id = getattr(obj, getattr(view, "owner_attr", "owner") + "_id", None)
        if has_operator_access(user) or (owner_id is not None and owner_id == user.pk):
            return True
        if _is_shared(obj, view):
            return request.method in SAFE_METHODS
        raise NotFound()
