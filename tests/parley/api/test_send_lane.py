"""The send lane (parley.api.send_lane) in front of Django: plain sends that arrive together
are accepted together and answered as the view answers; everything else, errors included,
reaches the view unchanged. Driven in-process through the real ASGI application (the lane's
own thread writes with its own connection, so the database is committed, not rolled back)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from django.db import connection

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.api import send_lane
from parley.asgi import application, django_asgi_app
from parley.core.models import StreamEntry
from parley.messaging.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)

Answer = tuple[int, dict[str, str], dict[str, Any]]


@pytest.fixture(autouse=True)
def connections_closed_after_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lane's and Django's request threads close their connections when done, as with
    the pool: the test database is dropped at the end of the run, and an idle connection
    would hold it."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)


@pytest.fixture
def token(number: PhoneNumber, factory: Any) -> str:
    return do_create_api_token(factory.staff(number.business, "developer"), name="app").secret


def text_to(customer: str, body: str = "Your parcel has shipped.") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": customer, "type": "text", "text": {"body": body}}


async def _post_all(
    app: Any, path: str, bodies: list[Any], headers: dict[str, str]
) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await asyncio.gather(
            *(
                client.post(
                    path,
                    content=body if isinstance(body, bytes) else json.dumps(body).encode(),
                    headers={"Content-Type": "application/json", **headers},
                )
                for body in bodies
            )
        )


def post_all(
    bodies: list[Any], number_id: Any, secret: str, *, app: Any = application, path: str = ""
) -> list[Answer]:
    """POST each body at once (all in flight together) and return (status, headers, JSON)."""
    responses = asyncio.run(
        _post_all(app, path or f"/v23.0/{number_id}/messages", bodies,
                  {"Authorization": f"Bearer {secret}"} if secret else {})
    )  # fmt: skip
    return [(r.status_code, dict(r.headers), r.json()) for r in responses]


def batches_seen(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the lane accepts from now on."""
    sizes: list[int] = []
    accept = send_lane.accept_batch

    def counted(requests: list[send_lane.LaneRequest]) -> list[bytes | None]:
        answers = accept(requests)
        sizes.append(sum(a is not None for a in answers))
        return answers

    monkeypatch.setattr(send_lane, "accept_batch", counted)
    return sizes


def test_a_send_through_the_lane_is_answered_as_the_view_answers(
    number: PhoneNumber, token: str
) -> None:
    ((lane_status, lane_headers, lane_body),) = post_all([text_to("+919820012345")], number.pk,
                                                         token)  # fmt: skip
    ((view_status, view_headers, view_body),) = post_all(
        [text_to("+919820012345")], number.pk, token, app=django_asgi_app
    )
    assert lane_status == view_status == 200
    # Same headers (security headers included), same shape; only the wamid differs.
    assert {k: v for k, v in lane_headers.items() if k != "content-length"} == {
        k: v for k, v in view_headers.items() if k != "content-length"
    }
    lane_id, view_id = lane_body["messages"][0]["id"], view_body["messages"][0]["id"]
    assert lane_id != view_id and lane_id.startswith("wamid.")
    assert {**lane_body, "messages": []} == {**view_body, "messages": []}
    assert lane_body["contacts"][0]["wa_id"] == "919820012345"

    # The lane's message is the view's: accepted, in its conversation, with its event.
    sent = Message.objects.get(wamid=lane_id)
    assert (sent.status, sent.direction, sent.content["body"]) == (
        "accepted", "outbound", "Your parcel has shipped.")  # fmt: skip
    assert sent.conversation.customer == "+919820012345"
    assert sent.conversation.number_id == number.pk
    event = StreamEntry.objects.get(name="message.status_changed", payload__message_id=lane_id)
    assert (event.payload["status"], event.payload["previous_status"]) == ("accepted", "")
    assert event.business_id == number.business_id


