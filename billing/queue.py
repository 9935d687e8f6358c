"""Queue billing tasks once the transaction that made them necessary has committed."""

from __future__ import annotations

from django.db import transaction


def after_commit(task: str, *args: object) -> None:
    """Send ``billing.tasks.<task>`` after commit, so it never runs before its rows exist."""

    def send() -> None:
        from billing import tasks  # the tasks import the services that call this

        getattr(tasks, task).delay(*args)

    transaction.on_commit(send)
