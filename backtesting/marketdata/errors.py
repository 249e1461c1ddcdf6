"""Market-data errors; the API turns them into the JSON error envelope."""

from __future__ import annotations

from tradeplatform.errors import DependencyUnavailableError, DomainValidationError


class BarImportError(DomainValidationError):
    """The file is not valid; `details` holds the full validation report and nothing was written."""

    code = "invalid_bar_file"
    default_message = "The file is not valid; nothing was imported."


class ProviderError(DependencyUnavailableError):
    """A data provider failed (after retries) or answered something we cannot use."""

    code = "provider_error"
    default_message = "The market-data provider failed."


class TransientProviderError(ProviderError):
    """Worth retrying: timeouts, connection errors, 429 and 5xx."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderDataError(ProviderError):
    """The provider answered, but with a payload we cannot use; retrying will not help."""

    code = "provider_bad_payload"


class ProviderUnavailableError(ProviderError):
    """The circuit breaker is open: we fail fast instead of calling the provider."""

    code = "provider_circuit_open"
    default_message = "The market-data provider is failing; calls are paused for a while."
