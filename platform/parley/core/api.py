"""`/parley/v1/clock`: the installation's simulation clock, for administrators and
developers (staff sessions, or API tokens with the `manage_clock` scope). GET shows it;
POST `/advance`, `/set` and `/reset` move it (audited), and what became due runs on a
worker. The clock only moves forward; `reset` returns it to real time."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.api.auth import ApiClient, BearerTokenAuthentication
from parley.api.base import ApiView, valid
from parley.api.permissions import business_of, capability
from parley.core import clock
from parley.core.clock_actions import (
    DURATION_HINT,
    INSTANT_HINT,
    ClockMove,
    do_advance_clock,
    do_reset_clock,
    do_set_clock,
    parse_duration,
    parse_instant,
)
from parley.core.clock_selectors import describe_offset, get_clock
from parley.core.errors import ParleyError
from parley.core.http import client_address

CLOCK_OUT = inline_serializer(
    "SimulationClock",
    {
        "simulated_time": serializers.DateTimeField(),
        "real_time": serializers.DateTimeField(),
        "server_time": serializers.DateTimeField(
            help_text="clock.now() as the server that answered sees it."
        ),
        "offset_seconds": serializers.FloatField(),
        "offset": serializers.CharField(help_text="e.g. +31d 2h"),
        "follows_real_time": serializers.BooleanField(),
        "frozen": serializers.BooleanField(),
        "version": serializers.IntegerField(),
        "changed_at": serializers.DateTimeField(allow_null=True),
        "changed_by": serializers.CharField(),
    },
)
MOVE_OUT = inline_serializer(
    "SimulationClockMove",
    {
        "action": serializers.ChoiceField(["advanced", "set", "reset"]),
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(),
        "catch_up": serializers.ChoiceField(
            ["queue", "none"], help_text="queue: the jobs that became due run on a worker."
        ),
        "clock": CLOCK_OUT,
    },
)


def _field(parse: Any) -> Any:
    def validate(value: str) -> Any:
        try:
            return parse(value)
        except ParleyError as exc:
            raise serializers.ValidationError(exc.message) from None

    return validate


class AdvanceIn(serializers.Serializer[Any]):
    duration = serializers.CharField(max_length=40, help_text=DURATION_HINT)

    def validate_duration(self, value: str) -> Any:
        return _field(parse_duration)(value)


class SetIn(serializers.Serializer[Any]):
    time = serializers.CharField(max_length=40, help_text=INSTANT_HINT)

    def validate_time(self, value: str) -> Any:
        return _field(parse_instant)(value)


def clock_body() -> dict[str, Any]:
    view = get_clock()
    return {
        "simulated_time": view.simulated.isoformat(),
        "real_time": view.real.isoformat(),
        "server_time": clock.now().isoformat(),
        "offset_seconds": view.offset.total_seconds(),
        "offset": describe_offset(view.offset),
        "follows_real_time": not view.differs,
        "frozen": view.frozen,
        "version": view.version,
        "changed_at": view.changed_at.isoformat() if view.changed_at else None,
        "changed_by": view.changed_by,
    }


class ClockView(ApiView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [capability(Capability.MANAGE_CLOCK)]
    pagination_class = None

    def who(self, request: Request) -> dict[str, Any]:
        user = request.user
        return {
            "actor": user if isinstance(user, StaffUser) else None,
            "actor_label": user.label if isinstance(user, ApiClient) else "",
            "business_id": business_of(request).pk,
            "ip_address": client_address(request._request),
        }

    def moved(self, move: ClockMove) -> Response:
        return Response(
            {
                "action": move.action,
                "from": move.before.isoformat(),
                "to": move.after.isoformat(),
                "catch_up": move.catch_up,
                "clock": clock_body(),
            }
        )


class ClockStateView(ClockView):
    @extend_schema(summary="The simulation clock", responses=CLOCK_OUT)
    def get(self, request: Request) -> Response:
        return Response(clock_body())


class ClockAdvanceView(ClockView):
    @extend_schema(
        summary="Move the simulation clock forward by a duration",
        request=AdvanceIn,
        responses=MOVE_OUT,
    )
    def post(self, request: Request) -> Response:
        data = valid(AdvanceIn, request)
        return self.moved(do_advance_clock(data["duration"], **self.who(request)))


class ClockSetView(ClockView):
    error_statuses = (409,)

    @extend_schema(
        summary="Move the simulation clock forward to an instant (never back: 409)",
        request=SetIn,
        responses=MOVE_OUT,
    )
    def post(self, request: Request) -> Response:
        data = valid(SetIn, request)
        return self.moved(do_set_clock(data["time"], **self.who(request)))


class ClockResetView(ClockView):
    @extend_schema(
        summary="Return the simulation clock to real time", request=None, responses=MOVE_OUT
    )
    def post(self, request: Request) -> Response:
        return self.moved(do_reset_clock(**self.who(request)))
