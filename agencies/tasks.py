"""Background work for roster imports: thin tasks that re-read the import and call one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from agencies.models import RosterImport
from agencies.services import roster_import_check as check_service
from agencies.services import roster_import_run as run_service


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def roster_import_check(roster_import_id: int) -> None:
    roster_import = RosterImport.objects.select_related("agency").filter(pk=roster_import_id).first()
    if roster_import is None or roster_import.state != RosterImport.State.CHECKING:
        return
    check_service(roster_import=roster_import, batch_size=settings.ROSTER_IMPORT_BATCH_SIZE)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def roster_import_run(roster_import_id: int) -> None:
    roster_import = (
        RosterImport.objects.select_related("agency", "created_by").filter(pk=roster_import_id).first()
    )
    if roster_import is None or roster_import.state not in (
        RosterImport.State.QUEUED,
        RosterImport.State.IMPORTING,
    ):
        return
    run_service(roster_import=roster_import, batch_size=settings.ROSTER_IMPORT_BATCH_SIZE)


@shared_task(name="agencies.sweep_roster_imports", ignore_result=True)
def sweep_roster_imports() -> int:
    """Queue again the imports whose message was lost (see ``roster_imports_sweep``)."""
    from agencies.services import roster_imports_sweep

    return roster_imports_sweep()
