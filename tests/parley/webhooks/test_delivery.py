"""Delivery from the stream to a real local receiver (pytest-httpserver), by the delivery
worker, with time moved on the simulation clock: signatures, retries through an outage,
Retry-After, 410, the circuit breaker, dead letters, replay, rotation, redirects."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from werkzeug import Request, Response

from parley.core import clock
from parley.webhooks.actions.deliveries import (
    do_replay_deliveries,
    do_replay_delivery,
    do_request_test_event,
)
from parley.webhooks.models import WebhookApp, WebhookAttempt, WebhookDelivery
from tests.parley.webhooks.conftest import RunningWorker, consume, eventually
from tests.parley.windows import customer_wrote

pytestmark = pytest.mark.django_db(transaction=True)
CUSTOMER = "+919820012345"


class Receiver:
    """Answers from a script of statuses (then 200), recording every POST."""

    def __init__(self, httpserver: Any, path: str = "/hook", script: list[Any] | None = None):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.script = list(script or [])
        httpserver.expect_request(path, method="POST").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), request.get_data()))
        answer = self.script.pop(0) if self.script else 200
        if isinstance(answer, Response):
            return answer
        return Response("ok" if answer == 200 else "nope", status=answer)


def _delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


def _attempted(n: int) -> WebhookDelivery:
    """The delivery once it has been attempted `n` times."""
    found: WebhookDelivery = eventually(lambda: WebhookDelivery.objects.filter(attempts=n).first())
    return found


def _advance(frozen: clock.FrozenClock, worker: RunningWorker, **delta: float) -> None:
    """Move the simulation clock and let the worker do whatever became due."""
    frozen.advance(**delta)
    worker.settle()


def test_an_inbound_message_arrives_signed_with_the_app_secret(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any
) -> None:
    s = subscribed()
    receiver = Receiver(httpserver)
    message = customer_wrote(s.number, CUSTOMER, "Héllo ✓")
    consume()
    eventually(lambda: receiver.requests)
    headers, body = receiver.requests[0]
    expected = hmac.new(s.secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert b"\\u00e9" in body and "é".encode() not in body  # non-ASCII escaped, as Meta
    payload = json.loads(body)
    assert payload["object"] == "whatsapp_business_account"
    (change,) = payload["entry"][0]["changes"]
    assert change["field"] == "messages"
    assert change["value"]["messages"][0]["id"] == message.wamid
    delivery = eventually(
        lambda: WebhookDelivery.objects.filter(state=WebhookDelivery.DELIVERED).first()
    )
    assert headers["Webhook-Id"] == delivery.webhook_id
    assert delivery.message_id == message.wamid and delivery.attempts == 1
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.response_status == 200 and attempt.latency_ms is not None
    assert attempt.request_headers["X-Hub-Signature-256"] == headers["X-Hub-Signature-256"]


def test_retries_through_an_outage_on_the_simulation_clock(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any
) -> None:
    s = subscribed()
    receiver = Receiver(httpserver, script=[500, 503, 502])
    customer_wrote(s.number, CUSTOMER, "are you there?")
    consume()
    for n in range(1, 4):
        d = _attempted(n)
        assert len(receiver.requests) == n
        assert d.state == WebhookDelivery.PENDING and d.next_attempt_at > clock.now()
        # Not before it is due: half the wait changes nothing.
        _advance(frozen_clock, delivery_worker, seconds=(d.next_attempt_at - clock.now())
                 .total_seconds() / 2)  # fmt: skip
        assert len(receiver.requests) == n
        frozen_clock.set(d.next_attempt_at)
        delivery_worker.wake()
    eventually(lambda: _delivery().state == WebhookDelivery.DELIVERED)
    ids = {h["Webhook-Id"] for h, _ in receiver.requests}
    assert len(receiver.requests) == 4 and len(ids) == 1
    statuses = list(WebhookAttempt.objects.order_by("number").values_list("response_status",
                                                                           flat=True))  # fmt: skip
    assert statuses == [500, 503, 502, 200]
    # The backoff grows (jitter aside): 10 s, then 20 s, then 40 s by default.
    gaps = [(a.next_retry_at or a.started_at) - a.started_at
            for a in WebhookAttempt.objects.order_by("number")[:3]]  # fmt: skip
    assert gaps[0] < gaps[1] < gaps[2]


def test_retry_after_is_honoured(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any
) -> None:
    s = subscribed()
    throttled = Response("slow down", status=429, headers={"Retry-After": "600"})
    receiver = Receiver(httpserver, script=[throttled])
    customer_wrote(s.number, CUSTOMER)
    consume()
    d = _attempted(1)
    assert d.next_attempt_at == clock.now() + dt.timedelta(seconds=600)
    _advance(frozen_clock, delivery_worker, seconds=300)
    _advance(frozen_clock, delivery_worker, seconds=299)
    assert len(receiver.requests) == 1
    _advance(frozen_clock, delivery_worker, seconds=1)
    eventually(lambda: _delivery().state == WebhookDelivery.DELIVERED)
    assert len(receiver.requests) == 2


def test_410_disables_the_app_until_it_is_verified_again(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any
) -> None:
    from parley.webhooks.actions.apps import do_verify_callback
    from tests.parley.webhooks.conftest import echo

    s = subscribed()
    receiver = Receiver(httpserver, script=[410])
    customer_wrote(s.number, CUSTOMER, "one")
    consume()
    app = eventually(lambda: WebhookApp.objects.filter(disabled_at__isnull=False).first())
    assert "410" in app.disabled_reason
    customer_wrote(s.number, CUSTOMER, "two")
    consume()
    _advance(frozen_clock, delivery_worker, hours=2)
    assert len(receiver.requests) == 1  # nothing more while disabled
    assert WebhookDelivery.objects.filter(state=WebhookDelivery.PENDING).count() == 2
    httpserver.expect_oneshot_request("/hook", method="GET").respond_with_handler(echo())
    do_verify_callback(app)
    delivery_worker.wake()
    eventually(lambda: WebhookDelivery.objects.filter(state=WebhookDelivery.DELIVERED).count()
               == 2)  # fmt: skip
    assert WebhookApp.objects.get().disabled_at is None


def test_a_claim_that_read_the_apps_before_a_410_committed_takes_nothing(
    subscribed: Any, httpserver: Any, frozen_clock: Any, monkeypatch: Any
) -> None:
    """A worker reads which apps may receive, then another worker's 410 (or opened circuit)
    commits and releases the delivery: the claim itself re-checks the app, so nothing goes
    out to a disabled receiver."""
    from parley.webhooks.actions import attempts

    s = subscribed()
    customer_wrote(s.number, CUSTOMER, "one")
    consume()
    stale = attempts._eligible_apps(clock.now(), attempts.policy())
    assert list(stale) == [s.app.pk]
    monkeypatch.setattr(attempts, "_eligible_apps", lambda now, p: stale)
    WebhookApp.objects.filter(pk=s.app.pk).update(disabled_at=clock.now())
    assert attempts.do_claim_due_deliveries(10) == []
    WebhookApp.objects.filter(pk=s.app.pk).update(
        disabled_at=None, circuit_open_until=clock.now() + dt.timedelta(minutes=5)
    )
    assert attempts.do_claim_due_deliveries(10) == []
    WebhookApp.objects.filter(pk=s.app.pk).update(circuit_open_until=None)
    assert [c.delivery_id for c in attempts.do_claim_due_deliveries(10)] == [_delivery().pk]


def test_the_circuit_breaker_leaves_a_dead_receiver_alone_then_probes_once(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any,
    settings: Any,
) -> None:  # fmt: skip
    settings.PARLEY = {**settings.PARLEY, "WEBHOOK_RETRY": {
        **settings.PARLEY["WEBHOOK_RETRY"], "breaker_threshold": 3, "breaker_cooldown": 600,
        "base": 1, "jitter": 0}}  # fmt: skip
    s = subscribed()
    receiver = Receiver(httpserver, script=[500] * 100)
    for n in range(3):
        customer_wrote(s.number, CUSTOMER, f"m{n}")
    consume()
    app = eventually(lambda: WebhookApp.objects.filter(consecutive_failures__gte=3).first())
    assert app.circuit_open_until == clock.now() + dt.timedelta(seconds=600)
    assert len(receiver.requests) == 3
    # Every retry is due, but the circuit is open: nothing goes out.
    _advance(frozen_clock, delivery_worker, seconds=300)
    _advance(frozen_clock, delivery_worker, seconds=299)
    assert len(receiver.requests) == 3
    # Half-open: exactly one probe; it fails and the circuit opens for longer.
    _advance(frozen_clock, delivery_worker, seconds=2)
    eventually(lambda: len(receiver.requests) == 4)
    app = eventually(lambda: WebhookApp.objects.filter(consecutive_failures=4).first())
    assert app.circuit_open_until == clock.now() + dt.timedelta(seconds=1200)
    assert len(receiver.requests) == 4
    # The receiver recovers: the next probe succeeds, the circuit closes, the rest follow.
    receiver.script.clear()
    _advance(frozen_clock, delivery_worker, seconds=1201)
    eventually(lambda: WebhookDelivery.objects.filter(state=WebhookDelivery.DELIVERED).count()
               == 3)  # fmt: skip
    assert WebhookApp.objects.get().consecutive_failures == 0


def test_exhausted_deliveries_become_dead_letters_and_replay_resends_them(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any,
    settings: Any,
) -> None:  # fmt: skip
    settings.PARLEY = {**settings.PARLEY, "WEBHOOK_RETRY": {
        **settings.PARLEY["WEBHOOK_RETRY"], "base": 60, "jitter": 0, "max_age": 3600,
        "breaker_threshold": 1000}}  # fmt: skip
    s = subscribed()
    receiver = Receiver(httpserver, script=[500] * 7)
    customer_wrote(s.number, CUSTOMER)
    consume()
    # 60, 120, 240, 480, 960 s: the next (1,920 s) would pass the hour, so it is dead.
    for n in range(1, 6):
        d = _attempted(n)
        frozen_clock.set(d.next_attempt_at)
        delivery_worker.wake()
    dead = eventually(lambda: WebhookDelivery.objects.filter(state=WebhookDelivery.DEAD).first())
    assert dead.attempts == 6 and len(receiver.requests) == 6
    do_replay_delivery(dead, actor_label="dev@example.test")
    delivery_worker.wake()
    eventually(lambda: len(receiver.requests) == 7)  # the script's last 500: a new round
    d = _attempted(7)
    assert d.state == WebhookDelivery.PENDING and d.round_attempts == 1
    frozen_clock.set(d.next_attempt_at)
    delivery_worker.wake()
    eventually(lambda: _delivery().state == WebhookDelivery.DELIVERED)
    assert len({h["Webhook-Id"] for h, _ in receiver.requests}) == 1


def test_bulk_replay_by_time_range_and_of_everything_dead(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any
) -> None:
    s = subscribed()
    receiver = Receiver(httpserver)
    start = clock.now()
    customer_wrote(s.number, CUSTOMER, "early")
    consume()
    frozen_clock.advance(hours=1)
    customer_wrote(s.number, CUSTOMER, "late")
    consume()
    delivery_worker.wake()
    eventually(lambda: len(receiver.requests) == 2)
    eventually(lambda: WebhookDelivery.objects.filter(state=WebhookDelivery.DELIVERED).count()
               == 2)  # fmt: skip
    business_id = s.app.business_id
    # Only dead letters by default: nothing is dead.
    assert do_replay_deliveries(business_id, actor_label="dev") == 0
    count = do_replay_deliveries(business_id, since=start, until=start + dt.timedelta(minutes=30),
                                 dead_only=False, actor_label="dev")  # fmt: skip
    assert count == 1
    delivery_worker.wake()
    eventually(lambda: len(receiver.requests) == 3)
    assert b"early" in receiver.requests[2][1]


def test_a_rotated_secret_overlaps_then_retires(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any
) -> None:
    from parley.webhooks import signing
    from parley.webhooks.actions.apps import do_rotate_secret

    s = subscribed()
    receiver = Receiver(httpserver)
    new = do_rotate_secret(s.app, overlap=dt.timedelta(hours=1))
    assert new != s.secret
    customer_wrote(s.number, CUSTOMER, "during the overlap")
    consume()
    eventually(lambda: len(receiver.requests) == 1)
    headers, body = receiver.requests[0]
    assert headers["X-Hub-Signature-256"] == signing.hub_signature(new, body)
    assert len(headers["Webhook-Signature"].split()) == 2  # the new and the old secret
    frozen_clock.advance(hours=2)
    customer_wrote(s.number, CUSTOMER, "after it")
    consume()
    delivery_worker.wake()
    eventually(lambda: len(receiver.requests) == 2)
    headers, body = receiver.requests[1]
    assert headers["X-Hub-Signature-256"] == signing.hub_signature(new, body)
    assert len(headers["Webhook-Signature"].split()) == 1


def test_redirects_are_not_followed(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any
) -> None:
    s = subscribed()
    moved = Response("", status=307, headers={"Location": httpserver.url_for("/elsewhere")})
    receiver = Receiver(httpserver, script=[moved])
    elsewhere = Receiver(httpserver, path="/elsewhere")
    customer_wrote(s.number, CUSTOMER)
    consume()
    d = _attempted(1)
    assert d.state == WebhookDelivery.PENDING and d.last_status == 307
    assert len(receiver.requests) == 1 and elsewhere.requests == []


def test_fields_tenants_and_test_events(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any,
    factory: Any,
) -> None:  # fmt: skip
    mine = subscribed("/mine")
    other = subscribed("/other", fields=("message_template_status_update",),
                       business=mine.app.business)  # fmt: skip
    subscribed("/stranger")
    mine_rx, other_rx = Receiver(httpserver, "/mine"), Receiver(httpserver, "/other")
    stranger_rx = Receiver(httpserver, "/stranger")
    customer_wrote(mine.number, CUSTOMER)
    consume()
    eventually(lambda: mine_rx.requests)
    # `other` reads templates only; `stranger` is another business.
    assert other_rx.requests == [] and stranger_rx.requests == []
    do_request_test_event(other.app, "messages", actor_label="dev")
    consume()
    delivery_worker.wake()
    eventually(lambda: other_rx.requests)
    assert json.loads(other_rx.requests[0][1])["entry"][0]["changes"][0]["field"] == "messages"
    assert len(mine_rx.requests) == 1 and stranger_rx.requests == []


def test_the_delivery_worker_runs_the_webhooks_consumer_on_each_commit(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any
) -> None:
    s = subscribed()
    receiver = Receiver(httpserver)
    message = customer_wrote(s.number, CUSTOMER, "no one ran the stream by hand")
    # The commit's announcement woke the worker's own run of the `webhooks` consumer.
    eventually(lambda: receiver.requests)
    assert message.wamid.encode() in receiver.requests[0][1]


def test_the_celery_stream_runs_leave_the_webhooks_consumer_to_the_delivery_worker(
    subscribed: Any,
) -> None:
    from parley.core.models import StreamConsumer
    from parley.core.stream.runner import run_consumers

    s = subscribed()
    customer_wrote(s.number, CUSTOMER)
    assert run_consumers(max_seconds=30, shared_only=True)
    positions = dict(StreamConsumer.objects.values_list("name", "position"))
    assert positions.get("webhooks", 0) == 0 and positions["billing"] > 0
    assert not WebhookDelivery.objects.exists()
    consume()
    assert WebhookDelivery.objects.count() == 1


def test_the_log_keeps_settled_deliveries_for_its_retention_then_purges_them(
    subscribed: Any, frozen_clock: Any
) -> None:
    from parley.webhooks.actions.deliveries import do_purge_delivery_log
    from parley.webhooks.tasks import purge_delivery_log

    s = subscribed()
    for text in ("delivered", "dead", "pending"):
        customer_wrote(s.number, CUSTOMER, text)
    consume()
    delivered, dead, pending = WebhookDelivery.objects.order_by("id")
    WebhookDelivery.objects.filter(pk=delivered.pk).update(state=WebhookDelivery.DELIVERED)
    WebhookDelivery.objects.filter(pk=dead.pk).update(state=WebhookDelivery.DEAD)
    WebhookAttempt.objects.create(delivery=delivered, number=1, url="http://x/",
                                  started_at=clock.now(), response_status=200)  # fmt: skip
    frozen_clock.advance(days=29)
    assert do_purge_delivery_log() == 0
    frozen_clock.advance(days=2)
    assert purge_delivery_log() == 2  # the beat task, run as beat runs it
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [pending.pk]
    assert not WebhookAttempt.objects.exists()
