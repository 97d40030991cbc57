"""Billing REST endpoints (`/parley/v1/billing/…`): usage, events, invoices, estimates,
the rate card and agents. Administrators and developers (and the business's API tokens);
never agents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import actions, selectors
from billing.cards import get_rate_card, rate_card_csv
from billing.engine import Agent, BillingCategory, Invoice
from billing.models import BillableEventRecord, BillingAgent
from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.api.auth import BearerTokenAuthentication
from parley.api.permissions import business_of, capability
from parley.core import clock
from parley.core.errors import InvalidParameter, NotFound


class BillingView(APIView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [capability(Capability.VIEW_BILLING)]


def _valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"body": ["must be a JSON object"]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return cast(dict[str, Any], serializer.validated_data)


def _period(request: Request) -> str:
    return selectors.check_period(
        request.query_params.get("period") or clock.now().strftime("%Y-%m")
    )


class UsageView(BillingView):
    @extend_schema(summary="Usage of a month by billing model and event type")
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


class EventsView(BillingView):
    @extend_schema(summary="Billable events", responses=EventOut(many=True))
    def get(self, request: Request) -> Response:
        params = request.query_params
        qs = selectors.list_events(
            business_of(request).pk,
            period=params.get("period", ""),
            event_type=params.get("type", ""),
            customer=params.get("customer", ""),
            status=params.get("status", ""),
        )
        paginator = EventPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(EventOut(page, many=True).data)


def invoice_body(business_name: str, period: str, invoice: Invoice, final: bool) -> dict[str, Any]:
    return {
        "business": business_name,
        "period": period,
        "final": final,
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
    }


class InvoiceView(BillingView):
    @extend_schema(summary="The monthly invoice")
    def get(self, request: Request, period: str) -> Response:
        business = business_of(request)
        selectors.check_period(period)
        invoice = selectors.get_invoice(business.pk, period)
        final = selectors.is_period_final(business.pk, period)
        return Response(invoice_body(business.name, period, invoice, final))


class EstimateIn(serializers.Serializer[Any]):
    volume = serializers.IntegerField(min_value=0, max_value=10**10)
    countries = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z]{2}$"), min_length=1, max_length=250
    )
    categories = serializers.ListField(
        child=serializers.CharField(max_length=20), min_length=1, max_length=4
    )
    date = serializers.DateField(required=False)


class EstimateView(BillingView):
    @extend_schema(summary="Cost estimate of a planned campaign, against SMS", request=EstimateIn)
    def post(self, request: Request) -> Response:
        data = _valid(EstimateIn, request)
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

    @extend_schema(summary="The business's rate card as CSV")
    def get(self, request: Request) -> Response:
        return Response({"csv": rate_card_csv(get_rate_card(business_of(request).pk))})

    @extend_schema(summary="Replace the rate card (administrators)", request=RateCardIn)
    def put(self, request: Request) -> Response:
        data = _valid(RateCardIn, request)
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

    def get(self, request: Request) -> Response:
        agents = BillingAgent.objects.filter(business=business_of(request)).order_by("agent_id")
        return Response({"data": [_agent(a) for a in agents]})

    @extend_schema(request=AgentIn, summary="Create an agent; its billing category is final")
    def post(self, request: Request) -> Response:
        data = _valid(AgentIn, request)
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

    def get(self, request: Request, agent_id: str) -> Response:
        agent = BillingAgent.objects.filter(
            business=business_of(request), agent_id=agent_id
        ).first()
        if agent is None:
            raise NotFound(f"Agent '{agent_id}' does not exist.")
        return Response(_agent(agent))

    @extend_schema(request=AgentIn, summary="Changing the billing category is always refused")
    def patch(self, request: Request, agent_id: str) -> Response:
        if not isinstance(request.data, dict) or "billing_category" not in request.data:
            raise InvalidParameter("Only billing_category can be given, and it cannot change.")
        actions.do_change_agent_category(
            business_of(request), agent_id, str(request.data["billing_category"])
        )
        return self.get(request, agent_id)
