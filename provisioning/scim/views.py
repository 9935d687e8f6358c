"""The HTTP side of the SCIM server under /scim/v2/.

Plain Django views (no DRF: SCIM has its own media type, error shape and paging, and every
millisecond of a sync of a hundred thousand people counts). ``ScimView.dispatch`` authenticates
the bearer token (which alone decides the agency), applies its rate limit, and turns every
refusal into a SCIM Error with a string ``status`` and a ``scimType`` where one applies.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from scim2_models import Context

from agencies.models import Agency
from audit.actors import Actor
from core.errors import DomainError, EmailDomainUnknown, EmployeeExists, ForeignAgency, InvalidInput, NotFound
from provisioning.scim import filters, patch, payloads, preconditions, resources, selectors, services, sorting
from provisioning.scim.filters import FilterError
from provisioning.scim.payloads import ScimProblem
from provisioning.scim.tokens import authenticate

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/scim+json; charset=utf-8"
MAX_BODY = 2_000_000


def scim_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    body = b"" if data is None else json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPE if data is not None else None)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def scim_error(
    status: int, detail: str, scim_type: str | None = None, headers: dict | None = None
) -> HttpResponse:
    data = {"schemas": [resources.ERROR], "status": str(status), "detail": detail}
    if scim_type:
        data["scimType"] = scim_type
    return scim_response(data, status, headers)


def _domain_error(exc: DomainError) -> HttpResponse:
    if isinstance(exc, EmployeeExists):
        return scim_error(409, exc.message, "uniqueness")
    if isinstance(exc, NotFound):
        return scim_error(404, exc.message)
    if isinstance(exc, InvalidInput | EmailDomainUnknown | ForeignAgency):
        return scim_error(400, exc.message, "invalidValue")
    return scim_error(exc.http_status, exc.message)


@method_decorator(csrf_exempt, name="dispatch")
class ScimView(View):
    """Authentication, rate limiting and error mapping shared by every SCIM endpoint."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        admission = authenticate(raw.strip()) if scheme.lower() == "bearer" else None
        if admission is None or admission.token is None:
            return scim_error(
                401,
                "Send a SCIM token of your agency as Authorization: Bearer <token>; an agency "
                "administrator creates one under SCIM tokens.",
                headers={"WWW-Authenticate": 'Bearer realm="SCIM"'},
            )
        if admission.throttled:
            return scim_error(
                429,
                f"This token is limited to {admission.token.rate_limit_per_minute} requests a minute; "
                f"retry after {admission.retry_after} seconds.",
                headers={"Retry-After": str(admission.retry_after)},
            )
        self.token = admission.token
        self.agency: Agency = admission.token.agency
        self.actor = Actor.token(admission.token.name)
        self.base = request.build_absolute_uri("/scim/v2/")
        try:
            return super().dispatch(request, *args, **kwargs)
        except ScimProblem as exc:
            return scim_error(exc.status, exc.detail, exc.scim_type)
        except FilterError as exc:
            return scim_error(400, exc.detail, "invalidFilter")
        except DomainError as exc:
            return _domain_error(exc)
        except Exception:
            # The service's transaction has rolled back; the IdP gets a SCIM error it will retry.
            log.exception("SCIM request failed: %s %s", request.method, request.path)
            return scim_error(500, "The request failed on our side and changed nothing; retry it later.")

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        allowed = ", ".join(m.upper() for m in self._allowed_methods() if m != "options")
        return scim_error(405, f"{request.method} is not allowed here.", headers={"Allow": allowed})

    # --- helpers -----------------------------------------------------------------------------------
    def body(self, request: HttpRequest) -> Any:
        if len(request.body) > MAX_BODY:
            raise ScimProblem("The request body is too large.", 413, None)
        try:
            return json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ScimProblem(f"The request body is not JSON: {exc}.", 400, "invalidSyntax") from exc

    def projection(self, attributes: Any, excluded: Any, extensions: tuple[str, ...]) -> resources.Projection:
        def as_list(value: Any) -> list[str]:
            if value is None:
                return []
            if isinstance(value, list):
                return [str(v) for v in value]
            return [part for part in str(value).split(",")]

        include, exclude = as_list(attributes), as_list(excluded)
        if include and exclude:
            raise ScimProblem("Send attributes or excludedAttributes, not both.", 400, "invalidValue")
        return resources.Projection(include, exclude, extensions)

    @staticmethod
    def _int(value: Any, name: str, default: int) -> int:
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ScimProblem(f"{name} is a whole number.", 400, "invalidValue") from exc

    def paging(self, params: dict) -> tuple[int, int]:
        start = max(self._int(params.get("startIndex"), "startIndex", 1), 1)
        count = min(
            max(self._int(params.get("count"), "count", resources.DEFAULT_PAGE_SIZE), 0),
            resources.MAX_RESULTS,
        )
        return start, count

    def list_response(self, total: int, start: int, items: list[dict]) -> HttpResponse:
        return scim_response(
            {
                "schemas": [resources.LIST_RESPONSE],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": len(items),
                "Resources": items,
            }
        )

    def query_params(self, request: HttpRequest) -> dict:
        return {
            k: request.GET.get(k)
            for k in (
                "filter",
                "startIndex",
                "count",
                "attributes",
                "excludedAttributes",
                "sortBy",
                "sortOrder",
            )
        }

    def search_params(self, request: HttpRequest) -> dict:
        body = self.body(request)
        if not isinstance(body, dict):
            raise ScimProblem("A search is a SearchRequest JSON object.", 400, "invalidSyntax")
        lowered = {k.lower(): v for k, v in body.items()}
        return {
            "filter": lowered.get("filter"),
            "startIndex": lowered.get("startindex"),
            "count": lowered.get("count"),
            "attributes": lowered.get("attributes"),
            "excludedAttributes": lowered.get("excludedattributes"),
            "sortBy": lowered.get("sortby"),
            "sortOrder": lowered.get("sortorder"),
        }


