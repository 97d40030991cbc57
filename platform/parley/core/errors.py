"""One error hierarchy. Actions raise these; the API renders them in Meta's error envelope
and the console renders them as form errors."""

from __future__ import annotations

from typing import Any


class ParleyError(Exception):
    """A problem the caller can act on. `code`/`subcode` follow the Graph API's numbering."""

    http_status = 400
    code = 100
    error_type = "OAuthException"
    subcode: int | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def error_data(self) -> dict[str, Any] | None:
        """Details a client can act on, rendered as the envelope's `error_data`."""
        return None


class InvalidParameter(ParleyError):
    """Code 100: invalid parameter."""

    code = 100


class NotFound(ParleyError):
    """Unknown ids and other tenants' ids look the same: nothing is there."""

    http_status = 404
    code = 100
    subcode = 33


class PermissionDenied(ParleyError):
    http_status = 403
    code = 10


class Conflict(ParleyError):
    http_status = 409
    code = 100


class UnknownPath(ParleyError):
    """Code 2500, as the Graph API answers a path (or an API version) it does not serve."""

    code = 2500


class PayloadTooLarge(ParleyError):
    http_status = 413
    code = 100


class AuthenticationFailed(ParleyError):
    http_status = 401
    code = 190


class RateLimited(ParleyError):
    http_status = 429
    code = 4

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountLocked(ParleyError):
    http_status = 403
    code = 368

    def __init__(self, message: str, *, until_seconds: int) -> None:
        super().__init__(message)
        self.until_seconds = until_seconds


class MessagingError(ParleyError):
    """A Cloud API messaging error: its own code (131xxx, 133xxx, …), Meta's title as the
    message and what exactly is wrong in `error_data.details`."""

    def __init__(self, code: int, title: str, details: str, *, http_status: int = 400) -> None:
        super().__init__(f"(#{code}) {title}")
        self.code = code
        self.http_status = http_status
        self.details = details

    def error_data(self) -> dict[str, Any] | None:
        return {"messaging_product": "whatsapp", "details": self.details}
