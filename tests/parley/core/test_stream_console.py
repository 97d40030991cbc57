"""The stream for administrators: the dashboard's panel with its re-drive button, and the
`stream` management command."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command

from parley.accounts.models import AuditEntry
from parley.core import clock
from parley.core.events import StaffChanged
from parley.core.models import StreamPending
from parley.core.publish import publish
from parley.core.stream.consumers import Consumer, Delivery, register, unregister
from parley.core.stream.runner import run_consumers

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def dead_letter() -> Iterator[tuple[int, list[int]]]:
    """One entry dead for the "fragile" consumer, which then recovers."""
    handled: list[int] = []
    broken = [True]

    def handle(items: list[Delivery]) -> None:
        if broken[0]:
            raise ValueError("downstream refused")
        handled.extend(i.stream_id for i in items)

    register(Consumer("fragile", handle, None, max_attempts=1))
    stream_id = publish(
        StaffChanged(business_id=1, occurred_at=clock.now(), user_ids=(1,), change="x")
    )
    run_consumers(max_seconds=30, names=["fragile"])
    assert StreamPending.objects.get(consumer="fragile").state == StreamPending.DEAD
    broken[0] = False
    yield stream_id, handled
    unregister("fragile")


def test_the_dashboard_shows_administrators_the_stream_and_redrives(
    console_client, factory, dead_letter
) -> None:
    stream_id, handled = dead_letter
    business = factory.business()
    developer = console_client.as_(factory.staff(business, "developer"))
    assert 'data-testid="event-stream"' not in developer.get("/").content.decode()
    assert developer.post("/stream/redrive/", {"consumer": "fragile"}).status_code == 403

    admin = console_client.as_(factory.staff(business, "administrator"))
    html = admin.get("/").content.decode()
    assert 'data-testid="event-stream"' in html
    row = html.split('data-consumer="fragile"')[1].split("</tr>")[0]
    assert "Re-drive" in row and ">1<" in row.replace(" ", "").replace("\n", "")

    response = admin.post("/stream/redrive/", {"consumer": "fragile"}, follow=True)
    assert "1 dead letter(s) of fragile queued" in response.content.decode()
    entry = AuditEntry.objects.get(action="stream.redriven")
    assert (entry.business_ref, entry.target) == (business.pk, "stream consumer fragile")
    assert entry.details == {"consumer": "fragile", "count": 1}
    assert entry.actor_label.startswith("administrator")
    run_consumers(max_seconds=30, names=["fragile"])
    assert handled[0] == stream_id  # then the audit entry of the re-drive
    # A name that is no consumer is a message, not an error page.
    unknown = admin.post("/stream/redrive/", {"consumer": "x" * 500}, follow=True)
    assert unknown.status_code == 200
    assert "no stream consumer named" in unknown.content.decode()


def test_administrators_discard_a_dead_letter_from_the_dashboard(
    console_client, factory, dead_letter
) -> None:
    stream_id, handled = dead_letter
    later = publish(StaffChanged(business_id=1, occurred_at=clock.now(), user_ids=(), change="y"))
    run_consumers(max_seconds=30, names=["fragile"])
    assert handled == []  # held behind the dead letter of its key
    business = factory.business()
    developer = console_client.as_(factory.staff(business, "developer"))
    assert developer.post("/stream/discard/", {"consumer": "fragile"}).status_code == 403
    admin = console_client.as_(factory.staff(business, "administrator"))
    row = admin.get("/").content.decode().split('data-consumer="fragile"')[1].split("</tr>")[0]
    assert 'action="/stream/discard/"' in row and "Discard" in row
    response = admin.post("/stream/discard/", {"consumer": "fragile"}, follow=True)
    assert "1 dead letter(s) of fragile discarded" in response.content.decode()
    assert AuditEntry.objects.get(action="stream.discarded").business_ref == business.pk
    run_consumers(max_seconds=30, names=["fragile"])
    assert handled[0] == later and stream_id not in handled
    unknown = admin.post("/stream/discard/", {"consumer": "nobody"}, follow=True)
    assert "no stream consumer named" in unknown.content.decode()


def test_the_stream_command_lists_and_redrives_dead_letters(dead_letter) -> None:
    stream_id, handled = dead_letter
    out = io.StringIO()
    call_command("stream", "status", stdout=out)
    status = json.loads(out.getvalue())
    assert status["consumers"]["fragile"]["dead"] == 1

    out = io.StringIO()
    call_command("stream", "dead", "fragile", stdout=out)
    assert f"#{stream_id}\t1 attempts\tValueError: downstream refused" in out.getvalue()

    with pytest.raises(CommandError, match="no stream consumer named"):
        call_command("stream", "redrive", "nobody")
    out = io.StringIO()
    call_command("stream", "redrive", "fragile", str(stream_id), stdout=out)
    assert "1 dead letter(s) of fragile re-driven" in out.getvalue()
    entry = AuditEntry.objects.get(action="stream.redriven")
    assert (entry.business_ref, entry.actor_label) == (None, "manage.py stream")
    assert entry.details == {"consumer": "fragile", "count": 1, "entry_ids": [stream_id]}
    call_command("stream", "run", stdout=io.StringIO())
    assert handled[0] == stream_id


def test_the_stream_command_discards_dead_letters(dead_letter) -> None:
    stream_id, handled = dead_letter
    with pytest.raises(CommandError, match="no stream consumer named"):
        call_command("stream", "discard", "nobody")
    out = io.StringIO()
    call_command("stream", "discard", "fragile", str(stream_id), stdout=out)
    assert "1 dead letter(s) of fragile discarded" in out.getvalue()
    call_command("stream", "run", stdout=io.StringIO())
    assert handled == [] and not StreamPending.objects.filter(consumer="fragile").exists()
