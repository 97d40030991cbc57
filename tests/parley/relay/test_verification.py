"""Registration proves control of the number: a code texted by the simulated carrier, read on
the phone and submitted back; without it nobody takes over a number's relay mailbox."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest

from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.crypto import token_digest
from parley.core.events import IdentityChanged
from parley.relay.actions.retention import do_purge_metadata
from parley.relay.actions.verification import do_deliver_sms
from parley.relay.models import (
    CarrierSms,
    Device,
    Envelope,
    IdentityKeyRecord,
    VerificationSession,
)
from parley.relay.selectors import list_sms
from tests.parley.relay.conftest import (
    VERIFY,
    ec_key,
    error,
    new_number,
    post,
    register,
    request_code,
    sms_code,
    start_session,
    submit_code,
    verified_session,
)

pytestmark = pytest.mark.django_db


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_a_takeover_with_the_published_identity_key_is_refused(
    client: Any, handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    """The attack: re-register the victim's number with its public identity key (which the
    relay publishes) to get a credential and read the victim's queued envelopes."""
    victim, mallory, sender = handset(), handset(), handset()
    assert sender.send(victim, b"\x07" * 40).status_code == 200
    published = mallory.call("get", f"/relay/v1/identity/{victim.number}").json()
    identity = base64.b64decode(published["devices"][0]["identity_key"])
    device = Device.objects.get(account__e164=victim.number, device_id=1)
    queued = list(Envelope.objects.filter(recipient=device).values_list("guid", flat=True))
    history = IdentityKeyRecord.objects.filter(account=device.account).count()
    own_session = verified_session(client, mallory.number)  # verified, but for another number
    unverified = start_session(client, victim.number)
    assert request_code(client, unverified).status_code == 200  # the code goes to the victim

    attempts = [
        register(client, victim.number, identity=identity, verify=False),
        register(client, victim.number, identity=identity, session_id=own_session),
        register(client, victim.number, identity=identity, session_id=unverified),
        register(client, victim.number, identity=identity, session_id="A" * 43),
        register(client, victim.number, identity=identity, verify=False, auth=mallory.auth),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        attempts.append(register(client, victim.number, identity=identity, verify=False))
    for response in attempts:
        assert response.status_code == 403, response.content
        body = error(response)
        assert (body["code"], body["error_subcode"]) == (10, 2494104)
        assert "verified session" in body["message"]
    # Nothing changed: the victim's credential, queue, identity history; no event.
    kept = Device.objects.get(pk=device.pk)
    assert kept.credential_digest == device.credential_digest
    assert victim.call("get", "/relay/v1/accounts/me").status_code == 200
    assert [m["guid"] for m in victim.fetch()] == [str(g) for g in queued]
    assert IdentityKeyRecord.objects.filter(account=device.account).count() == history
    assert not [e for e in events if isinstance(e, IdentityChanged)]
    # The other number's session is still good for its own number.
    assert register(client, mallory.number, session_id=own_session).status_code == 200


def test_the_whole_flow_and_a_session_registers_once(client: Any) -> None:
    number = new_number()
    session_id = start_session(client, number)
    state = client.get(f"{VERIFY}/{session_id}").json()
    assert state["number"] == number and state["verified"] is False
    assert state["code_sent_at"] is None
    response = request_code(client, session_id)
    assert response.status_code == 200, response.content
    assert response.json()["attempts_left"] == 5
    # The phone has nothing until the carrier delivers the text.
    assert list_sms(number) == []
    (sms,) = CarrierSms.objects.filter(e164=number)
    assert do_deliver_sms(sms.pk) is True
    assert do_deliver_sms(sms.pk) is False
    (text,) = list_sms(number)
    assert text.sender == "Parley" and "verification code" in text.body
    verified = submit_code(client, session_id, sms_code(number))
    assert verified.status_code == 200, verified.content
    assert verified.json()["verified"] is True
    assert submit_code(client, session_id, sms_code(number)).json()["verified"] is True
    again = request_code(client, session_id)  # nothing more to send for a verified session
    assert again.status_code == 409

    first = register(client, number, session_id=session_id)
    assert first.status_code == 201, first.content
    replay = register(client, number, session_id=session_id, identity=ec_key())
    assert replay.status_code == 403
    assert error(replay)["error_subcode"] == 2494104
    assert Device.objects.get(account__e164=number).credential_digest == token_digest(
        first.json()["password"]
    )


def test_codes_and_session_ids_are_stored_only_hashed(client: Any) -> None:
    number = new_number()
    session_id = start_session(client, number)
    request_code(client, session_id)
    code = sms_code(number)
    session = VerificationSession.objects.get(e164=number)
    assert session.id_digest == token_digest(session_id)
    assert len(session.code_digest) == 64 and session.code_digest != token_digest(code)
    sms = CarrierSms.objects.get(e164=number)
    for row in (
        VerificationSession.objects.filter(pk=session.pk).values().get(),
        CarrierSms.objects.filter(pk=sms.pk).values().get(),
    ):
        text = " ".join(str(v) for v in row.values())
        assert code not in text
        assert session_id not in text


def test_wrong_codes_void_the_code_and_checks_are_rate_limited(client: Any, settings: Any) -> None:
    number = new_number()
    session_id = start_session(client, number)
    request_code(client, session_id)
    code = sms_code(number)
    for left in (4, 3, 2, 1):
        response = submit_code(client, session_id, wrong(code))
        assert response.status_code == 400, response.content
        assert f"{left} attempts left" in error(response)["message"]
    void = submit_code(client, session_id, wrong(code))
    assert "void" in error(void)["message"]
    late = submit_code(client, session_id, code)  # the right code, too late
    assert late.status_code == 400
    assert "request one" in error(late)["message"]
    assert register(client, number, session_id=session_id).status_code == 403

    # A new code works; checks per number and hour are limited across codes.
    settings.PARLEY = {**settings.PARLEY, "RELAY_VERIFICATION_CHECKS_PER_NUMBER_PER_HOUR": 6}
    request_code(client, session_id)
    code = sms_code(number)
    limited = submit_code(client, session_id, code)  # the 6th check this hour was the last
    assert limited.status_code == 200, limited.content
    other = start_session(client, number)
    request_code(client, other)
    refused = submit_code(client, other, sms_code(number))
    assert refused.status_code == 429
    assert error(refused)["code"] == 4
    assert int(refused["Retry-After"]) >= 1


def test_codes_expire_and_sessions_expire(client: Any, frozen_clock: Any) -> None:
    number = new_number()
    session_id = start_session(client, number)
    request_code(client, session_id)
    code = sms_code(number)
    frozen_clock.advance(minutes=10, seconds=1)
    expired = submit_code(client, session_id, code)
    assert expired.status_code == 400
    assert "expired" in error(expired)["message"]
    assert list_sms(number) == []  # the phone no longer shows an expired code
    request_code(client, session_id)
    assert submit_code(client, session_id, sms_code(number)).status_code == 200
    frozen_clock.advance(hours=1)
    assert register(client, number, session_id=session_id).status_code == 403
    gone = client.get(f"{VERIFY}/{session_id}")
    assert gone.status_code == 404 and error(gone)["code"] == 100
    purged = do_purge_metadata()
    assert (purged.verification_sessions, purged.sms) == (1, 2)
    assert not VerificationSession.objects.exists() and not CarrierSms.objects.exists()


def test_code_requests_and_sessions_are_rate_limited(client: Any, settings: Any) -> None:
    number = new_number()
    session_id = start_session(client, number)
    codes = [request_code(client, session_id).status_code for _ in range(7)]
    assert codes == [200] * 6 + [429]
    assert CarrierSms.objects.filter(e164=number).count() == 6
    settings.PARLEY = {**settings.PARLEY, "RELAY_REGISTER_RATE_PER_HOUR": 3}  # 1 used above
    statuses = [post(client, "post", VERIFY, {"number": new_number()}).status_code for _ in "abc"]
    assert statuses == [201, 201, 429]


@pytest.mark.parametrize(
    "code",
    [
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
        "\u00b9\u00b2\u00b3\u2074\u2075\u2076",  # superscripts
        "12345", "1234567", "12345a", " 12345", 123456, None, "",
    ],
)  # fmt: skip
def test_codes_are_six_ascii_digits(client: Any, code: Any) -> None:
    number = new_number()
    session_id = start_session(client, number)
    request_code(client, session_id)
    response = submit_code(client, session_id, code)
    assert response.status_code == 400, response.content
    assert error(response)["code"] == 100
    assert VerificationSession.objects.get(e164=number).attempts == 0


@pytest.mark.parametrize("session_id", ["x", "é" * 40, "A" * 43 + "\n", "../" * 20])
def test_unknown_or_malformed_sessions_are_404(client: Any, session_id: str) -> None:
    from urllib.parse import quote

    path = f"{VERIFY}/{quote(session_id, safe='')}"
    for response in (
        client.get(path),
        post(client, "post", f"{path}/code", {"transport": "sms"}),
        post(client, "put", f"{path}/code", {"code": "123456"}),
    ):
        assert response.status_code == 404, response.content
        assert set(response.json()) == {"error"}


def test_bad_session_requests(client: Any, factory: Any) -> None:
    assert post(client, "post", VERIFY, {"number": "12"}).status_code == 400
    assert post(client, "post", VERIFY, {}).status_code == 400
    business = factory.business()
    number = PhoneNumber.objects.create(
        business=business, e164="+14155550188", country="US", display_name="Acme",
        created_at=clock.now(),
    )  # fmt: skip
    refused = post(client, "post", VERIFY, {"number": number.e164})
    assert refused.status_code == 403
    assert "API token" in error(refused)["message"]
    session_id = start_session(client, new_number())
    voice = post(client, "post", f"{VERIFY}/{session_id}/code", {"transport": "voice"})
    assert voice.status_code == 400
    assert not CarrierSms.objects.exists()


def test_a_linked_device_cannot_reregister_the_primary(client: Any, handset: Any) -> None:
    phone = handset()
    linked = register(client, phone.number, device_id=2, auth=phone.auth)
    assert linked.status_code == 201
    second = "Basic " + base64.b64encode(linked.json()["credential"].encode()).decode()
    response = register(client, phone.number, identity=ec_key(), verify=False, auth=second)
    assert response.status_code == 403
    assert phone.call("get", "/relay/v1/accounts/me").status_code == 200


def test_reregistration_with_a_verified_session_hands_nothing_over(
    client: Any, handset: Any
) -> None:
    """Even someone who receives the number's texts (and has no Registration Lock to stop
    them) gets an empty queue, and the change is visible to peers."""
    victim, sender = handset(), handset()
    sender.send(victim, b"\x09" * 40)
    with clock.frozen(clock.now() + dt.timedelta(seconds=5)):
        response = register(client, victim.number, identity=ec_key())
    assert response.status_code == 200, response.content
    new = "Basic " + base64.b64encode(response.json()["credential"].encode()).decode()
    fetched = client.get("/relay/v1/messages", HTTP_AUTHORIZATION=new).json()
    assert fetched["messages"] == []
    receipts = [m for m in sender.fetch() if m["receipt"]]
    assert [r["receipt"]["kind"] for r in receipts] == ["expired"]
    changes = sender.call("get", f"/relay/v1/identity/{victim.number}").json()["changes"]
    assert [c["device_id"] for c in changes] == [1]
