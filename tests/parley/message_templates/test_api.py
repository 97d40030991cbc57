"""The Cloud API's message template endpoints: create, list, filter, page, read, edit, delete,
validation in Meta's envelope, and one business never seeing another's templates."""

from __future__ import annotations

from typing import Any

import pytest

from parley.accounts.actions.numbers import do_add_number
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import AuditEntry
from parley.message_templates.actions import do_review_template
from parley.message_templates.models import MessageTemplate
from tests.parley.message_templates.conftest import (
    Tenant,
    assert_envelope,
    make_tenant,
    named_template,
    template,
)

pytestmark = pytest.mark.django_db


def test_create_answers_metas_shape_and_stores_a_pending_template(tenant: Tenant) -> None:
    response = tenant.create()
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"id", "status", "category"}
    assert body["status"] == "PENDING" and body["category"] == "UTILITY"
    row = MessageTemplate.objects.get(business=tenant.business)
    assert body["id"] == str(row.graph_id)
    # Its own id space: 16 digits, never the row id nor a business / number id (15 digits).
    assert len(body["id"]) == 16 and body["id"] != str(row.pk)
    assert [c["type"] for c in row.components] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]
    assert AuditEntry.objects.filter(action="template.created", business_ref=tenant.business.pk)

    node = tenant.call("get", f"/v23.0/{body['id']}").json()
    assert node == {
        "id": body["id"],
        "name": "order_update",
        "language": "en_US",
        "status": "PENDING",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": row.components,
        "rejected_reason": "NONE",
    }


def test_same_name_in_another_language_is_fine_but_not_twice(tenant: Tenant) -> None:
    assert tenant.create().status_code == 200
    assert tenant.create(language="pt_BR").status_code == 200
    error = assert_envelope(tenant.create(), 400, 100)
    assert error["error_subcode"] == 2388024
    assert "Content in this language already exists" in error["message"]
    assert MessageTemplate.objects.filter(business=tenant.business).count() == 2


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"name": "Order Update"}, "name"),
        ({"name": "x" * 513}, "name"),
        ({"language": "english"}, "language"),
        ({"category": "PROMO"}, "category"),
        ({"components": []}, "components"),
        ({"components": [{"type": "FOOTER", "text": "only a footer"}]}, "needs a BODY"),
        ({"components": [{"type": "BODY", "text": "x" * 1025}]}, "longer than 1024"),
        ({"components": [{"type": "BODY", "text": "Hi {{1}} and {{3}}!",
                          "example": {"body_text": [["a", "b"]]}}]}, "in sequence"),
        ({"components": [{"type": "BODY", "text": "Hi {{1}}, ok"}]}, "example.body_text"),
        ({"components": [{"type": "BODY", "text": "Hi {{1}} {{2}}!",
                          "example": {"body_text": [["only one"]]}}]}, "exactly 2"),
        ({"components": [{"type": "BODY", "text": "Hi {{first_name}}!"}]}, "named variable"),
        ({"components": [{"type": "BODY", "text": "Hi {{1}!"}]}, "unbalanced"),
        ({"components": [{"type": "BODY", "text": "Hi"},
                          {"type": "BODY", "text": "again"}]}, "more than one BODY"),
        ({"components": [{"type": "BODY", "text": "Hi"}, {"type": "BUTTONS", "buttons": [
            {"type": "QUICK_REPLY", "text": "x" * 26}]}]}, "longer than 25"),
        ({"components": [{"type": "BODY", "text": "Hi"},
                          {"type": "FOOTER", "text": "Bye {{1}}"}]}, "FOOTER"),
        ({"components": [{"type": "HEADER", "format": "IMAGE"},
                          {"type": "BODY", "text": "Hi"}]}, "header_handle"),
    ],
)  # fmt: skip
def test_invalid_templates_answer_code_100_and_store_nothing(
    tenant: Tenant, overrides: dict[str, Any], needle: str
) -> None:
    error = assert_envelope(tenant.create(**overrides), 400, 100)
    assert needle in error["message"], error["message"]
    assert not MessageTemplate.objects.exists()


def test_a_variable_at_the_edge_of_the_body_has_metas_subcode(tenant: Tenant) -> None:
    response = tenant.create(
        components=[{"type": "BODY", "text": "{{1}} is here", "example": {"body_text": [["A"]]}}]
    )
    error = assert_envelope(response, 400, 100)
    assert error["error_subcode"] == 2388299


def test_named_templates_need_named_examples(tenant: Tenant) -> None:
    assert tenant.call("post", tenant.base, named_template()).status_code == 200
    broken = named_template(name="other_named")
    broken["components"][0]["example"]["body_text_named_params"].pop()
    error = assert_envelope(tenant.call("post", tenant.base, broken), 400, 100)
    assert "missing code" in error["message"]
    positional = named_template(name="third", components=[{"type": "BODY", "text": "Hi {{1}}!"}])
    error = assert_envelope(tenant.call("post", tenant.base, positional), 400, 100)
    assert "positional variable" in error["message"]


