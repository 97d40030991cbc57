"""Billing REST endpoints (`/parley/v1/billing/…`): usage, events, invoices, estimates,
the rate card and agents. Administrators and developers (and the business's API tokens);
never agents."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from billing import actions, selectors
from billing.cards import get_rate_card, rate_card_csv
from billing.engine import (
    ROUNDING_RULE,
    Agent,
    BillingCategory,
    Invoice,
    PeriodStatus,
    is_known_country,
)
from billing.models import BillableEventRecord, BillingAgent
from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.api.auth import BearerTokenAuthentication
from parley.api.base import ApiView, query_int, query_text, valid
from parley.api.permissions import business_of, capability
from parley.core import clock
from parley.core.errors import InvalidParameter, NotFound


class BillingView(ApiView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [capability(Capability.VIEW_BILLING)]


# Query parameters and path segments are ASCII: `\d` also accepts other scripts' digits.
PERIOD = r"[0-9]{4}-(0[1-9]|1[0-2])"
PERIOD_HINT = "must look like YYYY-MM"


def _period(request: Request, default: str | None = None) -> str:
    return query_text(
        request,
        "period",
        PERIOD,
        hint=PERIOD_HINT,
        default=clock.now().strftime("%Y-%m") if default is None else default,
    )


PERIOD_PARAMETER = OpenApiParameter(
    "period", OpenApiTypes.STR, pattern=f"^{PERIOD}$", description="A month, YYYY-MM."
)


# Response shapes (the schema is the contract).
def _money() -> serializers.CharField:
    return serializers.CharField(help_text="A decimal amount, as a string.")


USAGE_OUT = inline_serializer(
    "BillingUsage",
    {
        "period": serializers.CharField(),
        "by_type": inline_serializer(
            "BillingUsageRow",
            {
                "model": serializers.CharField(),
                "type": serializers.CharField(),
                "status": serializers.CharField(),
                "events": serializers.IntegerField(),
                "mt_messages": serializers.IntegerField(),
                "mo_messages": serializers.IntegerField(),
            },
            many=True,
        ),
        "totals": serializers.DictField(child=_money()),
        "status": serializers.ChoiceField(choices=[s.value for s in PeriodStatus]),
        "final": serializers.BooleanField(),
    },
)
INVOICE_OUT = inline_serializer(
    "BillingInvoice",
    {
        "business": serializers.CharField(),
        "period": serializers.CharField(),
        "status": serializers.ChoiceField(
            choices=[s.value for s in PeriodStatus],
            help_text="open until the month ends, provisional for the 2 days after it (and "
            "while any event may change), then final",
        ),
        "final": serializers.BooleanField(),
        "lines": inline_serializer(
            "BillingInvoiceLine",
            {
                "country": serializers.CharField(),
                "item": serializers.CharField(),
                "currency": serializers.CharField(),
                "unit_price": _money(),
                "events": serializers.IntegerField(),
                "quantity": serializers.IntegerField(),
                "total": serializers.CharField(help_text="unit_price x quantity, exact"),
            },
            many=True,
        ),
        "totals": serializers.DictField(
            child=_money(), help_text="Per currency, the amount due: exact_totals rounded once."
        ),
        "exact_totals": serializers.DictField(child=_money()),
        "rounding": serializers.CharField(),
    },
)
ESTIMATE_OUT = inline_serializer(
    "BillingEstimate",
    {
        "currency": serializers.CharField(),
        "total": _money(),
        "sms_total": _money(),
        "savings": _money(),
        "lines": inline_serializer(
            "BillingEstimateLine",
            {
                "country": serializers.CharField(),
                "category": serializers.CharField(),
                "messages": serializers.IntegerField(),
                "unit_price": _money(),
                "cost": _money(),
                "sms_unit_price": _money(),
                "sms_cost": _money(),
            },
            many=True,
        ),
    },
)
RATE_CARD_OUT = inline_serializer("BillingRateCard", {"csv": serializers.CharField()})
RATE_CARD_ROWS_OUT = inline_serializer("BillingRateCardRows", {"rows": serializers.IntegerField()})
AGENT_OUT = inline_serializer(
    "BillingAgent",
    {
        "agent_id": serializers.CharField(),
        "display_name": serializers.CharField(allow_blank=True),
        "billing_category": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
    },
)
AGENTS_OUT = inline_serializer("BillingAgents", {"data": AGENT_OUT.__class__(many=True)})


class UsageView(BillingView):
    @extend_schema(
        summary="Usage of a month by billing model and event type",
        parameters=[PERIOD_PARAMETER],
        responses=USAGE_OUT,
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.get_usage(business_of(request).pk, _period(request)))


class EventOut(serializers.ModelSerializer[BillableEventRecord]):
    billing_event_id = serializers.CharField(source="event_id")
    type = serializers.CharField(source="event_type")
    message_ids = serializers.SerializerMethodField()

    class Meta:
        model = BillableEventRecord
        fields = [
            "billing_event_id", "type", "model", "channel", "agent_id", "customer", "country",
            "start", "end", "period", "message_ids", "mt_messages", "mo_messages", "size_bytes",
            "segment_count", "whatsapp_category", "chargeable", "reason", "status", "final_at",
            "currency", "unit_price", "quantity",
        ]  # fmt: skip

    def get_message_ids(self, obj: BillableEventRecord) -> list[str]:
        return obj.message_ids.split()


class EventPagination(CursorPagination):
    ordering = ("start", "id")
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "limit"

    def get_page_size(self, request: Request) -> int:
        # A `limit` that is not a page size is refused, not silently replaced.
        return query_int(
            request, "limit", default=self.page_size, minimum=1, maximum=self.max_page_size
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == "limit":
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
        return parameters

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            # The position is a start time: anything else (year 10000, NUL) is not a cursor.
            try:
                dt.datetime.fromisoformat(str(cursor.position))
            except ValueError as exc:
                raise NotFound(self.invalid_cursor_message) from exc
        return cursor


class EventsView(BillingView):
    pagination_class = EventPagination
    error_statuses = (404,)  # a cursor that names no page, as DRF's cursor pagination answers

    @extend_schema(
        summary="Billable events",
        parameters=[
            PERIOD_PARAMETER,
            OpenApiParameter("type", OpenApiTypes.STR, pattern=r"^[a-z0-9_]{1,32}$"),
            OpenApiParameter("customer", OpenApiTypes.STR, pattern=r"^[A-Za-z0-9+._-]{1,20}$"),
            OpenApiParameter("status", OpenApiTypes.STR, enum=["provisional", "final"]),
        ],
        responses=EventOut(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.list_events(
            business_of(request).pk,
            period=_period(request, default=""),
            event_type=query_text(request, "type", r"[a-z0-9_]{1,32}", hint="is not an event type"),
            customer=query_text(
                request, "customer", r"[A-Za-z0-9+._-]{1,20}", hint="is not a customer"
            ),
            status=query_text(request, "status", r"provisional|final", hint="is not a status"),
        )
        page, paginator = self.paginate(qs, request)
        return cast(Response, paginator.get_paginated_response(EventOut(page, many=True).data))


def invoice_body(
    business_name: str, period: str, invoice: Invoice, status: PeriodStatus
) -> dict[str, Any]:
    return {
        "business": business_name,
        "period": period,
        "status": status.value,
        "final": status is PeriodStatus.FINAL,
        "lines": [
            {
                "country": ln.country,
                "item": ln.item,
                "currency": ln.currency,
                "unit_price": str(ln.unit_price),
                "events": ln.events,
                "quantity": ln.quantity,
                "total": str(ln.total),
            }
            for ln in invoice.lines
        ],
        "totals": {c: str(t) for c, t in invoice.totals.items()},
        "exact_totals": {c: str(t) for c, t in invoice.exact_totals.items()},
        "rounding": ROUNDING_RULE,
    }


class InvoiceView(BillingView):
    @extend_schema(
        summary="The monthly invoice",
        parameters=[
            OpenApiParameter(
                "period", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=f"^{PERIOD}$"
            )
        ],
        responses=INVOICE_OUT,
    )
    def get(self, request: Request, period: str) -> Response:
        business = business_of(request)
        if not re.fullmatch(PERIOD, period, flags=re.ASCII):
            raise InvalidParameter(f"(#100) Invalid parameter: period {PERIOD_HINT}.")
        invoice = selectors.get_invoice(business.pk, period)
        status = selectors.get_period_status(business.pk, period)
        return Response(invoice_body(business.name, period, invoice, status))


class EstimateIn(serializers.Serializer[Any]):
    volume = serializers.IntegerField(min_value=0, max_value=10**10)
    countries = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z]{2}$"), min_length=1, max_length=250
    )
    categories = serializers.ListField(
        child=serializers.CharField(max_length=20), min_length=1, max_length=4
    )
    date = serializers.DateField(required=False)

    def validate_countries(self, value: list[str]) -> list[str]:
        codes = [code.upper() for code in value]
        unknown = [code for code in codes if not is_known_country(code)]
        if unknown:
            what = (
                "is not an ISO 3166-1 alpha-2 country code"
                if len(unknown) == 1
                else "are not ISO 3166-1 alpha-2 country codes"
            )
            raise serializers.ValidationError(f"{', '.join(unknown)} {what} (such as US, IN).")
        return codes


class EstimateView(BillingView):
    @extend_schema(
        summary="Cost estimate of a planned campaign, against SMS",
        request=EstimateIn,
        responses=ESTIMATE_OUT,
    )
    def post(self, request: Request) -> Response:
        data = valid(EstimateIn, request)
        estimate = selectors.get_estimate(
            business_of(request).pk,
            volume=data["volume"],
            countries=data["countries"],
            categories=data["categories"],
            on=data.get("date") or clock.now().date(),
        )
        return Response(
            {
                "currency": estimate.currency,
                "total": str(estimate.total),
                "sms_total": str(estimate.sms_total),
                "savings": str(estimate.savings),
                "lines": [
                    {
                        "country": ln.country,
                        "category": ln.category.value,
                        "messages": ln.messages,
                        "unit_price": str(ln.unit_price),
                        "cost": str(ln.cost),
                        "sms_unit_price": str(ln.sms_unit_price),
                        "sms_cost": str(ln.sms_cost),
                    }
                    for ln in estimate.lines
                ],
            }
        )


class RateCardIn(serializers.Serializer[Any]):
    csv = serializers.CharField(max_length=2_000_000, trim_whitespace=False)


class RateCardView(BillingView):
    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "PUT":
            return [capability(Capability.MANAGE_BILLING, token_allowed=False)()]
        return super().get_permissions()

    @extend_schema(summary="The business's rate card as CSV", responses=RATE_CARD_OUT)
    def get(self, request: Request) -> Response:
        return Response({"csv": rate_card_csv(get_rate_card(business_of(request).pk))})

    @extend_schema(
        summary="Replace the rate card (administrators)",
        request=RateCardIn,
        responses=RATE_CARD_ROWS_OUT,
    )
    def put(self, request: Request) -> Response:
        data = valid(RateCardIn, request)
        user = cast(StaffUser, request.user)
        rows = actions.do_replace_rate_card(user, user.business, data["csv"])
        return Response({"rows": rows})


class AgentIn(serializers.Serializer[Any]):
    agent_id = serializers.CharField(max_length=100)
    display_name = serializers.CharField(max_length=100, required=False, default="")
    billing_category = serializers.CharField(max_length=40)


def _agent(a: BillingAgent) -> dict[str, Any]:
    identity = Agent(a.agent_id, BillingCategory(a.billing_category), a.legacy_category or None)
    return {
        "agent_id": a.agent_id,
        "display_name": a.display_name,
        # Legacy values are reported as given until the transition ended (2026-02-18).
        "billing_category": identity.reported_category(clock.now().date()),
        "created_at": a.created_at.isoformat(),
    }


class AgentsView(BillingView):
    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "POST":
            return [capability(Capability.MANAGE_BILLING)()]
        return super().get_permissions()

    @extend_schema(
        operation_id="parley_v1_billing_agents_list",
        summary="The business's agents",
        responses=AGENTS_OUT,
    )
    def get(self, request: Request) -> Response:
        agents = selectors.list_agents(business_of(request))
        return Response({"data": [_agent(a) for a in agents]})

    @extend_schema(
        request=AgentIn,
        responses={201: AGENT_OUT},
        summary="Create an agent; its billing category is final",
    )
    def post(self, request: Request) -> Response:
        data = valid(AgentIn, request)
        agent = actions.do_create_agent(
            business_of(request),
            agent_id=data["agent_id"],
            display_name=data["display_name"],
            billing_category=data["billing_category"],
        )
        return Response(_agent(agent), status=201)


class AgentView(BillingView):
    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "PATCH":
            return [capability(Capability.MANAGE_BILLING)()]
        return super().get_permissions()

    @extend_schema(summary="One agent", responses=AGENT_OUT)
    def get(self, request: Request, agent_id: str) -> Response:
        return Response(_agent(selectors.get_agent(business_of(request), agent_id)))

    @extend_schema(
        request=AgentIn,
        responses=AGENT_OUT,
        summary="Changing the billing category is always refused",
    )
    def patch(self, request: Request, agent_id: str) -> Response:
        if not isinstance(request.data, dict) or "billing_category" not in request.data:
            raise InvalidParameter("Only billing_category can be given, and it cannot change.")
        actions.do_change_agent_category(
            business_of(request), agent_id, str(request.data["billing_category"])
        )
        return self.get(request, agent_id)
