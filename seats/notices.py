"""E-mail notices: recorded once (the unique key), sent after commit through Django's e-mail backend.

Sending claims the row first (``sent_at`` set in a conditional UPDATE), so two workers or two
overlapping runs never send the same notice twice; a failed send is released for a later try.
Addresses are the agency work addresses of employees and staff accounts, never the .gov
registry's contacts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from seats.models import Notice

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5
CHUNK = 200


@dataclass(frozen=True)
class NoticeDraft:
    """A notice to record; ``key`` decides whether it already was."""

    key: str
    kind: str
    allocation_id: int
    email: str
    context: dict
    seat_id: int | None = None
    user_id: int | None = None
    employee_id: int | None = None


@transaction.atomic(savepoint=False)
def notices_record(*, drafts: Iterable[NoticeDraft], now: datetime) -> int:
    """Record notices not recorded before and send them after commit; returns how many are owed.

    A notice whose key exists is skipped by the database (the unique key), which also settles two
    runs at once: both insert, one row stays, and the send claim lets one e-mail out.
    """
    owed = 0
    batch: list[NoticeDraft] = []
    for draft in drafts:
        batch.append(draft)
        if len(batch) >= 2000:
            owed += _record_batch(batch, now)
            batch = []
    if batch:
        owed += _record_batch(batch, now)
    return owed


def _record_batch(drafts: Sequence[NoticeDraft], now: datetime) -> int:
    keys = [d.key for d in drafts]
    known = set(Notice.objects.filter(key__in=keys).values_list("key", flat=True))
    fresh = [
        Notice(
            key=d.key,
            kind=d.kind,
            allocation_id=d.allocation_id,
            seat_id=d.seat_id,
            user_id=d.user_id,
            employee_id=d.employee_id,
            email=d.email,
            context=d.context,
            created_at=now,
        )
        for d in drafts
        if d.key not in known and d.email
    ]
    if not fresh:
        return 0
    Notice.objects.bulk_create(fresh, ignore_conflicts=True)
    ids = list(
        Notice.objects.filter(key__in=[n.key for n in fresh], sent_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    transaction.on_commit(lambda: dispatch_notices(ids))
    return len(ids)


def dispatch_notices(ids: Sequence[int]) -> None:
    from seats.tasks import send_notices

    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        try:
            send_notices.apply_async(args=(chunk,), retry_policy={"max_retries": 1, "interval_start": 0})
        except Exception:
            logger.warning(
                "broker unreachable: %d notices wait for the resend sweep", len(chunk), exc_info=True
            )


def _render(notice: Notice) -> EmailMultiAlternatives:
    context = {**notice.context, "notice": notice, "site_url": settings.SITE_URL.rstrip("/")}
    subject = " ".join(render_to_string(f"emails/{notice.kind}.subject.txt", context).split())
    text = render_to_string(f"emails/{notice.kind}.txt", context)
    html = render_to_string(f"emails/{notice.kind}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[notice.email])
    message.attach_alternative(html, "text/html")
    return message


def notices_send(*, notice_ids: Sequence[int]) -> int:
    """Send these notices (each at most once); returns how many went out."""
    sent = 0
    connection = get_connection()
    for notice in Notice.objects.filter(pk__in=list(notice_ids), sent_at__isnull=True):
        now = timezone.now()
        claimed = Notice.objects.filter(pk=notice.pk, sent_at__isnull=True).update(
            sent_at=now, attempts=F("attempts") + 1
        )
        if not claimed:
            continue
        try:
            connection.send_messages([_render(notice)])
        except Exception as exc:
            Notice.objects.filter(pk=notice.pk).update(sent_at=None, last_error=str(exc)[:2000])
            logger.warning("notice %s to %s not sent: %s", notice.pk, notice.email, exc)
            continue
        sent += 1
    return sent


def notices_unsent_ids(*, now: datetime, older_than: timedelta = timedelta(minutes=5)) -> list[int]:
    """Notices whose send message was lost or failed, for the resend sweep."""
    return list(
        Notice.objects.filter(
            sent_at__isnull=True, created_at__lte=now - older_than, attempts__lt=MAX_SEND_ATTEMPTS
        ).values_list("pk", flat=True)[:5000]
    )