def test_authentication_templates_get_the_preset_body(tenant: Tenant) -> None:
    response = tenant.create(
        name="login_code",
        category="AUTHENTICATION",
        components=[
            {"type": "BODY", "add_security_recommendation": True},
            {"type": "FOOTER", "code_expiration_minutes": 10},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
        ],
    )
    assert response.status_code == 200, response.content
    row = MessageTemplate.objects.get(name="login_code")
    assert row.components[0]["text"].startswith("*{{1}}* is your verification code.")
    assert row.components[1]["text"] == "This code expires in 10 minutes."
    error = assert_envelope(tenant.create(name="bad_auth", category="AUTHENTICATION"), 400, 100)
    assert "AUTHENTICATION" in error["message"]


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [t["name"] for t in response.json()["data"]]


def test_list_filters_and_pages(tenant: Tenant) -> None:
    for i in range(5):
        tenant.create(name=f"update_{i}")
    tenant.call("post", tenant.base, named_template())
    first = MessageTemplate.objects.get(name="update_0")
    do_review_template(tenant.business, first.graph_id, decision="REJECTED",
                       reason="TAG_CONTENT_MISMATCH")  # fmt: skip

    everything = tenant.call("get", tenant.base).json()
    assert [t["name"] for t in everything["data"]] == [
        "update_0", "update_1", "update_2", "update_3", "update_4", "welcome_named"
    ]  # fmt: skip
    rejected = everything["data"][0]
    assert rejected["status"] == "REJECTED"
    assert rejected["rejected_reason"] == "TAG_CONTENT_MISMATCH"
    assert set(rejected) == {"id", "name", "language", "status", "category", "components",
                             "parameter_format", "rejected_reason"}  # fmt: skip

    assert _names(tenant.call("get", tenant.base + "?status=REJECTED")) == ["update_0"]
    assert _names(tenant.call("get", tenant.base + "?category=MARKETING")) == ["welcome_named"]
    assert _names(tenant.call("get", tenant.base + "?name=update_3")) == ["update_3"]
    assert len(_names(tenant.call("get", tenant.base + "?name=update"))) == 5
    assert _names(tenant.call("get", tenant.base + "?language=pt_BR")) == []

    page1 = tenant.call("get", tenant.base + "?limit=4").json()
    assert len(page1["data"]) == 4 and "next" in page1["paging"]
    after = page1["paging"]["cursors"]["after"]
    page2 = tenant.call("get", tenant.base + f"?limit=4&after={after}").json()
    assert [t["name"] for t in page2["data"]] == ["update_4", "welcome_named"]
    assert "next" not in page2["paging"]

    for bad in ("?status=LIVE", "?category=promo", "?name=Bad-Name", "?limit=0"):
        assert_envelope(tenant.call("get", tenant.base + bad), 400, 100)


def test_edit_sends_the_template_back_to_review(tenant: Tenant) -> None:
    template_id = tenant.create().json()["id"]
    # Pending: Meta edits only APPROVED, REJECTED or PAUSED templates.
    body = {"components": [{"type": "BODY", "text": "Your order is on its way."}]}
    error = assert_envelope(tenant.call("post", f"/v23.0/{template_id}", body), 400, 100)
    assert "PENDING template cannot be edited" in error["message"]

    do_review_template(tenant.business, template_id, decision="APPROVED")
    refused = tenant.call("post", f"/v23.0/{template_id}", {"category": "MARKETING"})
    assert "category of an APPROVED template" in assert_envelope(refused, 400, 100)["message"]

    edited = tenant.call("post", f"/v23.0/{template_id}", body)
    assert edited.status_code == 200
    assert edited.json() == {"success": True, "id": str(template_id), "name": "order_update",
                             "category": "UTILITY"}  # fmt: skip
    node = tenant.call("get", f"/v23.0/{template_id}").json()
    assert node["status"] == "PENDING"
    assert node["components"] == [{"type": "BODY", "text": "Your order is on its way."}]

    do_review_template(tenant.business, template_id, decision="REJECTED", reason="PROMOTIONAL")
    invalid = tenant.call(
        "post", f"/v23.0/{template_id}", {"components": [{"type": "BODY", "text": "Hi {{2}}."}]}
    )
    assert_envelope(invalid, 400, 100)
    again = tenant.call("post", f"/v23.0/{template_id}", {"category": "MARKETING"})
    assert again.status_code == 200
    row = MessageTemplate.objects.get(graph_id=template_id)
    assert (row.status, row.category, row.rejected_reason) == ("PENDING", "MARKETING", "NONE")


