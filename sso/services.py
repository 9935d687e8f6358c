"""Every write of single sign-on: registering IdPs, remembering used assertions, signing people in.

Signing in is where one agency's IdP could reach into another agency: a person is created or
linked only when the asserted email is on a verified domain inside the IdP agency's subtree, and
every refusal leaves an audit row (written in its own transaction, since nothing else changes).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from allauth.socialaccount.models import SocialAccount, SocialApp
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from agencies.models import Agency, Employee, RoleAssignment
from agencies.selectors import agency_domain_for_email
from agencies.services import employee_create, employee_touch, employee_update, normalize_email
from audit.actors import Actor, ActorLike
from audit.services import audit_record
from core.db import constraint_violated
from core.errors import (
    EmployeeExists,
    EntityIdTaken,
    IdentityProviderInvalid,
    InvalidInput,
    SignInRefused,
)
from sso.metadata import IdpConfig
from sso.models import MAPPING_KEYS, AssertionUse, IdentityProvider, IdpCertificate
from sso.saml import AssertionFacts, social_app_settings

SAML_PROVIDER = "saml"
# Expired assertion ids are forgotten every this many sign-ins (and by prune_saml_assertions).
PRUNE_EVERY = 256


def saml_actor(identity_provider: IdentityProvider) -> Actor:
    return Actor.system(f"saml:{identity_provider.agency.slug}")


# --- registration ---------------------------------------------------------------------------------
def clean_mapping(mapping: dict[str, Any] | None) -> dict[str, list[str]]:
    """Attribute names per field, as given by an administrator (comma-separated text or lists)."""
    cleaned: dict[str, list[str]] = {}
    for key, value in (mapping or {}).items():
        if key not in MAPPING_KEYS:
            raise InvalidInput(f"{key!r} is not a field the platform reads; use {', '.join(MAPPING_KEYS)}.")
        names = value.split(",") if isinstance(value, str) else list(value or [])
        names = [str(n).strip() for n in names if str(n).strip()]
        if any(len(n) > 255 for n in names):
            raise InvalidInput(f"An attribute name for {key} is longer than 255 characters.")
        if names:
            cleaned[key] = names
    return cleaned


def identity_provider_snapshot(idp: IdentityProvider | None) -> dict[str, Any] | None:
    """An IdP's trust settings as audit rows record them before and after a change."""
    if idp is None:
        return None
    return {
        "entity_id": idp.entity_id,
        "sso_url": idp.sso_url,
        "slo_url": idp.slo_url,
        "certificates": [
            {"sha256": c.fingerprint_sha256, "not_after": c.not_after.isoformat()}
            for c in idp.certificates.all()
        ],
    }


def identity_provider_config_apply(
    *,
    identity_provider: IdentityProvider,
    config: IdpConfig,
    mapping: dict[str, list[str]],
    is_development: bool,
    now: datetime | None = None,
) -> IdentityProvider:
    """Write an IdP's settings, its SocialApp and its pinned certificates (the caller audits).

    Runs inside the caller's transaction, with the IdP row locked when it exists.
    """
    idp = identity_provider
    agency = idp.agency
    idp.entity_id = config.entity_id
    idp.sso_url = config.sso_url
    idp.slo_url = config.slo_url
    idp.metadata_url = config.metadata_url
    idp.attribute_mapping = mapping
    idp.is_development = is_development
    # Metadata just read and accepted: whatever the last refresh said about it is over.
    idp.metadata_checked_at = (now or timezone.now()) if config.metadata_url else None
    idp.metadata_error = ""
    settings = social_app_settings(
        entity_id=config.entity_id,
        sso_url=config.sso_url,
        slo_url=config.slo_url,
        certificates=[c.body for c in config.certificates],
        mapping=idp.mapping(),
    )
    app = idp.social_app if idp.social_app_id else None
    if app is None:
        app = SocialApp.objects.filter(provider=SAML_PROVIDER, client_id=agency.slug).first()
    app = app or SocialApp(provider=SAML_PROVIDER, client_id=agency.slug)
    app.provider_id = config.entity_id
    app.name = (agency.abbreviation or agency.name)[:40]
    app.settings = settings
    app.save()
    idp.social_app = app
    idp.save()
    IdpCertificate.objects.filter(identity_provider=idp).delete()
    IdpCertificate.objects.bulk_create(
        IdpCertificate(
            identity_provider=idp,
            pem=c.pem,
            fingerprint_sha256=c.fingerprint_sha256,
            subject=c.subject,
            not_before=c.not_before,
            not_after=c.not_after,
        )
        for c in config.certificates
    )
    return idp


