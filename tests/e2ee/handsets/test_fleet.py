"""The handset fleet on the live stack: real relay (uvicorn), real Celery worker (the SMS
carrier), the fleet as its own process; the business side is a SignalClient in the test."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from typing import Any

import pytest

from e2ee.client import Received, SignalClient
from e2ee.handsets.control import FleetControl, FleetRefused
from e2ee.handsets.models import PendingRead
from parley.core import clock
from parley.relay.models import Envelope
from tests.conftest import ROOT
from tests.e2ee.conftest import new_handset_number
from tests.e2ee.handsets.conftest import wait_for
from tests.parley.relay.scan import find_plaintext

pytestmark = pytest.mark.django_db(transaction=True)


def assert_no_plaintext(text: str) -> None:
    assert find_plaintext(text.encode()) == []


def receipts(items: list[Received], kind: str) -> set[str]:
    return {str(r.receipt_guid) for r in items if r.kind == "receipt" and r.receipt_kind == kind}


def status_of(client: SignalClient, guid: str) -> str:
    return next(m.status for m in client.state.list_messages() if m.guid == guid)


def test_online_handset_acknowledges_at_once_and_reads_after_its_delay(
    handset_fleet: FleetControl, business_endpoint: SignalClient, live_env: dict[str, str],
    shared_clock: None,
) -> None:  # fmt: skip
    number = new_handset_number()
    created = handset_fleet.create(number, read_delay_seconds=3600)
    assert created["online"] is True
    wait_for(lambda: handset_fleet.get(number)["connected"], what="the handset's websocket")

    text = "Your order #A-100 ships today"
    [guid] = business_endpoint.send_text(number, text)
    # Pushed to the business's websocket: nobody polls the relay.
    got = business_endpoint.listen(
        idle_timeout=10, max_seconds=15, until=lambda rs: guid in receipts(rs, "delivery")
    )
    assert guid in receipts(got, "delivery")
    assert status_of(business_endpoint, guid) == "delivered"
    assert guid not in receipts(got, "read")
    # The user will read it an hour of simulated time after it arrived.
    (pending,) = PendingRead.objects.filter(handset__device__e164=number)
    assert pending.due_at - clock.now() > dt.timedelta(minutes=59)

    moved = subprocess.run(
        [sys.executable, "manage.py", "clock", "advance", "1h"],
        cwd=ROOT, env=live_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    later = business_endpoint.listen(
        idle_timeout=10, max_seconds=15, until=lambda rs: guid in receipts(rs, "read")
    )
    assert guid in receipts(later, "read")
    assert status_of(business_endpoint, guid) == "read"
    wait_for(lambda: not PendingRead.objects.filter(pk=pending.pk).exists(), what="the read sent")

    inbox = handset_fleet.inbox(number)
    assert [(i["sender"], i["body"]) for i in inbox] == [(business_endpoint.e164, text)]
    assert handset_fleet.inbox(number) == []  # shown once
    assert_no_plaintext(text)


def test_offline_handset_receives_what_queued_when_it_comes_back(
    handset_fleet: FleetControl, business_endpoint: SignalClient
) -> None:
    number = new_handset_number()
    handset_fleet.create(number, online=False)
    assert handset_fleet.get(number)["connected"] is False

    [guid] = business_endpoint.send_text(number, "Back in stock: blue kettle")
    assert Envelope.objects.filter(guid=guid).exists()  # queued at the relay, not delivered
    assert business_endpoint.receive() == []

    back = handset_fleet.set_online(number, True)
    assert back["online"] is True
    got = business_endpoint.listen(
        idle_timeout=10, max_seconds=15, until=lambda rs: guid in receipts(rs, "delivery")
    )
    assert guid in receipts(got, "delivery")
    assert not Envelope.objects.filter(guid=guid).exists()
    inbox = handset_fleet.inbox(number)
    assert [i["body"] for i in inbox] == ["Back in stock: blue kettle"]

    handset_fleet.set_online(number, False)
    assert handset_fleet.get(number)["connected"] is False


def test_handset_replies_taps_a_suggestion_and_shares_a_location(
    handset_fleet: FleetControl, business_endpoint: SignalClient
) -> None:
    number = new_handset_number()
    handset_fleet.create(number)
    wait_for(lambda: handset_fleet.get(number)["connected"], what="the handset's websocket")
    [question] = business_endpoint.send_text(number, "Track your parcel? [Yes] [No]")
    business_endpoint.listen(
        idle_timeout=10, max_seconds=15, until=lambda rs: question in receipts(rs, "delivery")
    )

    handset_fleet.send_text(number, business_endpoint.e164, "Yes", reply_to=question,
                            payload="track-yes")  # fmt: skip
    handset_fleet.send_text(number, business_endpoint.e164, "where is it?")
    handset_fleet.send_location(
        number, business_endpoint.e164, 12.9716, 77.5946, name="Flat 4B Indiranagar"
    )
    handset_fleet.send_file(number, business_endpoint.e164, b"%PDF-1.4 receipt", file_name="r.pdf",
                            mime_type="application/pdf", caption="my receipt")  # fmt: skip

    got: list[Received] = []

    def four() -> bool:
        got.extend(r for r in business_endpoint.receive() if r.kind != "receipt")
        return len(got) >= 4

    wait_for(four, what="the handset's four messages")
    tap, text, pin, doc = got
    assert (tap.kind, tap.body) == ("text", "Yes")
    assert tap.context == {"id": question, "payload": "track-yes"}
    assert (text.body, text.context) == ("where is it?", None)
    assert pin.kind == "location"
    assert pin.location == {
        "latitude": 12.9716,
        "longitude": 77.5946,
        "name": "Flat 4B Indiranagar",
        "address": "",
    }
    assert doc.kind == "media" and doc.body == "my receipt"
    assert doc.attachment is not None
    assert business_endpoint.download(doc.attachment) == b"%PDF-1.4 receipt"
    assert all(r.sender == number for r in got)
    for secret in ("where is it?", "track-yes", "my receipt", "Flat 4B Indiranagar"):
        assert_no_plaintext(secret)


def test_control_channel_refuses_bad_input_and_strangers(
    handset_fleet: FleetControl, business_endpoint: SignalClient
) -> None:
    number = new_handset_number()
    handset_fleet.create(number, online=False)
    with pytest.raises(FleetRefused) as exc:
        handset_fleet.create(number)
    assert exc.value.status == 409
    off_earth = {"to": business_endpoint.e164, "type": "location", "latitude": 99, "longitude": 0}
    for body in (off_earth, {"to": "", "text": "hi"}, {"to": "x", "type": "sms"}):
        with pytest.raises(FleetRefused) as exc:
            handset_fleet.call("POST", f"/v1/handsets/{number}/messages", body)
        assert exc.value.status == 400
    with pytest.raises(FleetRefused) as exc:
        handset_fleet.get("+919999999999")
    assert exc.value.status == 404
    stranger = FleetControl(handset_fleet.url, token="not-the-token")
    with pytest.raises(FleetRefused) as exc:
        stranger.health()
    assert exc.value.status == 401
    assert not stranger.available()


# Registering a phone (an SMS through the worker, a key stock) dominates this test's time:
# the suite runs a crowd big enough to show many connections in one process; bench/fleet.py
# and PARLEY_FLEET_TEST_HANDSETS run thousands.
CROWD = int(os.environ.get("PARLEY_FLEET_TEST_HANDSETS", "60"))


def test_a_crowd_of_online_handsets_in_one_process_each_receive_a_message(
    handset_fleet: FleetControl, business_endpoint: SignalClient
) -> None:
    numbers = [new_handset_number() for _ in range(CROWD)]
    made: dict[str, Any] = handset_fleet.create_many(numbers)
    assert made["errors"] == {}
    wait_for(lambda: handset_fleet.health()["connected"] >= CROWD, timeout=60,
             what=f"{CROWD} connected handsets")  # fmt: skip
    # Customers write first (each fetches the business's keys once), the business answers.
    for number in numbers:
        handset_fleet.send_text(number, business_endpoint.e164, "hello")
    inbound: list[Received] = []

    def all_in() -> bool:
        inbound.extend(r for r in business_endpoint.receive() if r.kind == "text")
        return len({r.sender for r in inbound}) == CROWD

    wait_for(all_in, timeout=60, what=f"{CROWD} customer messages")
    sent = {business_endpoint.send_text(n, f"Hi {n}, how can we help?")[0]: n for n in numbers}
    delivered: set[str] = set()

    def all_delivered(items: list[Received]) -> bool:
        delivered.update(receipts(items, "delivery") & sent.keys())
        return len(delivered) == len(sent)

    business_endpoint.listen(idle_timeout=15, max_seconds=60, until=all_delivered)
    assert delivered == set(sent)
    assert all(handset_fleet.inbox(n)[0]["body"].startswith(f"Hi {n}") for n in numbers[:5])
    assert_no_plaintext("how can we help?")
