"""Django's database sessions, without the round trips that buy nothing.

Same table, same signed and serialized data, same expiry as ``django.contrib.sessions.backends.db``;
what changes is how many statements a sign-in costs:

- a new key is not first looked up (``create`` inserts with ``must_create`` and draws again on the
  unique key's clash, so the lookup only doubled the work);
- deleting a session is one ``DELETE``, not a ``SELECT`` then a ``DELETE``;
- creating is one ``INSERT`` and updating one ``UPDATE``, with no savepoint around either;
- a save that would write exactly what this request already wrote is skipped, so a view can save
  its session inside its own transaction and the middleware's save at the end costs nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import IntegrityError, connection
from django.utils import timezone
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._written: bytes | None = None

    def _get_new_session_key(self) -> str:
        # 32 characters from 36: a clash is never expected, and create() handles one anyway.
        return get_random_string(32, VALID_KEY_CHARS)

    def _payload(self, data: dict[str, Any]) -> bytes:
        return self.serializer().dumps(data)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        payload = self._payload(data)
        if must_create:
            obj = self.create_model_instance(data)
            try:
                # No savepoint: the key is 165 random bits, so the unique index is a formality,
                # and a savepoint would cost two more round trips inside every sign-in.
                obj.save(force_insert=True)
            except IntegrityError as exc:
                raise CreateError from exc
        elif payload == self._written:
            return None
        else:
            updated = self.model.objects.filter(session_key=self.session_key).update(
                session_data=self.encode(data), expire_date=self.get_expiry_date()
            )
            if not updated:
                raise UpdateError
        self._written = payload
        return None

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
            self._written = None
        self.model.objects.filter(session_key=session_key).delete()

    def cycle_key(self) -> None:
        self._written = None
        super().cycle_key()

    def take(self) -> dict[str, Any]:
        """Read this session and delete it in one statement: whoever takes it first has it, once.

        For single-use handoffs (the SAML response parked between the ACS's two steps): of two
        requests racing with the same key, only one gets the data. An expired session gives nothing.
        """
        key = self.session_key
        self._session_key = None
        self._written = None
        if not key:
            return {}
        table = connection.ops.quote_name(self.model._meta.db_table)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE session_key = %s RETURNING session_data, expire_date > %s",  # noqa: S608
                [key, now],
            )
            row = cursor.fetchone()
        if row is None or not row[1]:
            return {}
        return self.decode(row[0])