def identity_provider_register(
    *,
    agency: Agency,
    config: IdpConfig,
    actor: ActorLike,
    mapping: dict[str, Any] | None = None,
    is_development: bool = False,
) -> IdentityProvider:
    """Connect an agency to its IdP, or replace its IdP's settings (new metadata, rolled-over keys)."""
    if agency.kind == Agency.Kind.AGGREGATE:
        raise IdentityProviderInvalid("The OPM aggregate is not an agency and cannot have an IdP.")
    owner = IdentityProvider.objects.filter(entity_id=config.entity_id).exclude(agency=agency).first()
    if owner is not None:
        raise EntityIdTaken(
            f"The IdP {config.entity_id} is already registered to {owner.agency.name}. One IdP "
            "entity id serves one agency: if this agency shares its department's IdP, register "
            "it on the department instead (bureaus sign in through their department's IdP)."
        )
    try:
        with transaction.atomic(durable=True):
            existing = (
                IdentityProvider.objects.select_for_update()
                .select_related("social_app")
                .filter(agency=agency)
                .first()
            )
            before = identity_provider_snapshot(existing)
            own_mapping = clean_mapping(mapping) if mapping is not None else None
            if existing is not None and own_mapping is None:
                own_mapping = existing.attribute_mapping
            idp = identity_provider_config_apply(
                identity_provider=existing or IdentityProvider(agency=agency),
                config=config,
                mapping=own_mapping or {},
                is_development=is_development,
            )
            audit_record(
                actor=actor,
                verb="sso.idp.update" if existing else "sso.idp.register",
                target=idp,
                agency_id=agency.pk,
                before=before,
                after=(identity_provider_snapshot(idp) or {}) | {"development": is_development},
            )
    except IntegrityError as exc:
        if constraint_violated(
            exc, "sso_identityprovider_unique_entity_id", "sso_identityprovider.entity_id"
        ):
            raise EntityIdTaken(
                f"The IdP {config.entity_id} was registered to another agency a moment ago."
            ) from exc
        raise
    return idp


def identity_provider_set_mapping(
    *, identity_provider: IdentityProvider, mapping: dict[str, Any], actor: ActorLike
) -> IdentityProvider:
    """Change which assertion attributes hold the email, names, employee number and office."""
    cleaned = clean_mapping(mapping)
    with transaction.atomic(durable=True):
        idp = (
            IdentityProvider.objects.select_for_update()
            .select_related("social_app")
            .get(pk=identity_provider.pk)
        )
        if cleaned == idp.attribute_mapping:
            return idp
        before = idp.attribute_mapping
        idp.attribute_mapping = cleaned
        idp.save(update_fields=["attribute_mapping", "updated_at"])
        app = idp.social_app
        app.settings = {**app.settings, "attribute_mapping": idp.mapping()}
        app.save(update_fields=["settings"])
        audit_record(
            actor=actor,
            verb="sso.idp.mapping",
            target=idp,
            agency_id=idp.agency_id,
            before={"mapping": before},
            after={"mapping": cleaned},
        )
    return idp


def identity_provider_set_enabled(
    *, identity_provider: IdentityProvider, enabled: bool, actor: ActorLike
) -> IdentityProvider:
    with transaction.atomic(durable=True):
        changed = IdentityProvider.objects.filter(pk=identity_provider.pk, is_enabled=not enabled).update(
            is_enabled=enabled, updated_at=timezone.now()
        )
        if changed:
            audit_record(
                actor=actor,
                verb="sso.idp.enable" if enabled else "sso.idp.disable",
                target=identity_provider,
                agency_id=identity_provider.agency_id,
                after={"enabled": enabled},
            )
    identity_provider.refresh_from_db()
    return identity_provider


