"""Domain exceptions. Services raise these; the API turns them into the error envelope."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "error"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class DomainValidationError(DomainError):
    status_code = 400
    code = "validation_error"
    default_message = "The request is not valid."


class NotFoundError(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class PermissionDeniedError(DomainError):
    status_code = 403
    code = "permission_denied"
    default_message = "You do not have permission to do this."


class ConflictError(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class RateLimitedError(DomainError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests; slow down."

    def __init__(
        self, message: str | None = None, *, retry_after: int | None = None, details: Any = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class DependencyUnavailableError(DomainError):
    status_code = 503
    code = "dependency_unavailable"
    default_message = "A service this request needs is unavailable; try again shortly."
