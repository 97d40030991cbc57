"""Message templates on the Cloud API paths, and the simulated review Parley adds:

    GET    /{version}/{waba_id}/message_templates   list (name, status, category, language)
    POST   /{version}/{waba_id}/message_templates   create: {"id", "status", "category"}
    DELETE /{version}/{waba_id}/message_templates   ?name=…[&hsm_id=…]
    GET    /{version}/{template_id}                 one template (NodeView answers the rest)
    POST   /{version}/{template_id}                 edit: back to review
    GET    /{version}/{media_id}, DELETE            a media object (parley.api.media)
    POST   /parley/v1/simulator/templates/{template_id}/review

Thin: parse, authorise, call one action, render Meta's shapes."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.accounts.selectors import get_number
from parley.api import serializers as s
from parley.api.auth import ApiClient, BearerTokenAuthentication
from parley.api.base import ApiView, query_text, safe_text
from parley.api.media import PHONE_NUMBER_ID, MediaOut, media_node, phone_number_filter
from parley.api.permissions import business_of, capability
from parley.api.schema import ErrorEnvelope
from parley.api.views import CloudApiView, NodeView, _id_parameter, _version_parameter
from parley.core.errors import InvalidParameter, NotFound, ParleyError
from parley.core.http import client_address
from parley.media.actions import do_delete_media
from parley.media.models import MediaObject
from parley.media.selectors import CustomerMedia, get_media, looks_like_media_id
from parley.message_templates import rules
from parley.message_templates.actions import (
    DECISIONS,
    MAX_REASON,
    Actor,
    do_create_template,
    do_delete_templates,
    do_edit_template,
    do_review_template,
)
from parley.message_templates.models import MessageTemplate
from parley.message_templates.selectors import (
    find_template,
    get_template,
    list_templates,
    template_summary,
)

STATUSES = [str(v) for v in MessageTemplate.Status.values]
NAME_PATTERN = r"^[a-z0-9_]{1,512}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(_[A-Z]{2})?$"


class UnsupportedPost(ParleyError):
    """As the Graph API answers a POST to a node that takes none."""

    http_status = 400
    code = 100
    subcode = 33
    error_type = "GraphMethodException"


# -- shapes --------------------------------------------------------------------------------


class TemplateOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()
    language = serializers.CharField()
    status = serializers.ChoiceField(choices=STATUSES)
    category = serializers.ChoiceField(choices=list(rules.CATEGORIES))
    parameter_format = serializers.ChoiceField(choices=list(rules.PARAMETER_FORMATS))
    components = serializers.ListField(child=serializers.DictField())
    rejected_reason = serializers.CharField(help_text='"NONE" unless the template is REJECTED.')


class TemplateCreateIn(serializers.Serializer[Any]):
    name = serializers.RegexField(NAME_PATTERN, max_length=512, help_text=rules.NAME_HINT)
    language = serializers.RegexField(LANGUAGE_PATTERN, max_length=15, help_text="e.g. en_US")
    category = serializers.ChoiceField(choices=list(rules.CATEGORIES))
    parameter_format = serializers.ChoiceField(
        choices=list(rules.PARAMETER_FORMATS), required=False, default="POSITIONAL"
    )
    components = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=4,
        help_text="HEADER, BODY, FOOTER and BUTTONS objects, as Meta's.",
    )
    allow_category_change = serializers.BooleanField(required=False)


class TemplateCreatedOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=STATUSES)
    category = serializers.ChoiceField(choices=list(rules.CATEGORIES))


class TemplateEditedOut(serializers.Serializer[Any]):
    success = serializers.BooleanField()
    id = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()


class TemplateEditIn(serializers.Serializer[Any]):
    components = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=4, required=False
    )
    category = serializers.ChoiceField(choices=list(rules.CATEGORIES), required=False)
    parameter_format = serializers.ChoiceField(
        choices=list(rules.PARAMETER_FORMATS), required=False
    )


class ReviewIn(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=list(DECISIONS),
        help_text="REINSTATED makes a PAUSED or DISABLED template APPROVED again.",
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_REASON,
        help_text="For REJECTED, one of " + ", ".join(rules.REJECTION_REASONS) + ".",
    )


def template_node(template: MessageTemplate) -> dict[str, Any]:
    return {
        "id": str(template.graph_id),
        "name": template.name,
        "language": template.language,
        "status": template.status,
        "category": template.category,
        "parameter_format": template.parameter_format,
        "components": template.components,
        "rejected_reason": template.rejected_reason,
    }


# -- helpers -------------------------------------------------------------------------------


def _actor(request: Request) -> Actor:
    user = request.user
    return Actor(
        user=user if isinstance(user, StaffUser) else None,
        label=user.label if isinstance(user, ApiClient) else "",
        ip_address=client_address(request._request),
    )


def _own_waba(request: Request, waba_id: str) -> None:
    if waba_id != str(business_of(request).pk):
        raise NotFound(
            f"Unsupported request. Object with ID '{safe_text(waba_id, 40)}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation."
        )


WABA_ID = _id_parameter("waba_id", "The business's id.")
TEMPLATE_ID = OpenApiParameter(
    "template_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^[0-9]{1,18}$",
    description="The template's id.",
)


def _query(name: str, description: str, **extra: Any) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=description,
                            **extra)  # fmt: skip


# -- /{version}/{waba_id}/message_templates ------------------------------------------------


SUMMARY_FIELDS = (
    "total_count",
    "message_template_count",
    "message_template_limit",
    "are_translations_complete",
)


def _summary_fields(request: Request) -> list[str]:
    """`?summary=total_count,message_template_count,…` (Graph API); `true` asks for all."""
    raw = query_text(request, "summary", r"[a-z_,]{1,200}", hint="names summary fields")
    if raw == "true":
        return list(SUMMARY_FIELDS)
    fields = [f for f in raw.split(",") if f]
    unknown = [f for f in fields if f not in SUMMARY_FIELDS]
    if unknown:
        raise InvalidParameter(
            f"(#100) Invalid summary field {unknown[0]}: use {', '.join(SUMMARY_FIELDS)}.",
            field="summary",
        )
    return fields


class TemplatesView(CloudApiView):
    permission_classes = [capability(Capability.MANAGE_TEMPLATES)]

    @extend_schema(
        summary="List the business's message templates",
        parameters=[
            _version_parameter(),
            WABA_ID,
            _query("name", "Part of the template's name.", pattern=NAME_PATTERN),
            _query("status", "Only templates in this status.", enum=STATUSES),
            _query("category", "Only templates of this category.", enum=list(rules.CATEGORIES)),
            _query("language", "Only templates in this language.", pattern=LANGUAGE_PATTERN),
        ],
        responses=TemplateOut(many=True),
    )
    def get(self, request: Request, version: str, waba_id: str) -> Response:
        _own_waba(request, waba_id)
        statuses = "|".join(STATUSES)
        categories = "|".join(rules.CATEGORIES)
        templates = list_templates(
            business_of(request),
            name=query_text(request, "name", NAME_PATTERN[1:-1], hint=f"must be {rules.NAME_HINT}"),
            status=query_text(request, "status", statuses, hint=f"must be one of {statuses}"),
            category=query_text(
                request, "category", categories, hint=f"must be one of {categories}"
            ),
            language=query_text(
                request, "language", LANGUAGE_PATTERN[1:-1], hint=f"must be {rules.LANGUAGE_HINT}"
            ),
        )
        page, paginator = self.paginate(templates, request)
        response = paginator.get_paginated_response([template_node(t) for t in page])
        wanted = _summary_fields(request)
        if wanted:
            summary = template_summary(business_of(request), templates)
            response.data["summary"] = {k: v for k, v in summary.items() if k in wanted}
        return response

    @extend_schema(
        summary="Create a message template (PENDING review)",
        parameters=[_version_parameter(), WABA_ID],
        request=TemplateCreateIn,
        responses=TemplateCreatedOut,
    )
    def post(self, request: Request, version: str, waba_id: str) -> Response:
        _own_waba(request, waba_id)
        data = self.valid(TemplateCreateIn, request)
        template = do_create_template(
            business_of(request),
            name=data["name"],
            language=data["language"],
            category=data["category"],
            parameter_format=data["parameter_format"],
            components=data["components"],
            actor=_actor(request),
        )
        return Response(
            {"id": str(template.graph_id), "status": template.status, "category": template.category}
        )

    @extend_schema(
        summary="Delete a template: every language of a name, or one by its id (hsm_id)",
        parameters=[
            _version_parameter(),
            WABA_ID,
            _query("name", "The template's name.", pattern=NAME_PATTERN, required=True),
            _query("hsm_id", "Only the template with this id.", pattern=r"^[0-9]{1,18}$"),
        ],
        responses=s.SuccessOut,
    )
    def delete(self, request: Request, version: str, waba_id: str) -> Response:
        _own_waba(request, waba_id)
        name = query_text(request, "name", NAME_PATTERN[1:-1], hint=f"must be {rules.NAME_HINT}")
        if not name:
            raise InvalidParameter("(#100) The parameter name is required.", field="name")
        hsm_id = query_text(request, "hsm_id", r"[0-9]{1,18}", hint="must be a template id")
        do_delete_templates(
            business_of(request), name=name, template_id=hsm_id or None, actor=_actor(request)
        )
        return Response({"success": True})


# -- /{version}/{node_id}: a template, or what NodeView answers -----------------------------


class GraphNodeView(NodeView):
    """GET /{version}/{id}: a media object, a template, a phone number or the business; POST
    edits a template (other nodes take no POST, as on the Graph API); DELETE deletes a media
    object (other nodes take no DELETE here)."""

    permission_classes = [IsAuthenticated]

    def _require(self, request: Request, needed: Capability) -> None:
        if not capability(needed)().has_permission(request, self):
            self.permission_denied(request)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Only media ids take a DELETE: for any other id it is 405, before authentication,
        # as for every method a path does not take.
        if request.method == "DELETE" and not looks_like_media_id(str(kwargs.get("node_id"))):
            raise drf.MethodNotAllowed("DELETE")
        super().initial(request, *args, **kwargs)

    def _media(self, request: Request, node_id: str) -> MediaObject | CustomerMedia | None:
        """The business's media object when `node_id` is a media id (17 digits); a media id
        the business does not have is 404 whatever the other nodes."""
        if not looks_like_media_id(node_id):
            return None
        self._require(request, Capability.SEND_MESSAGES)
        return get_media(
            business_of(request), node_id, phone_number_id=phone_number_filter(request)
        )

    def _owns(self, request: Request, node_id: str) -> bool:
        """Whether `node_id` is the business, one of its numbers or one of its templates."""
        business = business_of(request)
        if node_id == str(business.pk) or self._template(request, node_id) is not None:
            return True
        if node_id.isascii() and node_id.isdigit() and len(node_id) <= 18:
            try:
                get_number(business, node_id)
                return True
            except NotFound:
                pass
        return False

    def _template(self, request: Request, node_id: str) -> MessageTemplate | None:
        business = business_of(request)
        if node_id == str(business.pk):
            return None
        return find_template(business, node_id)

    @extend_schema(
        summary="Read a media object, a message template, a phone number or the business",
        parameters=[
            _version_parameter(),
            OpenApiParameter(
                "node_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="The business's id, one of its phone numbers', templates' or "
                "media objects' ids.",
            ),
            PHONE_NUMBER_ID,
        ],
        responses=PolymorphicProxySerializer(
            component_name="Node",
            serializers=[s.PhoneNumberOut, s.BusinessOut, TemplateOut, MediaOut],
            resource_type_field_name=None,
        ),
    )
    def get(self, request: Request, version: str, node_id: str) -> Response:
        phone_number_filter(request)  # checked on every node, used by media ids
        media = self._media(request, node_id)
        if media is not None:
            return Response(media_node(request, media))
        template = self._template(request, node_id)
        if template is not None:
            self._require(request, Capability.MANAGE_TEMPLATES)
            return Response(template_node(template))
        self._require(request, Capability.VIEW_NUMBERS)
        return cast(Response, super().get(request, version, node_id))

    @extend_schema(
        summary="Edit a message template (it goes back to review)",
        parameters=[
            _version_parameter(),
            OpenApiParameter(
                "node_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="The template's id.",
            ),
        ],
        request=TemplateEditIn,
        responses=TemplateEditedOut,
    )
    def post(self, request: Request, version: str, node_id: str) -> Response:
        template = self._template(request, node_id)
        if template is None:
            if not self._owns(request, node_id):
                raise NotFound(
                    f"Unsupported post request. Object with ID '{safe_text(node_id, 40)}' does "
                    "not exist, cannot be loaded due to missing permissions, or does not "
                    "support this operation."
                )
            raise UnsupportedPost(
                f"Unsupported post request. Object with ID '{safe_text(node_id, 40)}' does not "
                "support this operation."
            )
        self._require(request, Capability.MANAGE_TEMPLATES)
        data = self.valid(TemplateEditIn, request)
        edited = do_edit_template(
            business_of(request),
            template.graph_id,
            components=data.get("components"),
            category=data.get("category"),
            parameter_format=data.get("parameter_format"),
            actor=_actor(request),
        )
        return Response(
            {
                "success": True,
                "id": str(edited.graph_id),
                "name": edited.name,
                "category": edited.category,
            }
        )

    @extend_schema(
        summary="Delete a media object",
        parameters=[
            _version_parameter(),
            OpenApiParameter(
                "node_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern=r"^[0-9]{17}$",
                description="The media object's id (other nodes answer 405).",
            ),
            PHONE_NUMBER_ID,
        ],
        responses={
            200: s.SuccessOut,
            405: OpenApiResponse(ErrorEnvelope, description="Not a media id: no DELETE."),
        },
    )
    def delete(self, request: Request, version: str, node_id: str) -> Response:
        phone_number_filter(request)
        media = self._media(request, node_id)
        if media is not None:
            do_delete_media(business_of(request), media.graph_id)
            return Response({"success": True})
        raise AssertionError("initial() answers 405 for other ids")  # pragma: no cover


# -- /parley/v1/simulator/templates/{template_id}/review ----------------------------------


class TemplateReviewView(ApiView):
    """Drive the simulated review: Meta's reviewers and quality system, on demand."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [capability(Capability.MANAGE_TEMPLATES)]
    pagination_class = None

    @extend_schema(
        summary="Review a template: approve, reject, pause, disable or reinstate it",
        parameters=[TEMPLATE_ID],
        request=ReviewIn,
        responses=TemplateOut,
    )
    def post(self, request: Request, template_id: str) -> Response:
        business = business_of(request)
        get_template(business, template_id)  # 404 before the body is judged
        data = self.valid(ReviewIn, request)
        template = do_review_template(
            business,
            template_id,
            decision=data["status"],
            reason=data.get("reason", ""),
            actor=_actor(request),
        )
        return Response(template_node(template))