# --- users --------------------------------------------------------------------------------------------
USER_EXTENSIONS = (resources.ENTERPRISE_SCHEMA,)


class UsersView(ScimView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return self.listing(self.query_params(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        state = payloads.user_from_request(self.body(request), context=Context.RESOURCE_CREATION_REQUEST)
        employee, _ = services.scim_user_create(agency=self.agency, state=state, actor=self.actor)
        data = resources.user_dict(employee, self.base)
        return scim_response(
            data, 201, {"Location": data["meta"]["location"], "ETag": data["meta"]["version"]}
        )

    def listing(self, params: dict) -> HttpResponse:
        projection = self.projection(params["attributes"], params["excludedAttributes"], USER_EXTENSIONS)
        q = filters.user_q(params["filter"]) if params["filter"] else Q()
        order = sorting.user_order(params["sortBy"], params["sortOrder"])
        start, count = self.paging(params)
        total, rows = selectors.user_page(agency=self.agency, q=q, start=start, count=count, order=order)
        return self.list_response(
            total, start, [projection.apply(resources.user_dict(r, self.base)) for r in rows]
        )


class UsersSearchView(UsersView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        return self.listing(self.search_params(request))


class UserView(ScimView):
    def user(self, user_id: str):  # type: ignore[no-untyped-def]
        employee = selectors.user_get(agency=self.agency, user_id=user_id)
        if employee is None:
            raise ScimProblem(f"No user with id {user_id} exists here.", 404, None)
        return employee

    def render(self, request: HttpRequest, employee) -> HttpResponse:  # type: ignore[no-untyped-def]
        projection = self.projection(
            request.GET.get("attributes"), request.GET.get("excludedAttributes"), USER_EXTENSIONS
        )
        data = resources.user_dict(employee, self.base)
        version = data["meta"]["version"]
        if request.method == "GET" and preconditions.not_modified(request, version):
            return scim_response(None, 304, {"ETag": version})
        return scim_response(projection.apply(data), headers={"ETag": version})

    def current(self, request: HttpRequest, employee) -> dict:  # type: ignore[no-untyped-def]
        """The locked user as rendered, after checking If-Match against its version."""
        data = resources.user_dict(employee, self.base)
        preconditions.require_match(request, data["meta"]["version"])
        return data

    def checked(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        """If-Match, checked against the user the write has locked."""
        return lambda locked: self.current(request, locked)

    def get(self, request: HttpRequest, user_id: str) -> HttpResponse:
        return self.render(request, self.user(user_id))

    def put(self, request: HttpRequest, user_id: str) -> HttpResponse:
        body = self.body(request)

        def wanted(employee) -> payloads.UserState:  # type: ignore[no-untyped-def]
            self.current(request, employee)
            return payloads.user_from_request(
                body, context=Context.RESOURCE_REPLACEMENT_REQUEST, current_active=employee.status == "active"
            )

        return self.change(request, user_id, wanted)

    def patch(self, request: HttpRequest, user_id: str) -> HttpResponse:
        body = self.body(request)
        return self.change(
            request,
            user_id,
            lambda employee: patch.patch_user(self.current(request, employee), body),
        )

    def change(self, request: HttpRequest, user_id: str, wanted) -> HttpResponse:  # type: ignore[no-untyped-def]
        employee = services.scim_user_change(
            agency=self.agency, user_id=user_id, actor=self.actor, wanted=wanted
        )
        if employee is None:
            raise ScimProblem(f"No user with id {user_id} exists here.", 404, None)
        return self.render(request, employee)

    def delete(self, request: HttpRequest, user_id: str) -> HttpResponse:
        services.scim_user_delete(
            agency=self.agency,
            employee=self.user(user_id),
            actor=self.actor,
            precondition=self.checked(request),
        )
        return scim_response(None, 204)


# --- groups -------------------------------------------------------------------------------------------
def _member_values(group_resource: Any) -> list[str]:
    ids = []
    for member in group_resource.members or []:
        if member.type and str(member.type).lower() != "user":
            raise ScimProblem("Groups hold users only; nested groups are not supported.", 400, "invalidValue")
        if not member.value:
            raise ScimProblem("Each member carries the user's id as value.", 400, "invalidValue")
        ids.append(member.value)
    return ids


class GroupsView(ScimView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return self.listing(self.query_params(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        resource = payloads.group_from_request(self.body(request), context=Context.RESOURCE_CREATION_REQUEST)
        group = services.scim_group_create(
            agency=self.agency,
            display_name=resource.display_name or "",
            external_id=resource.external_id or "",
            member_ids=_member_values(resource),
            actor=self.actor,
        )
        members = selectors.group_member_ids([group.pk]).get(group.pk, [])
        group.refresh_from_db()
        data = resources.group_dict(group, self.base, members)
        return scim_response(
            data, 201, {"Location": data["meta"]["location"], "ETag": data["meta"]["version"]}
        )

    def listing(self, params: dict) -> HttpResponse:
        projection = self.projection(params["attributes"], params["excludedAttributes"], ())
        q = filters.group_q(params["filter"]) if params["filter"] else Q()
        order = sorting.group_order(params["sortBy"], params["sortOrder"])
        start, count = self.paging(params)
        total, rows, members = selectors.group_page(
            agency=self.agency,
            q=q,
            start=start,
            count=count,
            with_members=projection.wants("members"),
            order=order,
        )
        items = [
            projection.apply(
                resources.group_dict(g, self.base, members.get(g.pk, []) if members is not None else None)
            )
            for g in rows
        ]
        return self.list_response(total, start, items)


class GroupsSearchView(GroupsView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        return self.listing(self.search_params(request))


class GroupView(ScimView):
    def group(self, group_id: str):  # type: ignore[no-untyped-def]
        group = selectors.group_get(agency=self.agency, group_id=group_id)
        if group is None:
            raise ScimProblem(f"No group with id {group_id} exists here.", 404, None)
        return group

    def render(self, request: HttpRequest, group) -> HttpResponse:  # type: ignore[no-untyped-def]
        version = resources.group_version(group)
        if request.method == "GET" and preconditions.not_modified(request, version):
            return scim_response(None, 304, {"ETag": version})
        projection = self.projection(request.GET.get("attributes"), request.GET.get("excludedAttributes"), ())
        members = (
            selectors.group_member_ids([group.pk]).get(group.pk, []) if projection.wants("members") else None
        )
        data = projection.apply(resources.group_dict(group, self.base, members))
        return scim_response(data, headers={"ETag": version})

    def checked(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        """If-Match, checked against the group the write has locked."""
        return lambda locked: preconditions.require_match(request, resources.group_version(locked))

    def get(self, request: HttpRequest, group_id: str) -> HttpResponse:
        return self.render(request, self.group(group_id))

    def put(self, request: HttpRequest, group_id: str) -> HttpResponse:
        group = self.group(group_id)
        resource = payloads.group_from_request(
            self.body(request), context=Context.RESOURCE_REPLACEMENT_REQUEST
        )
        services.scim_group_replace(
            agency=self.agency,
            group=group,
            display_name=resource.display_name or "",
            external_id=resource.external_id or "",
            member_ids=_member_values(resource),
            actor=self.actor,
            precondition=self.checked(request),
        )
        return self.render(request, self.group(group_id))

    def patch(self, request: HttpRequest, group_id: str) -> HttpResponse:
        group = self.group(group_id)
        current = resources.group_dict(group, self.base, None)
        changes = patch.patch_group(current, self.body(request))
        services.scim_group_patch(
            agency=self.agency,
            group=group,
            patch=changes,
            actor=self.actor,
            precondition=self.checked(request),
        )
        return self.render(request, self.group(group_id))

    def delete(self, request: HttpRequest, group_id: str) -> HttpResponse:
        services.scim_group_delete(
            agency=self.agency,
            group=self.group(group_id),
            actor=self.actor,
            precondition=self.checked(request),
        )
        return scim_response(None, 204)


# --- searching everything at once (RFC 7644 §3.4.3 at the root) ----------------------------------
class RootSearchView(ScimView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        params = self.search_params(request)
        if params["sortBy"]:
            # Users and groups share no order worth promising across the two lists.
            raise ScimProblem(
                "Sort within one resource type: POST the search to /Users/.search or /Groups/.search.",
                400,
                "invalidValue",
            )
        start, count = self.paging(params)
        text = params["filter"]
        queries: list[tuple[str, Q | None]] = []
        errors = []
        for kind, compile_ in (("User", filters.user_q), ("Group", filters.group_q)):
            try:
                queries.append((kind, compile_(text) if text else Q()))
            except FilterError as exc:
                # An attribute only one resource type has is false for the other (RFC 7644 §3.4.2.1).
                errors.append(exc)
                queries.append((kind, None))
        if all(q is None for _, q in queries):
            raise errors[0]
        user_projection = self.projection(params["attributes"], params["excludedAttributes"], USER_EXTENSIONS)
        group_projection = self.projection(params["attributes"], params["excludedAttributes"], ())
        user_q, group_q = queries[0][1], queries[1][1]
        user_total = selectors.users_in_scope(self.agency).filter(user_q).count() if user_q is not None else 0
        items: list[dict] = []
        if user_q is not None and count and start <= user_total:
            _, rows = selectors.user_page(agency=self.agency, q=user_q, start=start, count=count)
            items = [user_projection.apply(resources.user_dict(r, self.base)) for r in rows]
        group_total = 0
        if group_q is not None:
            group_start = max(start - user_total, 1)
            group_count = count - len(items) if start + len(items) > user_total else 0
            group_total, groups, members = selectors.group_page(
                agency=self.agency,
                q=group_q,
                start=group_start,
                count=group_count,
                with_members=group_projection.wants("members"),
            )
            items += [
                group_projection.apply(
                    resources.group_dict(g, self.base, members.get(g.pk, []) if members is not None else None)
                )
                for g in groups
            ]
        return self.list_response(user_total + group_total, start, items)


# --- discovery ----------------------------------------------------------------------------------------
def _dump(model: Any) -> dict:
    return model.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


class ServiceProviderConfigView(ScimView):
    http_method_names = ["get", "post", "put", "patch", "delete"]

    def get(self, request: HttpRequest) -> HttpResponse:
        data = _dump(resources.service_provider_config())
        data["meta"] = {
            "resourceType": "ServiceProviderConfig",
            "location": f"{self.base}ServiceProviderConfig",
        }
        return scim_response(data)

    post = put = patch = delete = ScimView.http_method_not_allowed  # type: ignore[assignment]


def _resource_type_dict(rt: Any, base: str) -> dict:
    data = _dump(rt)
    data["meta"] = {"resourceType": "ResourceType", "location": f"{base}ResourceTypes/{rt.id}"}
    return data


def _schema_dict(schema: Any, base: str) -> dict:
    data = _dump(schema)
    data["meta"] = {"resourceType": "Schema", "location": f"{base}Schemas/{schema.id}"}
    return data


class _Discovery(ScimView):
    kind = ""

    def items(self) -> list[dict]:
        raise ScimProblem("Not found.", 404, None)

    def get(self, request: HttpRequest, item_id: str | None = None) -> HttpResponse:
        items = self.items()
        if item_id is None:
            return self.list_response(len(items), 1, items)
        for item in items:
            if item["id"] == item_id:
                return scim_response(item)
        raise ScimProblem(f"No {self.kind} called {item_id} exists here.", 404, None)

    post = put = patch = delete = ScimView.http_method_not_allowed  # type: ignore[assignment]


class ResourceTypesView(_Discovery):
    kind = "resource type"

    def items(self) -> list[dict]:
        return [_resource_type_dict(rt, self.base) for rt in resources.resource_types()]


class SchemasView(_Discovery):
    kind = "schema"

    def items(self) -> list[dict]:
        return [_schema_dict(s, self.base) for s in resources.schemas()]


class NotFoundView(ScimView):
    def get(self, request: HttpRequest, rest: str = "") -> HttpResponse:
        return scim_error(404, f"There is no SCIM endpoint at {request.path}. See /scim/v2/ResourceTypes.")

    post = put = patch = delete = get  # type: ignore[assignment]