def test_sends_that_arrive_together_are_accepted_together_in_order(
    number: PhoneNumber, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = batches_seen(monkeypatch)
    customers = [f"+9198200{i:05d}" for i in range(40)]
    bodies = [text_to(c, f"message {i}") for i, c in enumerate(customers)]
    # Three more to one customer in the same burst: one conversation, three messages.
    bodies += [text_to(customers[0], f"follow-up {i}") for i in range(3)]
    answers = post_all(bodies, number.pk, token)

    assert [status for status, _, _ in answers] == [200] * 43
    wamids = [body["messages"][0]["id"] for _, _, body in answers]
    assert len(set(wamids)) == 43
    assert sum(sizes) == 43 and max(sizes) > 1  # batched, each request once
    stored = {m.wamid: m for m in Message.objects.filter(conversation__number=number)}
    assert set(stored) == set(wamids)
    for (_, _, body), sent in zip(answers, bodies, strict=True):
        message = stored[body["messages"][0]["id"]]
        assert message.content["body"] == sent["text"]["body"]
        assert message.conversation.customer == sent["to"]
    assert Conversation.objects.filter(number=number).count() == 40
    events = StreamEntry.objects.filter(name="message.status_changed", payload__status="accepted")
    assert sorted(e.payload["message_id"] for e in events) == sorted(wamids)


@pytest.mark.parametrize(
    ("case", "path", "body", "status", "code"),
    [
        ("malformed JSON", "", b'{"to": ', 400, 100),
        ("wrong type", "", {**text_to("+919820012345"), "type": 7}, 400, 100),
        ("not a number", "", text_to("not a phone"), 400, 100),
        ("to itself", "", "self", 400, 131021),
        ("empty body", "", b"", 400, 100),
        ("unknown version", "/v1.0/{id}/messages", text_to("+919820012345"), 400, 2500),
        ("unknown number", "/v23.0/999999999999/messages", text_to("+919820012345"), 404, 100),
        ("too large", "", b'{"x": "' + b"a" * (6 * 1024 * 1024) + b'"}', 413, 100),
    ],
)
def test_what_the_lane_does_not_accept_gets_the_views_error(
    number: PhoneNumber, token: str, case: str, path: str, body: Any, status: int, code: int
) -> None:
    body = text_to(number.e164) if body == "self" else body
    path = path.replace("{id}", str(number.pk))
    ((lane_status, _, lane_body),) = post_all([body], number.pk, token, path=path)
    ((view_status, _, view_body),) = post_all([body], number.pk, token, path=path,
                                              app=django_asgi_app)  # fmt: skip
    assert lane_status == view_status == status, (case, lane_body)
    assert lane_body["error"]["code"] == view_body["error"]["code"] == code, case
    assert lane_body["error"]["message"] == view_body["error"]["message"]
    assert not Message.objects.exists()


def test_a_host_django_does_not_serve_is_refused_by_django(
    number: PhoneNumber, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = batches_seen(monkeypatch)
    responses = asyncio.run(
        _post_all(application, f"/v23.0/{number.pk}/messages", [text_to("+919820012345")],
                  {"Authorization": f"Bearer {token}", "Host": "evil.example"})
    )  # fmt: skip
    assert responses[0].status_code == 400 and sizes == []
    assert not Message.objects.exists()


def test_tokens_are_checked_as_the_view_checks_them(
    number: PhoneNumber, token: str, factory: Any
) -> None:
    other = factory.business("Elsewhere", country="US")
    stranger = do_create_api_token(factory.staff(other, "developer"), name="x").secret
    admin = do_create_api_token(factory.staff(number.business, "administrator"), name="a").secret
    answers = post_all([text_to("+919820012345")], number.pk, "parley_nope")
    answers += post_all([text_to("+919820012345")], number.pk, stranger)  # another tenant
    answers += post_all([text_to("+919820012345")], number.pk, admin)  # cannot send
    answers += post_all([text_to("+919820012345")], number.pk, "")
    assert [(s, b["error"]["code"]) for s, _, b in answers] == [
        (401, 190), (404, 100), (403, 10), (401, 190)]  # fmt: skip
    assert not Message.objects.exists()


def test_a_burst_beyond_the_pair_rate_is_refused_past_the_burst(
    number: PhoneNumber, token: str, settings: Any
) -> None:
    settings.PARLEY = {**settings.PARLEY, "PAIR_RATE_BURST": 5}
    answers = post_all([text_to("+919820054321", f"m{i}") for i in range(8)], number.pk, token)
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] * 5 + [429] * 3
    refused = [b["error"]["code"] for s, _, b in answers if s == 429]
    assert refused == [131056] * 3
    assert Message.objects.filter(conversation__customer="+919820054321").count() == 5


def test_mark_read_and_media_go_to_the_view(
    number: PhoneNumber, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = batches_seen(monkeypatch)
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.nope"}
    image = {"messaging_product": "whatsapp", "to": "+919820012345", "type": "image",
             "image": {"id": "123456789012345"}}  # fmt: skip
    answers = post_all([read, image], number.pk, token)
    view = post_all([read, image], number.pk, token, app=django_asgi_app)
    assert [(s, b) for s, _, b in answers] != []
    assert [(s, b["error"]["code"]) for s, _, b in answers] == [
        (s, b["error"]["code"]) for s, _, b in view]  # fmt: skip
    assert all(s >= 400 for s, _, _ in answers)
    assert sizes == [0]  # the lane looked at them and handed both to the view
    assert not Message.objects.exists()


def test_the_lane_can_be_turned_off(
    number: PhoneNumber, token: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PARLEY = {**settings.PARLEY, "SEND_LANE": False}
    sizes = batches_seen(monkeypatch)
    ((status, _, body),) = post_all([text_to("+919820012345")], number.pk, token)
    assert status == 200 and sizes == []
    assert Message.objects.filter(wamid=body["messages"][0]["id"]).exists()