# --- the ACS ------------------------------------------------------------------------------------
def sign_in_refusal_record(
    *,
    identity_provider: IdentityProvider,
    reason: str,
    detail: str,
    actor: ActorLike,
    request_meta: dict[str, str] | None = None,
) -> None:
    """Audit a refused sign-in. Nothing else changes, so the audit row is the whole transaction."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb="sso.sign_in.refused",
            target=identity_provider,
            agency_id=identity_provider.agency_id,
            after={"reason": reason, "detail": detail[:500], **(request_meta or {})},
        )


def sign_in_throttle_record(
    *, identity_provider: IdentityProvider, scope: str, per: str, limit: int, client_ip: str
) -> None:
    """Audit sign-in requests refused for their rate; the caller records at most one per address a window."""
    with transaction.atomic():
        audit_record(
            actor=saml_actor(identity_provider),
            verb="sso.sign_in.throttled",
            target=identity_provider,
            agency_id=identity_provider.agency_id,
            after={"scope": scope, "per": per, "limit_per_minute": limit, "ip": client_ip},
        )


def assertion_use_record(
    *, identity_provider: IdentityProvider, facts: AssertionFacts, now: datetime
) -> None:
    """Accept an assertion id once. A second use, from any process or browser, is a replay.

    No savepoint: inside the ACS's transaction a replay refuses the whole sign-in anyway.
    """
    try:
        with transaction.atomic(savepoint=False):
            row = AssertionUse.objects.create(
                identity_provider=identity_provider,
                assertion_id=facts.assertion_id[:255],
                used_at=now,
                expires_at=facts.expires_at,
            )
    except IntegrityError as exc:
        if constraint_violated(exc, "sso_assertionuse_once", "sso_assertionuse.identity_provider_id"):
            raise SignInRefused(
                "This sign-in response has been used already. Start a new sign-in.",
                reason="replayed",
                http_status=403,
            ) from exc
        raise
    if row.pk % PRUNE_EVERY == 0:
        assertion_uses_prune(now=now)


def assertion_uses_prune(*, now: datetime | None = None) -> int:
    """Forget assertion ids that no validator would accept any more (past NotOnOrAfter plus skew)."""
    deleted, _ = AssertionUse.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


# --- just-in-time employees ---------------------------------------------------------------------
@dataclass(frozen=True)
class SignIn:
    user: AbstractBaseUser
    employee: Employee
    account: SocialAccount
    employee_created: bool
    account_linked: bool


def _refuse(message: str, reason: str, status: int = 403) -> SignInRefused:
    return SignInRefused(message, reason=reason, http_status=status)


def _is_local_account(user: AbstractBaseUser) -> bool:
    """Staff and password accounts are never taken over by an IdP assertion."""
    if user.has_usable_password() or getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
        return True
    return RoleAssignment.objects.filter(user_id=user.pk).exists()


def _placement(*, idp_agency: Agency, domain_agency: Agency, office: str) -> Agency:
    """The asserted bureau or office when it names one inside the IdP's agency, else the domain's agency."""
    office = (office or "").strip()
    if office:
        match = (
            Agency.objects.subtree_of(idp_agency)
            .filter(Q(slug__iexact=office) | Q(abbreviation__iexact=office) | Q(name__iexact=office))
            .exclude(kind=Agency.Kind.AGGREGATE)
            .order_by("-depth")
            .first()
        )
        if match is not None and match.ancestor_ids()[0] == domain_agency.ancestor_ids()[0]:
            return match
    return domain_agency


def _user_create(*, email: str, given_name: str, family_name: str) -> AbstractBaseUser:
    User = get_user_model()
    username = email[:150]
    if User.objects.filter(username=username).exists():
        username = f"{email[:140]}-{secrets.token_hex(4)}"
    user = User(username=username, email=email, first_name=given_name[:150], last_name=family_name[:150])
    user.set_unusable_password()
    user.save()
    return user


def _text(attributes: dict[str, Any], key: str) -> str:
    value = attributes.get(key)
    return value.strip() if isinstance(value, str) else ""


def saml_sign_in(
    *,
    identity_provider: IdentityProvider,
    uid: str,
    attributes: dict[str, Any],
    actor: ActorLike,
    now: datetime | None = None,
    known_account: SocialAccount | None = None,
) -> SignIn:
    """Resolve an asserted person to their login and employee record, creating or linking both.

    ``actor`` authors the creations and links (the IdP, as ``saml_actor``); the sign-in itself is
    recorded as the person's. ``known_account`` is the linked account allauth has just looked up.
    """

    def attempt(account: SocialAccount | None) -> SignIn:
        return _sign_in(
            identity_provider=identity_provider,
            uid=uid,
            attributes=attributes,
            actor=actor,
            now=now,
            known_account=account,
        )

    try:
        return attempt(known_account)
    except (EmployeeExists, IntegrityError):
        # Two first sign-ins of one person at once (a double-click): the other won; use its rows.
        return attempt(None)


def _sign_in(
    *,
    identity_provider: IdentityProvider,
    uid: str,
    attributes: dict[str, Any],
    actor: ActorLike,
    now: datetime | None,
    known_account: SocialAccount | None,
) -> SignIn:
    idp = identity_provider
    agency = idp.agency
    asserted = _text(attributes, "email")
    if not asserted:
        raise _refuse(
            f"{agency.name}'s sign-in did not send your work email address. Ask your agency's help "
            "desk to release the email attribute to AI Seats.",
            "no_email",
        )
    try:
        email = normalize_email(asserted)
    except InvalidInput as exc:
        raise _refuse(
            f"{agency.name}'s sign-in sent {asserted!r}, which is not an email address.", "bad_email"
        ) from exc
    owner = agency_domain_for_email(email)
    if owner is None:
        raise _refuse(
            f"{email.rpartition('@')[2]} is not a verified email domain of {agency.name}. Your agency "
            "administrator can add the domain; until then you cannot sign in.",
            "email_domain_unknown",
        )
    if not owner.agency.is_within(agency):
        raise _refuse(
            f"{email} belongs to {owner.agency.name}, not to {agency.name}. Sign in through your own "
            "agency's sign-in page.",
            "foreign_agency",
        )
    given, family = _text(attributes, "first_name"), _text(attributes, "last_name")
    number, office = _text(attributes, "employee_number"), _text(attributes, "office")
    moment = now or timezone.now()
    employee_created = account_linked = False
    if known_account is not None and (known_account.provider, known_account.uid) == (idp.entity_id, uid):
        account = known_account
    else:
        account = SocialAccount.objects.select_related("user").filter(provider=idp.entity_id, uid=uid).first()
    employee = None
    if account is not None:
        user = account.user
        employee = Employee.objects.select_related("agency").filter(user_id=user.pk).first()
        if employee is not None and not employee.agency.is_within(agency):
            raise _refuse(
                f"Your record is with {employee.agency.name}, not {agency.name}. Sign in through "
                "your own agency's sign-in page.",
                "foreign_agency",
            )
    else:
        user = None
    # A returning person (known account, employee on record) only has rows updated and an audit
    # row added: nothing can clash, so no savepoint. Creating or linking may race a double-click,
    # which saml_sign_in retries, so that part runs in a savepoint.
    with transaction.atomic(savepoint=account is None or employee is None):
        if employee is None:
            employee = Employee.objects.select_related("agency", "user").filter(email=email).first()
            if employee is not None:
                if not employee.agency.is_within(agency):
                    raise _refuse(
                        f"{email} is on {employee.agency.name}'s roster, not {agency.name}'s. Sign in "
                        "through your own agency's sign-in page.",
                        "foreign_agency",
                    )
                if employee.user_id and user is not None and employee.user_id != user.pk:
                    raise _refuse(
                        f"{email} is already linked to another sign-in. Ask your agency administrator.",
                        "account_conflict",
                    )
                if employee.user is not None and user is None:
                    user = employee.user
                    if _is_local_account(user):
                        raise _refuse(
                            f"{email} belongs to a staff account, which signs in with its password "
                            "and authenticator, not through the agency IdP.",
                            "local_account",
                        )
            if user is None:
                user = _user_create(email=email, given_name=given, family_name=family)
            if employee is None:
                employee = employee_create(
                    agency=_placement(idp_agency=agency, domain_agency=owner.agency, office=office),
                    email=email,
                    source=Employee.Source.SAML,
                    actor=actor,
                    given_name=given,
                    family_name=family,
                    external_id=uid,
                    employee_number=number,
                    user=user,
                    domain_owner=owner,
                )
                employee_created = True
            elif employee.user_id is None:
                linked = Employee.objects.filter(pk=employee.pk, user__isnull=True).update(user=user)
                if not linked:
                    raise IntegrityError("employee linked concurrently")
                employee.user = user
                audit_record(
                    actor=actor,
                    verb="employee.link_user",
                    target=employee,
                    agency_id=employee.agency_id,
                    after={"user": user.get_username(), "via": idp.entity_id},
                )
        if account is None:
            account = SocialAccount.objects.create(
                user=user, provider=idp.entity_id, uid=uid, extra_data=attributes.get("_raw", {})
            )
            account_linked = True
            audit_record(
                actor=actor,
                verb="sso.account.link",
                target=employee,
                agency_id=employee.agency_id,
                after={"idp": idp.entity_id, "uid": uid[:255]},
            )
        elif employee.source == Employee.Source.SAML:
            # The IdP owns the names of people it created; SCIM and rosters own theirs.
            changes: dict[str, Any] = {
                k: v
                for k, v in {"given_name": given, "family_name": family, "employee_number": number}.items()
                if v and getattr(employee, k) != v
            }
            if changes:
                employee = employee_update(employee=employee, actor=actor, **changes)
        employee_touch(employee=employee, at=moment)
        audit_record(
            actor=Actor.for_user(user),
            verb="sso.sign_in",
            target=employee,
            agency_id=employee.agency_id,
            after={"idp": idp.entity_id, "created": employee_created, "linked": account_linked},
            at=moment,
        )
    return SignIn(
        user=user,
        employee=employee,
        account=account,
        employee_created=employee_created,
        account_linked=account_linked,
    )
