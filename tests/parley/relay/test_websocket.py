"""Push to online devices through a real uvicorn (the `asgi_server` fixture), the Channels
Redis layer and the `websockets` client library."""

from __future__ import annotations

import base64
import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.parley.relay.live import LiveDevice, http, receive

pytestmark = pytest.mark.django_db(transaction=True)


def test_envelopes_are_pushed_to_an_online_device_and_acked_over_the_socket(
    asgi_server: str,
) -> None:
    alice, bob = LiveDevice(asgi_server), LiveDevice(asgi_server)
    queued_before = alice.send(bob, b"\x21" * 48)  # waiting while Bob is offline

    with bob.websocket() as bob_ws, alice.websocket() as alice_ws:
        assert receive(bob_ws)["type"] == "ready"
        backlog = receive(bob_ws)
        assert backlog["type"] == "envelope" and backlog["envelope"]["guid"] == queued_before
        assert receive(bob_ws) == {"type": "queue_empty"}
        assert receive(alice_ws)["type"] == "ready"
        assert receive(alice_ws) == {"type": "queue_empty"}

        guid = alice.send(bob, b"\x22" * 48)  # Bob is online: pushed at once
        pushed = receive(bob_ws)
        assert pushed["type"] == "envelope"
        assert pushed["envelope"]["guid"] == guid
        assert pushed["envelope"]["source"] == alice.number
        assert base64.b64decode(pushed["envelope"]["content"]) == b"\x22" * 48

        for g in (queued_before, guid):
            bob_ws.send(f'{{"type": "ack", "guid": "{g}"}}')
            assert receive(bob_ws) == {"type": "acked", "guid": g}
        # Alice's device gets both delivery receipts pushed.
        receipts = [receive(alice_ws)["envelope"] for _ in range(2)]
        assert sorted(r["receipt"]["guid"] for r in receipts) == sorted([queued_before, guid])
        assert {r["receipt"]["kind"] for r in receipts} == {"delivery"}

        bob_ws.send('{"type": "ack", "guid": "not-a-guid"}')
        assert receive(bob_ws)["type"] == "error"
        bob_ws.send('{"type": "ping"}')
        assert receive(bob_ws) == {"type": "pong"}

    status, body = http(asgi_server, "GET", "/relay/v1/messages", auth=bob.auth)
    assert status == 200 and body["messages"] == []


def test_first_message_authentication_and_refusals(asgi_server: str) -> None:
    alice, bob = LiveDevice(asgi_server), LiveDevice(asgi_server)
    with bob.websocket(header=False) as ws:
        ws.send(json.dumps({"type": "auth", "credential": bob.credential}))
        assert receive(ws)["type"] == "ready"
        assert receive(ws) == {"type": "queue_empty"}
        guid = alice.send(bob, b"\x23" * 8)
        assert receive(ws)["envelope"]["guid"] == guid

    with bob.websocket(header=False) as ws:
        ws.send('{"type": "auth", "credential": "+15550000000.1:' + "x" * 43 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    bob.credential = bob.credential.rsplit(":", 1)[0] + ":" + "y" * 43
    with pytest.raises(InvalidStatus):
        bob.websocket().close()


def test_a_reregistered_number_closes_the_previous_registrations_socket(
    asgi_server: str,
) -> None:
    """The socket opened by the previous registration gets nothing queued for the new one."""
    alice, bob = LiveDevice(asgi_server), LiveDevice(asgi_server)
    with bob.websocket() as old_ws:
        assert receive(old_ws)["type"] == "ready"
        assert receive(old_ws) == {"type": "queue_empty"}
        new_bob = LiveDevice(asgi_server, bob.number)  # a new phone, verified by SMS
        guid = alice.send(new_bob, b"\x24" * 16)
        with pytest.raises(ConnectionClosed) as closed:
            receive(old_ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    status, body = http(asgi_server, "GET", "/relay/v1/messages", auth=new_bob.auth)
    assert status == 200 and [m["guid"] for m in body["messages"]] == [guid]
