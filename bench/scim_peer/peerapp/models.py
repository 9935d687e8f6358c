from django.contrib.auth.models import AbstractUser
from django_scim.models import AbstractSCIMUserMixin


class User(AbstractSCIMUserMixin, AbstractUser):
    """The user model django-scim2 asks for."""

    @property
    def scim_groups(self):  # type: ignore[no-untyped-def]
        return self.groups
