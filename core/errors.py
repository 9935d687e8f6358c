"""The one family of domain errors. Each says what happened and what to do about it.

Services raise these; the API exception handler and the portal's view mixin map them to
HTTP once (``http_status``), so no view invents its own wording.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses. ``code`` is stable for clients; ``message`` is for people."""

    code = "domain_error"
    http_status = 409

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    code = "invalid_input"
    http_status = 400


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


# --- pools and seats ----------------------------------------------------------------------------
class PoolExhausted(DomainError):
    code = "pool_exhausted"


class TermEnded(DomainError):
    code = "term_ended"


class TermNotStarted(DomainError):
    code = "term_not_started"


class ResizeBelowAssigned(DomainError):
    code = "resize_below_assigned"


class ParentPoolExceeded(DomainError):
    code = "parent_pool_exceeded"


class AllocationExists(DomainError):
    code = "allocation_exists"


class AllocationNotAllowed(DomainError):
    code = "allocation_not_allowed"


class AlreadyClaimed(DomainError):
    code = "already_claimed"


class EmployeeNotActive(DomainError):
    code = "employee_not_active"


class ForeignAgency(DomainError):
    code = "foreign_agency"
    http_status = 403


class InvalidTransition(DomainError):
    code = "invalid_transition"


class RenewalNotAllowed(DomainError):
    code = "renewal_not_allowed"


# --- agencies and domains -----------------------------------------------------------------------
class DomainNotFederal(DomainError):
    code = "domain_not_federal"
    http_status = 400


class DomainTaken(DomainError):
    code = "domain_taken"


class EmailDomainUnknown(DomainError):
    code = "email_domain_unknown"
    http_status = 400


class EmployeeExists(DomainError):
    code = "employee_exists"


# --- renewals and billing -----------------------------------------------------------------------
class RenewalExists(DomainError):
    code = "renewal_exists"


class PurchaseOrderRequired(DomainError):
    code = "purchase_order_required"
    http_status = 400


class NotPermitted(DomainError):
    """The actor's role does not allow this action (views answer 404 before this is reached)."""

    code = "not_permitted"
    http_status = 403


class BillingUnavailable(DomainError):
    """Stripe is not configured or did not answer; the action can be retried later."""

    code = "billing_unavailable"
    http_status = 503


# --- vendor provisioning ------------------------------------------------------------------------
class ConnectorNotConfigured(DomainError):
    code = "connector_not_configured"


class ReconcileNotSupported(DomainError):
    code = "reconcile_not_supported"


class JobNotRetryable(DomainError):
    code = "job_not_retryable"


# --- single sign-on -----------------------------------------------------------------------------
class IdentityProviderInvalid(DomainError):
    """IdP metadata or settings an agency tried to register that cannot work."""

    code = "identity_provider_invalid"
    http_status = 400


class EntityIdTaken(DomainError):
    code = "entity_id_taken"


class SignInRefused(DomainError):
    """A SAML response (or the person it names) the platform will not sign in."""

    code = "sign_in_refused"
    http_status = 403

    def __init__(self, message: str, *, reason: str, http_status: int | None = None, **context: object):
        super().__init__(message, reason=reason, **context)
        self.reason = reason
        if http_status is not None:
            self.http_status = http_status


# --- domain verification ------------------------------------------------------------------------
class DnsLookupFailed(DomainError):
    code = "dns_lookup_failed"
    http_status = 503
