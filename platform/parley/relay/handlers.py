"""What the relay's busiest requests do once their device is authenticated and their body
validated: call one action or selector and shape the answer. The HTTP views render these
answers, and the in-process transport of Parley's own business endpoints
(`parley.relay.local`) returns them as they are, so both take the same path through the
relay: ciphertext in, ciphertext out."""

from __future__ import annotations

import uuid
from typing import Any

from parley.accounts.actions.numbers import parse_e164
from parley.api.errors import error_envelope
from parley.core import clock
from parley.core.errors import NotFound, ParleyError
from parley.relay import conf
from parley.relay import serializers as s
from parley.relay.actions.mailbox import (
    BatchItem,
    Sent,
    do_ack_envelope,
    do_ack_envelopes,
    do_send_batch,
    do_send_messages,
    do_send_read_receipt,
    do_send_typing_indicator,
)
from parley.relay.models import Device
from parley.relay.selectors import get_account, list_pending_envelopes


def number(raw: str) -> str:
    e164, _ = parse_e164(raw)
    return e164


def guid(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError as exc:
        raise NotFound("No such message.") from exc


def send(sender: Device, destination: str, data: dict[str, Any]) -> dict[str, Any]:
    """PUT /relay/v1/messages/{number} (`data`: a valid MessagesIn)."""
    recipient = get_account(number(destination))
    sent = do_send_messages(sender, recipient, s.outgoing(data), timestamp=data["timestamp"])
    return {"messages": [{"guid": x.guid, "device_id": x.destination_device_id} for x in sent]}


def _batch_result(destination: str, outcome: list[Sent] | ParleyError) -> dict[str, Any]:
    if isinstance(outcome, ParleyError):
        body = error_envelope(outcome)
        return {"destination": destination, "status": outcome.http_status, **body}
    return {
        "destination": destination,
        "status": 200,
        "messages": [{"guid": x.guid, "device_id": x.destination_device_id} for x in outcome],
    }


def send_batch(sender: Device, data: dict[str, Any]) -> dict[str, Any]:
    """PUT /relay/v1/messages/batch (`data`: a valid BatchIn)."""
    items: list[BatchItem] = []
    refused: dict[int, ParleyError] = {}
    for i, raw in enumerate(data["batch"]):
        try:
            items.append(BatchItem(number(raw["destination"]), raw["timestamp"], s.outgoing(raw)))
        except ParleyError as exc:
            refused[i] = exc
    outcomes = iter(do_send_batch(sender, items))
    results = [
        _batch_result(raw["destination"], refused[i] if i in refused else next(outcomes))
        for i, raw in enumerate(data["batch"])
    ]
    return {"results": results}


def fetch(device: Device) -> dict[str, Any]:
    """GET /relay/v1/messages: a page of the device's queued envelopes, oldest first."""
    page = int(conf.get("RELAY_FETCH_PAGE"))
    envelopes = list_pending_envelopes(device, now=clock.now(), limit=page + 1)
    return {
        "messages": [s.envelope_out(e) for e in envelopes[:page]],
        "more": len(envelopes) > page,
    }


def ack(device: Device, raw_guid: str) -> None:
    """DELETE /relay/v1/messages/{guid}."""
    do_ack_envelope(device, guid(raw_guid))


def ack_many(device: Device, data: dict[str, Any]) -> dict[str, Any]:
    """POST /relay/v1/messages/acks (`data`: a valid AcksIn)."""
    return {"acknowledged": do_ack_envelopes(device, [str(g) for g in data["guids"]])}


def receipt(device: Device, raw_guid: str, kind: str) -> dict[str, Any]:
    """POST /relay/v1/receipts/{guid}: read, or typing."""
    if kind == "typing":
        do_send_typing_indicator(device, guid(raw_guid))
    else:
        do_send_read_receipt(device, guid(raw_guid))
    return {"success": True}
