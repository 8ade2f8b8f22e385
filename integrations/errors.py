"""Errors from outside systems, classified by what to do about them (Singer SDK style).

- ``FatalError``: stop and report (bad credentials, bad request): retrying will not help.
- ``RetriableError``: try again later (429, 5xx, timeouts), optionally after ``retry_after``.
- ``SkippableError``: this record is bad; count it, skip it, go on with the others.
"""

from __future__ import annotations


class IntegrationError(Exception):
    """Base of every classified error from an outside system."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class FatalError(IntegrationError):
    pass


class RetriableError(IntegrationError):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class SkippableError(IntegrationError):
    pass


def classify_http(
    status: int, message: str, *, code: str | None = None, retry_after: float | None = None
) -> IntegrationError:
    """The one mapping: 429 and 5xx are retriable, any other 4xx is fatal."""
    if status == 429 or status >= 500:
        return RetriableError(message, status=status, code=code, retry_after=retry_after)
    return FatalError(message, status=status, code=code)
