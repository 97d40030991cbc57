"""The simulated review: driven through /parley/v1/simulator/…/review, and by itself after
the configured delay on the simulation clock; every change lands in the event stream."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings

from parley.accounts.models import AuditEntry
from parley.core.due import due_job_names, run_due_jobs
from parley.core.events import TemplateStatusChanged
from parley.core.models import StreamEntry
from parley.core.stream import log as stream_log
from parley.message_templates.actions import do_approve_due_templates
from parley.message_templates.models import MessageTemplate
from tests.parley.message_templates.conftest import Tenant, assert_envelope

pytestmark = pytest.mark.django_db


def _review(tenant: Tenant, template_id: str, status: str, reason: str | None = None) -> Any:
    body: dict[str, Any] = {"status": status}
    if reason is not None:
        body["reason"] = reason
    return tenant.call("post", f"/parley/v1/simulator/templates/{template_id}/review", body)


def _events(business_id: int) -> list[TemplateStatusChanged]:
    rows = StreamEntry.objects.filter(business_id=business_id, name="template.status_changed")
    return [e for e in map(stream_log.to_event, rows.order_by("id"))
            if isinstance(e, TemplateStatusChanged)]  # fmt: skip


def test_review_moves_a_template_through_metas_statuses(tenant: Tenant) -> None:
    template_id = tenant.create().json()["id"]

    rejected = _review(tenant, template_id, "REJECTED")  # a rejection needs Meta's reason
    assert "TAG_CONTENT_MISMATCH" in assert_envelope(rejected, 400, 100)["message"]
    assert_envelope(_review(tenant, template_id, "PAUSED"), 400, 100)  # not approved yet
    assert_envelope(_review(tenant, template_id, "LIVE"), 400, 100)

    response = _review(tenant, template_id, "REJECTED", "INVALID_FORMAT")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "REJECTED"
    assert response.json()["rejected_reason"] == "INVALID_FORMAT"

    # An appeal granted, then quality trouble, then reinstated.
    assert _review(tenant, template_id, "APPROVED").json()["rejected_reason"] == "NONE"
    assert _review(tenant, template_id, "PAUSED", "Low quality rating").json()["status"] == "PAUSED"
    assert _review(tenant, template_id, "REINSTATED").json()["status"] == "APPROVED"
    assert _review(tenant, template_id, "DISABLED").json()["status"] == "DISABLED"
    assert tenant.call("get", f"/v23.0/{template_id}").json()["status"] == "DISABLED"

    events = _events(tenant.business.pk)
    assert [(e.event, e.status, e.previous_status) for e in events] == [
        ("PENDING", "PENDING", ""),
        ("REJECTED", "REJECTED", "PENDING"),
        ("APPROVED", "APPROVED", "REJECTED"),
        ("PAUSED", "PAUSED", "APPROVED"),
        ("REINSTATED", "APPROVED", "PAUSED"),
        ("DISABLED", "DISABLED", "APPROVED"),
    ]
    rejection = events[1]
    assert rejection.template_id == template_id
    assert (rejection.template_name, rejection.language) == ("order_update", "en_US")
    assert rejection.reason == "INVALID_FORMAT"
    assert events[3].reason == "Low quality rating"
    entry = StreamEntry.objects.filter(name="template.status_changed").first()
    assert entry is not None and "developer" in entry.audience and "administrator" in entry.audience
    assert "agent" not in entry.audience
    assert AuditEntry.objects.filter(action="template.reviewed").count() == 5


def test_edit_and_delete_publish_too(tenant: Tenant) -> None:
    template_id = tenant.create().json()["id"]
    _review(tenant, template_id, "APPROVED")
    tenant.call("post", f"/v23.0/{template_id}",
                {"components": [{"type": "BODY", "text": "Shipped."}]})  # fmt: skip
    tenant.call("delete", tenant.base + "?name=order_update")
    tail = [(e.event, e.status, e.previous_status) for e in _events(tenant.business.pk)][-2:]
    assert tail == [("PENDING", "PENDING", "APPROVED"), ("DELETED", "DELETED", "PENDING")]


def test_staff_sessions_drive_the_review_too(tenant: Tenant, factory: Any, console_client) -> None:
    template_id = tenant.create().json()["id"]
    agent = console_client.as_(factory.staff(tenant.business, "agent"))
    refused = agent.post(f"/parley/v1/simulator/templates/{template_id}/review",
                         {"status": "APPROVED"}, content_type="application/json")  # fmt: skip
    assert refused.status_code == 403
    admin = console_client.as_(factory.staff(tenant.business, "administrator"))
    approved = admin.post(f"/parley/v1/simulator/templates/{template_id}/review",
                          {"status": "APPROVED"}, content_type="application/json")  # fmt: skip
    assert approved.status_code == 200 and approved.json()["status"] == "APPROVED"


def test_auto_approval_follows_the_simulation_clock(tenant: Tenant, frozen_clock) -> None:
    delay = settings.PARLEY["TEMPLATE_AUTO_APPROVE_SECONDS"]
    assert delay > 0
    first = tenant.create().json()["id"]
    frozen_clock.advance(seconds=delay / 2)
    second = tenant.create(name="later").json()["id"]
    rejected = tenant.create(name="rejected_one").json()["id"]
    _review(tenant, rejected, "REJECTED", "SCAM")

    frozen_clock.advance(seconds=delay / 2 - 1)
    assert do_approve_due_templates() == 0  # a second early: nothing is due
    assert MessageTemplate.objects.get(graph_id=first).status == "PENDING"

    # A move of the clock runs the due jobs: the review is one of them.
    frozen_clock.advance(seconds=1)
    results = {r.name: r for r in run_due_jobs()}
    assert "parley.message_templates.tasks.approve_due_templates" in due_job_names()
    assert results["parley.message_templates.tasks.approve_due_templates"].result == "1"
    statuses = {
        str(t.graph_id): t.status for t in MessageTemplate.objects.filter(business=tenant.business)
    }
    assert statuses == {first: "APPROVED", second: "PENDING", rejected: "REJECTED"}

    frozen_clock.advance(seconds=delay)
    assert do_approve_due_templates() == 1
    assert MessageTemplate.objects.get(graph_id=second).status == "APPROVED"
    assert do_approve_due_templates() == 0  # idempotent
    approvals = [e for e in _events(tenant.business.pk) if e.event == "APPROVED"]
    assert [e.template_id for e in approvals] == [first, second]
    assert AuditEntry.objects.filter(action="template.reviewed",
                                     actor_label="simulated review").count() == 2  # fmt: skip


def test_an_edit_restarts_the_review_delay(tenant: Tenant, frozen_clock) -> None:
    delay = dt.timedelta(seconds=settings.PARLEY["TEMPLATE_AUTO_APPROVE_SECONDS"])
    template_id = tenant.create().json()["id"]
    _review(tenant, template_id, "REJECTED", "PROMOTIONAL")
    frozen_clock.advance(seconds=delay.total_seconds() * 3)
    tenant.call("post", f"/v23.0/{template_id}", {"category": "MARKETING"})
    row = MessageTemplate.objects.get(graph_id=template_id)
    assert row.status == "PENDING" and row.review_due_at == frozen_clock.now() + delay
    assert do_approve_due_templates() == 0
    frozen_clock.advance(seconds=delay.total_seconds())
    assert do_approve_due_templates() == 1


def test_auto_approval_can_be_turned_off(tenant: Tenant, frozen_clock, settings) -> None:
    settings.PARLEY = {**settings.PARLEY, "TEMPLATE_AUTO_APPROVE_SECONDS": 0}
    template_id = tenant.create().json()["id"]
    assert MessageTemplate.objects.get(graph_id=template_id).review_due_at is None
    frozen_clock.advance(days=30)
    assert do_approve_due_templates() == 0


def test_beat_runs_the_review_and_the_worker_knows_the_task() -> None:
    from parley.celery import app

    app.loader.import_default_modules()
    entries = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "parley.message_templates.tasks.approve_due_templates" in entries
    assert "parley.message_templates.tasks.approve_due_templates" in app.tasks
