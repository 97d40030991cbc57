"""Relay test helpers: fake (well-formed) public keys and a small HTTP client per device."""

from __future__ import annotations

import base64
import itertools
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from e2ee.client.sms import code_in
from e2ee.protocol import KeyPair
from parley.core import publish
from parley.core.events import Event
from parley.relay.actions.verification import do_deliver_sms
from parley.relay.models import CarrierSms
from parley.relay.selectors import list_sms

PG = connection.vendor == "postgresql"
requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL row locks (SELECT … FOR UPDATE SKIP LOCKED) and concurrent "
    "connections; SQLite serialises writers with its database lock instead",
)

_numbers = itertools.count(1)

# The relay verifies pre-key signatures against the device's identity key: devices registered
# by these helpers use this identity unless a test gives another.
IDENTITY = KeyPair.generate()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ec_key() -> bytes:
    return b"\x05" + os.urandom(32)


def kem_key() -> bytes:
    return b"\x08" + os.urandom(1568)


def signature() -> bytes:
    return os.urandom(64)


def signed(public_key: bytes, identity: KeyPair = IDENTITY) -> bytes:
    return identity.private_key.sign(public_key)


def new_number() -> str:
    # Valid Indian mobile numbers, unique per test run.
    return f"+9198100{next(_numbers) % 100000:05d}"


def signed_pre_key(key_id: int = 1) -> dict[str, Any]:
    key = ec_key()
    return {"key_id": key_id, "public_key": b64(key), "signature": b64(signed(key))}


def kem_pre_key(key_id: int) -> dict[str, Any]:
    key = kem_key()
    return {"key_id": key_id, "public_key": b64(key), "signature": b64(signed(key))}


def pre_keys(start: int, count: int) -> list[dict[str, Any]]:
    return [{"key_id": i, "public_key": b64(ec_key())} for i in range(start, start + count)]


class Handset:
    """One registered device talking to the relay through Django's test client."""

    def __init__(self, client: Any, number: str, registration: dict[str, Any]) -> None:
        self.client = client
        self.number = number
        self.device_id: int = registration["device_id"]
        self.credential: str = registration["credential"]
        self.registration = registration

    @property
    def auth(self) -> str:
        return "Basic " + base64.b64encode(self.credential.encode()).decode()

    def call(self, method: str, path: str, body: Any = None, raw: str | None = None) -> Any:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return getattr(self.client, method)(
            path,
            data=data,
            content_type="application/json",
            HTTP_AUTHORIZATION=self.auth,
        )

    def upload(self, **body: Any) -> Any:
        return self.call("put", "/relay/v1/keys", body)

    def publish_keys(self, ec: int = 20, kem: int = 20, signed_id: int = 1) -> Any:
        response = self.upload(
            signed_pre_key=signed_pre_key(signed_id),
            pq_last_resort_pre_key=kem_pre_key(9000),
            pq_pre_keys=[kem_pre_key(100 + i) for i in range(kem)],
            pre_keys=pre_keys(1, ec),
        )
        assert response.status_code == 200, response.content
        return response.json()

    def send(self, to: Handset | str, content: bytes, *, devices: list[int] | None = None) -> Any:
        number = to if isinstance(to, str) else to.number
        ids = devices if devices is not None else [1]
        return self.call(
            "put",
            f"/relay/v1/messages/{number}",
            {
                "timestamp": 1_772_000_000_000,
                "messages": [
                    {"type": 1, "destination_device_id": d, "content": b64(content)} for d in ids
                ],
            },
        )

    def fetch(self) -> list[dict[str, Any]]:
        response = self.call("get", "/relay/v1/messages")
        assert response.status_code == 200, response.content
        return list(response.json()["messages"])

    def ack(self, guid: str) -> Any:
        return self.call("delete", f"/relay/v1/messages/{guid}")


VERIFY = "/relay/v1/verification/session"


def post(client: Any, method: str, path: str, body: Any) -> Any:
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


def sms_code(number: str) -> str:
    """The newest code texted to `number`, read on its phone once the carrier delivered it
    (what the carrier's worker does is done here: these tests run without one)."""
    for sms in CarrierSms.objects.filter(e164=number, delivered_at=None):
        do_deliver_sms(sms.pk)
    texts = list_sms(number)
    assert texts, f"no SMS reached {number}"
    code = code_in(texts[0].body)
    assert code is not None, texts[0].body
    return code


def start_session(client: Any, number: str) -> str:
    response = post(client, "post", VERIFY, {"number": number})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def request_code(client: Any, session_id: str) -> Any:
    return post(client, "post", f"{VERIFY}/{session_id}/code", {"transport": "sms"})


def submit_code(client: Any, session_id: str, code: Any) -> Any:
    return post(client, "put", f"{VERIFY}/{session_id}/code", {"code": code})


def verified_session(client: Any, number: str) -> str:
    """Prove control of `number` as a phone does: session, code by SMS, submit the code."""
    session_id = start_session(client, number)
    response = request_code(client, session_id)
    assert response.status_code == 200, response.content
    response = submit_code(client, session_id, sms_code(number))
    assert response.status_code == 200, response.content
    assert response.json()["verified"] is True
    return session_id


def register(
    client: Any,
    number: str | None = None,
    *,
    identity: bytes | None = None,
    device_id: int = 1,
    registration_id: int = 1234,
    auth: str | None = None,
    kind: str = "handset",
    session_id: str | None = None,
    verify: bool = True,
) -> Any:
    """POST /relay/v1/accounts. The primary device of a handset number first verifies the
    number by SMS (unless `session_id` is given, or `verify` is off)."""
    number = number or new_number()
    body = {
        "number": number,
        "kind": kind,
        "device_id": device_id,
        "registration_id": registration_id,
        "identity_key": b64(identity or IDENTITY.public_key.serialize()),
    }
    if session_id is None and verify and kind == "handset" and device_id == 1:
        session_id = verified_session(client, number)
    if session_id is not None:
        body["session_id"] = session_id
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(
        "/relay/v1/accounts", data=json.dumps(body), content_type="application/json", **extra
    )


@pytest.fixture
def handset(client: Any) -> Any:
    """`handset()` registers a new customer device and returns its Handset."""

    def make(number: str | None = None, **kwargs: Any) -> Handset:
        number = number or new_number()
        response = register(client, number, **kwargs)
        assert response.status_code in (200, 201), response.content
        return Handset(client, response.json()["number"], response.json())

    return make


@pytest.fixture
def events() -> Iterator[list[Event]]:
    """Events dispatched during the test (wrap writes in
    `django_capture_on_commit_callbacks(execute=True)` outside transactional tests)."""
    seen: list[Event] = []
    publish._any_listeners.append(seen.append)
    try:
        yield seen
    finally:
        publish._any_listeners.remove(seen.append)


def error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"message", "type", "code", "fbtrace_id"} <= set(body["error"]), body
    return dict(body["error"])
