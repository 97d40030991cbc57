"""The relay's HTTP API for Signal clients (handsets and business endpoints). Thin: parse,
authenticate the device, call one action or selector, render."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any, cast

from django.http import HttpRequest, JsonResponse
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from parley.accounts.actions.numbers import parse_e164
from parley.accounts.actions.tokens import authenticate_api_token
from parley.accounts.models import Business
from parley.api.errors import envelope, meta_exception_handler
from parley.core import clock, ratelimit
from parley.core.errors import AuthenticationFailed, InvalidParameter, NotFound
from parley.relay import conf
from parley.relay import serializers as s
from parley.relay.actions.devices import (
    do_clear_registration_lock,
    do_register_device,
    do_set_registration_lock,
)
from parley.relay.actions.keys import do_claim_bundles, do_upload_keys
from parley.relay.actions.mailbox import do_ack_envelope, do_send_messages, do_send_read_receipt
from parley.relay.auth import DeviceAuthentication, DevicePrincipal, authenticate_header_value
from parley.relay.errors import DeviceMismatch, StaleDevices
from parley.relay.models import Device
from parley.relay.selectors import (
    count_pre_keys,
    get_account,
    list_devices,
    list_identity_changes,
    list_pending_envelopes,
    list_signed_pre_keys,
)

log = logging.getLogger(__name__)


def relay_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = meta_exception_handler(exc, context)
    if response is None:
        # Clients get the error envelope even for a bug, never an HTML page.
        log.error("relay request failed", exc_info=exc)
        return Response(
            envelope("An unexpected error has occurred. Please retry your request later.", code=2),
            status=500,
        )
    if isinstance(exc, DeviceMismatch | StaleDevices):
        response.data["error"]["error_data"] = exc.error_data()
    return response


def _valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise ValidationError({"body": ["must be a JSON object"]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return cast(dict[str, Any], serializer.validated_data)


def _number(raw: str) -> str:
    e164, _ = parse_e164(raw)
    return e164


def _ip(request: Request) -> str:
    return cast(str, request.META.get("REMOTE_ADDR") or "unknown")


class RelayView(APIView):
    authentication_classes = [DeviceAuthentication]
    permission_classes = [IsAuthenticated]

    def get_exception_handler(self) -> Any:
        return relay_exception_handler

    def device(self, request: Request) -> Device:
        return cast(DevicePrincipal, request.user).device


class AccountsView(RelayView):
    """POST /relay/v1/accounts: register (or re-register) a device; returns its credential.

    A business number authenticates with a Business API token (`Bearer PLY…`); linking a
    further device of an account authenticates with an existing device's credential."""

    authentication_classes = []
    permission_classes = []

    def post(self, request: Request) -> Response:
        ratelimit.hit(
            f"relay:register:ip:{_ip(request)}",
            limit=int(conf.get("RELAY_REGISTER_RATE_PER_HOUR")),
            window_seconds=3600,
        )
        business: Business | None = None
        linked_by: Device | None = None
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer" and value.strip().startswith("PLY"):
                token = authenticate_api_token(value.strip())
                if token is None:
                    raise AuthenticationFailed("The Business API token is invalid or revoked.")
                business = token.business
            else:
                linked_by = authenticate_header_value(header)
                if linked_by is None:
                    raise AuthenticationFailed("Invalid device credential.")
        data = _valid(s.RegisterIn, request)
        number = _number(data["number"])
        ratelimit.hit(
            f"relay:register:number:{number}",
            limit=int(conf.get("RELAY_REGISTER_RATE_PER_NUMBER_PER_HOUR")),
            window_seconds=3600,
        )
        registration = do_register_device(
            e164=number,
            kind=data["kind"],
            device_id=data["device_id"],
            registration_id=data["registration_id"],
            identity_key=data["identity_key"],
            business=business,
            linked_by=linked_by,
            registration_lock=data.get("registration_lock") or None,
        )
        return Response(
            {
                "number": registration.device.account.e164,
                "device_id": registration.device.device_id,
                "password": registration.password,
                "credential": str(registration.credential),
                "created": registration.created,
                "identity_changed": registration.identity_changed,
            },
            status=201 if registration.created else 200,
        )


class WhoAmIView(RelayView):
    """GET /relay/v1/accounts/me"""

    def get(self, request: Request) -> Response:
        device = self.device(request)
        return Response(
            {
                "number": device.account.e164,
                "kind": device.account.kind,
                "device_id": device.device_id,
                "registration_id": device.registration_id,
                "devices": list(list_devices(device.account).values_list("device_id", flat=True)),
                "registration_lock": device.account.has_registration_lock,
            }
        )


class RegistrationLockView(RelayView):
    """PUT /relay/v1/accounts/registration-lock `{"pin": "1234"}` turns Registration Lock on
    (or changes the PIN); DELETE turns it off. Device 1 of a handset number only."""

    def put(self, request: Request) -> Response:
        data = _valid(s.RegistrationLockIn, request)
        do_set_registration_lock(self.device(request), data["pin"])
        return Response({"registration_lock": True})

    def delete(self, request: Request) -> Response:
        do_clear_registration_lock(self.device(request))
        return Response({"registration_lock": False})


