"""Message templates in the console: the list with filters, the create form and its errors,
editing, deleting and driving the simulated review; and the same in headless Chromium."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from parley.accounts.models import AuditEntry
from parley.message_templates.actions import do_create_template, do_review_template
from parley.message_templates.models import MessageTemplate
from tests.frontend.helpers import by_testid, field_error
from tests.frontend.test_browser import _log_in

BODY = {"type": "BODY", "text": "Your order {{1}} has shipped.",
        "example": {"body_text": [["A-1"]]}}  # fmt: skip


def _make(business: Any, name: str, **extra: Any) -> MessageTemplate:
    fields: dict[str, Any] = {"language": "en_US", "category": "UTILITY", "components": [BODY]}
    fields.update(extra)
    return do_create_template(business, name=name, **fields)


def _row(html: str, name: str) -> str:
    match = re.search(rf'<tr data-template="{name}".*?</tr>', html, re.S)
    assert match is not None, html
    return match.group(0)


@pytest.mark.django_db
def test_only_developers_and_administrators_see_the_page(factory: Any, console_client: Any) -> None:
    business = factory.business()
    for role, status in (("developer", 200), ("administrator", 200), ("agent", 403),
                         ("supervisor", 403), ("compliance_officer", 403)):  # fmt: skip
        response = console_client.as_(factory.staff(business, role)).get("/templates/")
        assert response.status_code == status, role
        nav = 'href="/templates/"' in response.content.decode()
        assert nav == (status == 200), role


@pytest.mark.django_db
def test_create_from_the_simple_fields_and_list_with_filters(
    factory: Any, console_client: Any
) -> None:
    business = factory.business()
    client = console_client.as_(factory.staff(business, "developer"))
    response = client.post("/templates/", {
        "name": "shipping_named", "language": "en_US", "category": "UTILITY",
        "parameter_format": "NAMED", "header_text": "Hi {{first_name}}",
        "header_example": "first_name=Ana", "body_text": "Order {{order}} ships {{day}}.",
        "body_examples": "order=A-1\nday=Monday", "footer_text": "Acme",
        "quick_replies": "Thanks\nStop",
    })  # fmt: skip
    assert response.status_code == 302, field_error(response.content.decode(), "body_text")
    template = MessageTemplate.objects.get(business=business)
    assert response["Location"] == f"/templates/{template.graph_id}/"
    assert template.parameter_format == "NAMED" and template.status == "PENDING"
    assert template.components[1]["example"] == {
        "body_text_named_params": [
            {"param_name": "order", "example": "A-1"},
            {"param_name": "day", "example": "Monday"},
        ]
    }
    assert [b["text"] for b in template.components[3]["buttons"]] == ["Thanks", "Stop"]

    _make(business, "promo_fall", category="MARKETING")
    rejected = _make(business, "old_notice")
    do_review_template(business, rejected.graph_id, decision="REJECTED", reason="SCAM")

    html = client.get("/templates/").content.decode()
    assert "SCAM" in _row(html, "old_notice") and ">rejected<" in _row(html, "old_notice")
    assert ">pending<" in _row(html, "shipping_named")
    filtered = client.get("/templates/?status=REJECTED").content.decode()
    assert 'data-template="old_notice"' in filtered
    assert 'data-template="promo_fall"' not in filtered
    by_category = client.get("/templates/?category=MARKETING").content.decode()
    assert 'data-template="promo_fall"' in by_category
    assert 'data-template="old_notice"' not in by_category
    by_name = client.get("/templates/?name=shipping").content.decode()
    assert [m for m in re.findall(r'data-template="([^"]+)"', by_name)] == ["shipping_named"]


@pytest.mark.django_db
def test_create_errors_are_form_errors_never_a_crash(factory: Any, console_client: Any) -> None:
    business = factory.business()
    client = console_client.as_(factory.staff(business, "administrator"))
    base = {"name": "good_name", "language": "en_US", "category": "UTILITY",
            "parameter_format": "POSITIONAL", "body_text": "Hello there."}  # fmt: skip
    cases = [
        ({"name": "Bad Name"}, "name", "lowercase letters"),
        ({"language": "English"}, "language", "language code"),
        ({"body_text": ""}, "body_text", "needs `text`"),
        ({"body_text": "Hi {{1}} and {{3}}, ok"}, "body_text", "in sequence"),
        ({"body_text": "Hi {{1}}, ok"}, "body_text", "example.body_text"),
        ({"components_json": "[{not json"}, "components_json", "not valid JSON"),
        ({"components_json": json.dumps([{"type": "FOOTER", "text": "x"}])},
         "components_json", "needs a BODY"),
        ({"category": "NOPE"}, "category", "Select a valid choice"),
    ]  # fmt: skip
    for change, field, needle in cases:
        response = client.post("/templates/", {**base, **change})
        assert response.status_code == 200, change
        assert needle in field_error(response.content.decode(), field), change
    assert not MessageTemplate.objects.exists()
    assert client.post("/templates/", base).status_code == 302
    again = client.post("/templates/", base)
    assert "Content in this language already exists" in field_error(
        again.content.decode(), "language"
    )
    assert MessageTemplate.objects.count() == 1


@pytest.mark.django_db
def test_review_buttons_edit_and_delete(factory: Any, console_client: Any) -> None:
    business = factory.business()
    client = console_client.as_(factory.staff(business, "developer"))
    template = _make(business, "order_shipped")
    page = f"/templates/{template.graph_id}/"
    html = client.get(page).content.decode()
    assert 'data-testid="review-approved"' in html and 'data-testid="review-rejected"' in html
    assert 'data-testid="review-paused"' not in html and 'data-testid="edit-closed"' in html

    client.post(f"{page}review/", {"decision": "REJECTED", "reason": "TAG_CONTENT_MISMATCH"})
    template.refresh_from_db()
    assert (template.status, template.rejected_reason) == ("REJECTED", "TAG_CONTENT_MISMATCH")
    refused = client.post(f"{page}review/", {"decision": "PAUSED"}, follow=True)
    assert "cannot be paused" in refused.content.decode()

    # Edit: errors stay on the form; a good edit goes back to review.
    broken = client.post(page, {"category": "UTILITY", "parameter_format": "POSITIONAL",
                                "components_json": "[]"})  # fmt: skip
    assert broken.status_code == 200
    assert "non-empty list" in field_error(broken.content.decode(), "components_json")
    sale = json.dumps([{"type": "BODY", "text": "Sale today!"}])
    edited = client.post(
        page, {"category": "MARKETING", "parameter_format": "POSITIONAL", "components_json": sale}
    )
    assert edited.status_code == 302
    template.refresh_from_db()
    assert (template.status, template.category) == ("PENDING", "MARKETING")

    client.post(f"{page}review/", {"decision": "APPROVED"})
    client.post(f"{page}review/", {"decision": "PAUSED", "reason": "Quality dropped"})
    template.refresh_from_db()
    assert (template.status, template.status_reason) == ("PAUSED", "Quality dropped")
    assert by_testid(client.get(page).content.decode(), "template-reason") == ["Quality dropped"]
    client.post(f"{page}review/", {"decision": "REINSTATED"})
    template.refresh_from_db()
    assert template.status == "APPROVED"

    assert client.post(f"{page}delete/").status_code == 302
    assert not MessageTemplate.objects.exists()
    assert client.get(page).status_code == 404
    actions = set(AuditEntry.objects.filter(business_ref=business.pk)
                  .values_list("action", flat=True))  # fmt: skip
    assert {"template.created", "template.reviewed", "template.edited",
            "template.deleted"} <= actions  # fmt: skip


@pytest.mark.django_db
def test_another_business_template_is_not_found(factory: Any, console_client: Any) -> None:
    theirs = _make(factory.business(), "their_secret")
    client = console_client.as_(factory.staff(factory.business(), "developer"))
    for method, path, data in [
        ("get", f"/templates/{theirs.graph_id}/", None),
        ("post", f"/templates/{theirs.graph_id}/review/", {"decision": "APPROVED"}),
        ("post", f"/templates/{theirs.graph_id}/delete/", {}),
    ]:
        response = getattr(client, method)(path, data) if data is not None else client.get(path)
        assert response.status_code == 404, path
        assert "their_secret" not in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.status == "PENDING"
    assert "their_secret" not in client.get("/templates/").content.decode()


def test_a_developer_creates_and_approves_a_template_in_the_browser(
    page: Page, asgi_server: str, factory: Any
) -> None:
    business = factory.business()
    developer = factory.staff(business, "developer")
    _log_in(page, asgi_server, developer)
    page.get_by_role("link", name="Templates").click()
    expect(page).to_have_url(f"{asgi_server}/templates/")

    form = page.get_by_test_id("template-create")
    form.locator("input[name=name]").fill("Bad Name")
    form.locator("textarea[name=body_text]").fill("Your code is ready.")
    form.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("error-name")).to_contain_text("lowercase letters")

    form = page.get_by_test_id("template-create")
    form.locator("input[name=name]").fill("order_ready")
    form.locator("textarea[name=body_text]").fill("Hi {{1}}, your order is ready.")
    form.locator("textarea[name=body_examples]").fill("Ana")
    form.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("template-status")).to_have_text("pending")

    page.get_by_test_id("reject-reason").select_option("INVALID_FORMAT")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_test_id("template-status")).to_have_text("rejected")
    expect(page.get_by_test_id("template-rejected-reason")).to_have_text("INVALID_FORMAT")

    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("template-status")).to_have_text("approved")
    page.get_by_role("link", name="← Message templates").click()
    row = page.locator('tr[data-template="order_ready"]')
    expect(row.get_by_test_id("template-status")).to_have_text("approved")
    assert MessageTemplate.objects.get(business=business, name="order_ready").status == "APPROVED"
