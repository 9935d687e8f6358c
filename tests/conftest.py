from __future__ import annotations

import itertools

import pytest
from django.conf import settings

from agencies.models import Employee, RoleAssignment
from tests.factories import (
    AgencyDomainFactory,
    AgencyFactory,
    AllocationFactory,
    EmployeeFactory,
    ProgramFactory,
    RoleAssignmentFactory,
    UserFactory,
)

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(
        reason="needs PostgreSQL: SQLite serialises all writers, so races and row locks cannot be shown; "
        "run with DATABASE_URL=postgres://..."
    )
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL the audit trail refuses TRUNCATE (audit migration 0003) unless the session
    allows it; Django empties tables between transactional tests with TRUNCATE, so the test
    database, and only it, allows it for every connection."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock():
            name = connection.settings_dict["NAME"]
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER DATABASE \"{name}\" SET seats.audit_truncate_allowed = 'on'")
            connection.close()  # the next connection starts with the setting
    yield


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty in-process cache, so rate-limit windows never carry over.

    Only the in-process cache: a run pointed at a shared Redis must not wipe it.
    """
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Users are made in most tests; the production hasher would spend the run hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def redis_test_url(db: int) -> str:
    """A Redis database for the tests that need a real one.

    .ci/run runs the suite on SQLite and on PostgreSQL side by side: the PostgreSQL run takes the
    next database number, so neither run clears the other's keys.
    """
    from django.conf import settings

    shift = 0 if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") else 1
    return f"redis://127.0.0.1:6379/{db + shift}"


def use_real_redis(settings, db: int):
    """Point the default cache at a real Redis database (``redis_test_url(db)``), emptied, and return
    it; skip the test, saying so, when Redis does not answer."""
    import redis
    from django.core.cache import caches

    url = redis_test_url(db)
    try:
        reachable = bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except Exception:
        reachable = False
    if not reachable:
        pytest.skip(f"needs Redis at {url}")
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url},
    }
    cache = caches["default"]
    cache.clear()
    return cache


def use_dead_redis(settings):
    """Point the default cache at a Redis that is down (nothing listens on port 1: every call fails
    at once with a connection error), as in an outage; return it."""
    from django.core.cache import caches

    settings.CACHES = {
        **settings.CACHES,  # the database fallback stays
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    return caches["default"]


def complete_mfa(client, user) -> None:
    """Sign ``user`` in on ``client`` as if they had used their authenticator (staff need one)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, generate_totp_secret())
    client.force_login(user)
    session = client.session
    session["account_authentication_methods_user"] = str(user.pk)
    session["account_authentication_methods"] = [{"method": "mfa", "at": 0, "type": "totp"}]
    session.save()


@pytest.fixture
def staff_login():
    """``staff_login(client, user)``: a staff member signed in with password and second factor."""
    return complete_mfa


@pytest.fixture
def department(db):
    """A department with a verified .gov email domain and one bureau (with its own domain)."""
    agency = AgencyFactory(name="Department of Examples", slug="doe-x", abbreviation="DOX")
    AgencyDomainFactory(agency=agency, domain="examples.gov")
    return agency


@pytest.fixture
def bureau(department):
    agency = AgencyFactory(name="Bureau of Samples", slug="bos", parent=department)
    AgencyDomainFactory(agency=agency, domain="samples.gov")
    return agency


@pytest.fixture
def other_department(db):
    agency = AgencyFactory(name="Department of Elsewhere", slug="elsewhere")
    AgencyDomainFactory(agency=agency, domain="elsewhere.gov")
    return agency


@pytest.fixture
def program(db):
    return ProgramFactory(name="ChatGPT Enterprise (OneGov)", slug="chatgpt-onegov")


@pytest.fixture
def pool(program, department):
    return AllocationFactory(program=program, agency=department, quantity=10)


@pytest.fixture
def employee(department):
    return EmployeeFactory(agency=department, email="ada.lovelace@examples.gov")


_people = itertools.count(1)


@pytest.fixture
def make_employee():
    """Employees on the agency's own verified domain (or its department's)."""

    def make(agency, **kwargs):
        holder = agency
        domain = None
        while domain is None and holder is not None:
            domain = holder.domains.values_list("domain", flat=True).first()
            holder = holder.parent
        if domain and "email" not in kwargs:
            kwargs["email"] = f"person{next(_people)}@{domain}"
        return EmployeeFactory(agency=agency, **kwargs)

    return make


@pytest.fixture
def gsa_admin(db):
    user = UserFactory(username="gsa-admin", email="admin@gsa.gov", is_staff=True)
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.GSA_ADMIN, agency=None)
    return user


@pytest.fixture
def agency_admin(department):
    user = UserFactory(username="dept-admin", email="admin@examples.gov")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=department)
    return user


@pytest.fixture
def celery_eager():
    """Run tasks in-process. Only for tests about something else than Celery itself (the real
    worker is exercised in test_celery_worker.py)."""
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def broker_down():
    """The Celery app publishing to a broker that refuses connections (as production publishes:
    with the outbox's fail-fast retry policy)."""
    from config.celery import app

    before = (app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool)
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    app._pool = app.amqp._producer_pool = None  # both are built again, for the dead broker
    yield
    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool = before


@pytest.fixture
def superuser(db):
    from tests.factories import UserFactory

    return UserFactory(username="root", email="root@gsa.gov", is_staff=True, is_superuser=True)


@pytest.fixture
def deliver_after_commit(celery_eager, django_capture_on_commit_callbacks):
    """Run what a service queued for after commit (e-mails, vendor jobs), with tasks in-process."""

    def run(work):
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return run


@pytest.fixture
def onboarding_staff(department):
    user = UserFactory(username="dept-staff", email="staff@examples.gov")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.ONBOARDING_STAFF, agency=department)
    return user


@pytest.fixture
def outsider_admin(other_department):
    """An agency administrator of another department: everything of ``department`` is a 404."""
    user = UserFactory(username="elsewhere-admin", email="admin@elsewhere.gov")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=other_department)
    return user


@pytest.fixture
def nobody(db):
    """Signed in, but no staff role and no employee record."""
    return UserFactory(username="nobody", email="nobody@example.com")


@pytest.fixture
def employee_user(employee):
    """The login of ``employee`` (as SAML sign-in links it)."""
    user = UserFactory(username="ada", email=employee.email)
    Employee.objects.filter(pk=employee.pk).update(user=user)
    employee.refresh_from_db()
    return user


@pytest.fixture
def claim():
    """Seats are made by the service under test, never by a factory."""
    from audit.actors import Actor
    from seats.services import seat_claim

    def make(pool, employee):
        return seat_claim(allocation=pool, employee=employee, actor=Actor.system("test"))

    return make