class KeysView(RelayView):
    """PUT /relay/v1/keys: upload signed, ML-KEM and one-time pre-keys."""

    def put(self, request: Request) -> Response:
        counts = do_upload_keys(self.device(request), s.key_upload(_valid(s.KeysIn, request)))
        return Response(s.counts_out(counts))


class KeyCountView(RelayView):
    """GET /relay/v1/keys/count: how many one-time pre-keys remain, and whether to top up."""

    def get(self, request: Request) -> Response:
        return Response(s.counts_out(count_pre_keys(self.device(request))))


class SignedKeysView(RelayView):
    """GET /relay/v1/keys/signed: the current signed pre-key and those in their grace
    period (so the owner knows which private keys it still needs)."""

    def get(self, request: Request) -> Response:
        keys = list_signed_pre_keys(self.device(request))
        return Response(
            {
                "signed_pre_keys": [
                    {
                        "key_id": k.key_id,
                        "public_key": s.b64(k.public_key),
                        "current": k.superseded_at is None,
                        "uploaded_at": s.ms(k.uploaded_at),
                        "superseded_at": s.ms(k.superseded_at),
                    }
                    for k in keys
                ]
            }
        )


class BundleView(RelayView):
    """GET /relay/v1/keys/{number}/{device_id|*}: claim pre-key bundles."""

    def get(self, request: Request, number: str, device: str) -> Response:
        requester = self.device(request)
        ratelimit.hit(
            f"relay:keys:{requester.pk}",
            limit=int(conf.get("RELAY_KEY_FETCH_RATE_PER_MINUTE")),
            window_seconds=60,
        )
        if device == "*":
            device_id = None
        elif device.isdigit() and len(device) <= 3:
            device_id = int(device)
        else:
            raise InvalidParameter("device must be a device id or '*'.", field="device")
        account = get_account(_number(number))
        return Response(s.bundle_out(account.e164, do_claim_bundles(requester, account, device_id)))


class IdentityView(RelayView):
    """GET /relay/v1/identity/{number}?since=<ms>: identity keys of the number's devices and
    the identity changes registered after `since`."""

    def get(self, request: Request, number: str) -> Response:
        raw = request.query_params.get("since", "0")
        if not raw.isdigit() or len(raw) > 16:
            raise InvalidParameter("since must be milliseconds since the epoch.", field="since")
        since = dt.datetime.fromtimestamp(int(raw) / 1000, tz=dt.UTC)
        account = get_account(_number(number))
        changes = list_identity_changes(account, since=since)
        return Response(
            {
                "number": account.e164,
                "devices": [
                    {
                        "device_id": d.device_id,
                        "identity_key": s.b64(d.identity_key),
                        "registered_at": s.ms(d.identity_registered_at),
                    }
                    for d in list_devices(account)
                ],
                "changes": [
                    {
                        "device_id": r.device_id,
                        "identity_key": s.b64(r.identity_key),
                        "registered_at": s.ms(r.registered_at),
                    }
                    for r in changes
                ],
            }
        )


class SendView(RelayView):
    """PUT /relay/v1/messages/{number}: one ciphertext per registered device of `number`."""

    def put(self, request: Request, number: str) -> Response:
        data = _valid(s.MessagesIn, request)
        recipient = get_account(_number(number))
        sent = do_send_messages(
            self.device(request), recipient, s.outgoing(data), timestamp=data["timestamp"]
        )
        return Response(
            {"messages": [{"guid": x.guid, "device_id": x.destination_device_id} for x in sent]}
        )


class MessagesView(RelayView):
    """GET /relay/v1/messages: this device's queued envelopes, oldest first."""

    def get(self, request: Request) -> Response:
        page = int(conf.get("RELAY_FETCH_PAGE"))
        envelopes = list_pending_envelopes(self.device(request), now=clock.now(), limit=page + 1)
        return Response(
            {
                "messages": [s.envelope_out(e) for e in envelopes[:page]],
                "more": len(envelopes) > page,
            }
        )


class AckView(RelayView):
    """DELETE /relay/v1/messages/{guid}: acknowledge (and so remove) an envelope."""

    def delete(self, request: Request, guid: str) -> Response:
        do_ack_envelope(self.device(request), _guid(guid))
        return Response(status=204)


class ReceiptView(RelayView):
    """POST /relay/v1/receipts/{guid}: the message was read (body `{"kind": "read"}`)."""

    def post(self, request: Request, guid: str) -> Response:
        if request.data:
            _valid(s.ReceiptIn, request)
        do_send_read_receipt(self.device(request), _guid(guid))
        return Response({"success": True})


def _guid(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError as exc:
        raise NotFound("No such message.") from exc


def relay_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse(envelope(f"Unknown path components: {request.path}", code=2500), status=404)