def test_post_to_other_nodes_is_metas_error_and_get_still_reads_them(
    tenant: Tenant, factory: Any
) -> None:
    admin = factory.staff(tenant.business, "administrator")
    number = do_add_number(admin, phone_number="+14155550177", display_name="Acme")
    for node in (str(tenant.business.pk), str(number.pk)):
        error = assert_envelope(tenant.call("post", f"/v23.0/{node}", {"category": "UTILITY"}),
                                400, 100)  # fmt: skip
        assert error["error_subcode"] == 33 and "Unsupported post request" in error["message"]
    assert tenant.call("get", f"/v23.0/{number.pk}").json()["id"] == str(number.pk)
    assert tenant.call("get", f"/v23.0/{tenant.business.pk}").json()["name"]
    assert_envelope(tenant.call("post", "/v23.0/1234567890123456", {}), 404, 100)
    assert_envelope(tenant.call("delete", f"/v23.0/{number.pk}"), 405, 100)


def test_delete_by_name_or_by_id(tenant: Tenant) -> None:
    english = tenant.create().json()["id"]
    tenant.create(language="es_MX")
    tenant.create(name="keep_me")
    assert_envelope(tenant.call("delete", tenant.base), 400, 100)  # name is required
    assert_envelope(tenant.call("delete", tenant.base + "?name=no_such"), 404, 100)
    # hsm_id must name a template of that name.
    keep = MessageTemplate.objects.get(name="keep_me").graph_id
    assert_envelope(tenant.call("delete", tenant.base + f"?name=order_update&hsm_id={keep}"),
                    404, 100)  # fmt: skip

    one = tenant.call("delete", tenant.base + f"?name=order_update&hsm_id={english}")
    assert one.json() == {"success": True}
    assert list(MessageTemplate.objects.values_list("language", flat=True).order_by("id")) == [
        "es_MX", "en_US"
    ]  # fmt: skip
    assert tenant.call("delete", tenant.base + "?name=order_update").json() == {"success": True}
    assert list(MessageTemplate.objects.values_list("name", flat=True)) == ["keep_me"]
    assert_envelope(tenant.call("get", f"/v23.0/{english}"), 404, 100)
    assert AuditEntry.objects.filter(action="template.deleted").count() == 2


def test_another_business_never_sees_a_template(tenant: Tenant, factory: Any, client: Any) -> None:
    template_id = tenant.create().json()["id"]
    other = make_tenant(factory, client)
    for method, path, body in [
        ("get", f"/v23.0/{template_id}", None),
        ("post", f"/v23.0/{template_id}", {"category": "MARKETING"}),
        ("post", f"/parley/v1/simulator/templates/{template_id}/review", {"status": "APPROVED"}),
    ]:
        response = other.call(method, path, body)
        error = assert_envelope(response, 404, 100)
        assert "order_update" not in response.content.decode()
        assert error["error_subcode"] == 33
    # Its own WABA path lists nothing of the first; the first's WABA path is not its own.
    assert other.call("get", other.base).json()["data"] == []
    assert_envelope(other.call("get", tenant.base), 404, 100)
    assert_envelope(other.call("post", tenant.base, template(name="sneaky")), 404, 100)
    deleted = other.call("delete", other.base + f"?name=order_update&hsm_id={template_id}")
    assert_envelope(deleted, 404, 100)
    row = MessageTemplate.objects.get(graph_id=template_id)
    assert (row.status, row.category) == ("PENDING", "UTILITY")


def test_a_token_without_the_templates_scope_is_refused(tenant: Tenant) -> None:
    narrow = do_create_api_token(tenant.developer, name="numbers only", scopes=["view_numbers"])
    tenant.create()
    template_id = MessageTemplate.objects.get().graph_id
    bearer = f"Bearer {narrow.secret}"
    listing = tenant.client.get(tenant.base, HTTP_AUTHORIZATION=bearer)
    assert "manage_templates" in assert_envelope(listing, 403, 10)["message"]
    node = tenant.client.get(f"/v23.0/{template_id}", HTTP_AUTHORIZATION=bearer)
    assert_envelope(node, 403, 10)
    # The numbers it may see, it still sees.
    business = tenant.client.get(f"/v23.0/{tenant.business.pk}", HTTP_AUTHORIZATION=bearer)
    assert business.status_code == 200


def test_the_schema_documents_the_template_operations(client: Any) -> None:
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    operations = paths["/{version}/{waba_id}/message_templates/"]
    assert {"get", "post", "delete"} <= set(operations)
    assert "post" in paths["/{version}/{node_id}/"]
    assert "post" in paths["/parley/v1/simulator/templates/{template_id}/review"]
