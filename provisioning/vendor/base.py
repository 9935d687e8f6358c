"""What every vendor connector speaks: the person we send, the user the vendor keeps, its errors."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from django.utils import timezone


@dataclass(frozen=True)
class Person:
    """The employee as the vendor should see them.

    ``external_id`` is the employee's stable uuid: it names the same person across seats, so a
    person who gets a seat again is the same vendor user, reactivated, never a second one.
    """

    external_id: str
    user_name: str
    email: str
    given_name: str = ""
    family_name: str = ""

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.email


@dataclass(frozen=True)
class VendorUser:
    """A user as the vendor's workspace holds it."""

    id: str
    user_name: str
    external_id: str
    active: bool


class VendorError(Exception):
    """The vendor call did not succeed.

    ``retryable`` says whether trying again later may work (timeouts, 5xx, 429); a refusal
    such as 400, 401 or 403 will not get better by itself and fails the job at once.
    ``retry_after`` carries the vendor's own ``Retry-After``, in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())
