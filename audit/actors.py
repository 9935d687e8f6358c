"""Who did it: a person, an integration token, or the platform itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True)
class Actor:
    """The author of a change as the audit trail records it."""

    label: str
    kind: str = "system"  # user | token | system
    user_id: int | None = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(label=label, kind="system")

    @classmethod
    def token(cls, label: str) -> Actor:
        return cls(label=label, kind="token")

    @classmethod
    def for_user(cls, user: AbstractBaseUser) -> Actor:
        label = getattr(user, "email", "") or user.get_username()
        return cls(label=label, kind="user", user_id=user.pk)


ActorLike = Union[Actor, "AbstractBaseUser", "AnonymousUser"]


def as_actor(actor: ActorLike) -> Actor:
    if isinstance(actor, Actor):
        return actor
    if getattr(actor, "is_authenticated", False):
        return Actor.for_user(actor)  # type: ignore[arg-type]
    raise TypeError("An anonymous visitor cannot be the actor of a change.")
