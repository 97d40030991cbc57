"""resolve_template_send: what a send of a template must fill, with the Cloud API's error
codes when it does not."""

from __future__ import annotations

from typing import Any

import pytest

from parley.api.errors import error_envelope
from parley.message_templates.actions import do_create_template, do_review_template
from parley.message_templates.errors import TemplateSendError
from parley.message_templates.sending import resolve_template_send
from parley.messaging.content import Template, parse_content
from tests.parley.message_templates.conftest import named_template, template

pytestmark = pytest.mark.django_db


def _approved(business: Any, body: dict[str, Any]) -> Any:
    created = do_create_template(business, **body)
    do_review_template(business, created.graph_id, decision="APPROVED")
    return created


def _text(*values: str, names: tuple[str, ...] = ()) -> list[dict[str, str]]:
    if names:
        return [{"type": "text", "parameter_name": n, "text": v}
                for n, v in zip(names, values, strict=True)]  # fmt: skip
    return [{"type": "text", "text": v} for v in values]


GOOD = [
    {"type": "header", "parameters": _text("A-1001")},
    {"type": "body", "parameters": _text("Mark", "Monday")},
    {"type": "button", "sub_type": "url", "index": "1", "parameters": _text("A-1001")},
]


@pytest.fixture
def business(factory: Any) -> Any:
    business = factory.business()
    _approved(business, template())
    _approved(business, named_template())
    return business


def _code(business: Any, components: Any, name: str = "order_update", lang: str = "en_US") -> int:
    with pytest.raises(TemplateSendError) as excinfo:
        resolve_template_send(business, name, lang, components)
    error = excinfo.value
    assert error.http_status == 400
    body = error_envelope(error)["error"]
    assert body["message"] == f"(#{error.code}) {error.title}"
    assert body["error_data"]["messaging_product"] == "whatsapp"
    assert body["error_data"]["details"]
    return error.code


def test_a_good_send_renders_the_template(business: Any) -> None:
    content = resolve_template_send(business, "order_update", "en_US", GOOD)
    assert isinstance(content, Template)
    assert content.parameters == ("A-1001", "Mark", "Monday", "A-1001")
    assert content.category == "utility"
    assert content.header == "Order A-1001"
    assert content.body == "Hi Mark, your order ships on Monday. Thanks!"
    assert content.footer == "Acme Shop"
    # The content's JSON form still round-trips, old fields and new.
    assert parse_content(content.to_dict()) == content
    legacy = {"type": "template", "name": "n", "language": "en_US", "category": "utility",
              "parameters": ["a"]}  # fmt: skip
    assert parse_content(legacy) == Template("n", "en_US", "utility", ("a",))


def test_named_parameters_fill_by_name_in_template_order(business: Any) -> None:
    components = [
        {"type": "body", "parameters": _text("SAVE10", "Jessica", names=("code", "first_name"))}
    ]
    content = resolve_template_send(business, "welcome_named", "en_US", components)
    assert content.parameters == ("Jessica", "SAVE10")
    assert content.body == "Hello Jessica, use code SAVE10 today!"


def test_unknown_or_unapproved_templates_are_132001(business: Any) -> None:
    assert _code(business, GOOD, name="no_such") == 132001
    assert _code(business, GOOD, lang="fr_FR") == 132001
    assert _code(business, GOOD, name="Not A Name") == 132001
    do_create_template(business, **template(name="pending_one"))
    assert _code(business, GOOD, name="pending_one") == 132001


def test_another_business_cannot_send_my_template(business: Any, factory: Any) -> None:
    assert _code(factory.business(), GOOD) == 132001


def test_paused_and_disabled_templates(business: Any) -> None:
    row = business.message_templates.get(name="order_update")
    do_review_template(business, row.graph_id, decision="PAUSED")
    assert _code(business, GOOD) == 132015
    do_review_template(business, row.graph_id, decision="DISABLED")
    assert _code(business, GOOD) == 132016
    do_review_template(business, row.graph_id, decision="REINSTATED")
    assert resolve_template_send(business, "order_update", "en_US", GOOD).parameters


def test_parameter_counts_must_match_132000(business: Any) -> None:
    short = [GOOD[0], {"type": "body", "parameters": _text("Mark")}, GOOD[2]]
    assert _code(business, short) == 132000
    assert _code(business, [GOOD[0], GOOD[2]]) == 132000  # the body is missing
    assert _code(business, []) == 132000
    empty = [GOOD[0], {"type": "body", "parameters": _text("Mark", " ")}, GOOD[2]]
    assert _code(business, empty) == 132000
    extra = [*GOOD, {"type": "button", "sub_type": "url", "index": "5",
                     "parameters": _text("x")}]  # fmt: skip
    assert _code(business, extra) == 132000


def test_parameter_format_must_match_132012(business: Any) -> None:
    named_in_positional = [
        GOOD[0],
        {"type": "body", "parameters": _text("Mark", "Mon", names=("a", "b"))},
        GOOD[2],
    ]
    assert _code(business, named_in_positional) == 132012
    positional_in_named = [{"type": "body", "parameters": _text("Jessica", "SAVE10")}]
    assert _code(business, positional_in_named, name="welcome_named") == 132012
    wrong_name = [{"type": "body", "parameters": _text("J", "S", names=("first_name", "nope"))}]
    assert _code(business, wrong_name, name="welcome_named") == 132012
    image_param = [{"type": "header", "parameters": [{"type": "image",
                                                      "image": {"link": "https://x"}}]},
                   *GOOD[1:]]  # fmt: skip
    assert _code(business, image_param) == 132012
    assert _code(business, "not a list") == 132012


def test_format_characters_132007(business: Any) -> None:
    for bad in ("Mark\nSmith", "Mark\tSmith", "Mark     Smith"):
        components = [GOOD[0], {"type": "body", "parameters": _text(bad, "Monday")}, GOOD[2]]
        assert _code(business, components) == 132007
    four_spaces = [GOOD[0], {"type": "body", "parameters": _text("Mark    S", "Monday")}, GOOD[2]]
    assert resolve_template_send(business, "order_update", "en_US", four_spaces)


def test_translated_text_too_long_132005(business: Any) -> None:
    long_body = [GOOD[0], {"type": "body", "parameters": _text("M" * 1000, "Monday")}, GOOD[2]]
    assert _code(business, long_body) == 132005
    long_header = [{"type": "header", "parameters": _text("A" * 60)}, *GOOD[1:]]
    assert _code(business, long_header) == 132005


def test_media_headers_take_media_parameters(factory: Any) -> None:
    business = factory.business()
    _approved(business, template(name="with_image", components=[
        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1n"]}},
        {"type": "BODY", "text": "Your receipt."},
    ]))  # fmt: skip
    image = [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": "https://cdn.test/r.png"}}],
        }
    ]
    content = resolve_template_send(business, "with_image", "en_US", image)
    assert content.parameters == ("https://cdn.test/r.png",) and content.body == "Your receipt."
    text_instead = [{"type": "header", "parameters": _text("hello")}]
    assert _code(business, text_instead, name="with_image") == 132012


def test_the_send_bodys_template_object_is_resolved_the_same_way(business: Any) -> None:
    from parley.message_templates.sending import resolve_template_object

    sent = {"name": "order_update", "language": {"code": "en_US"}, "components": GOOD}
    assert resolve_template_object(business, sent).parameters == ("A-1001", "Mark", "Monday",
                                                                  "A-1001")  # fmt: skip
    with pytest.raises(TemplateSendError) as excinfo:
        resolve_template_object(business, {"name": "order_update", "language": {"code": 5}})
    assert excinfo.value.code == 132001


def test_a_quick_reply_payload_is_not_a_parameter(business: Any) -> None:
    payload = {"type": "button", "sub_type": "quick_reply", "index": "0",
               "parameters": [{"type": "payload", "payload": "STOP"}]}  # fmt: skip
    content = resolve_template_send(business, "order_update", "en_US", [*GOOD, payload])
    assert content.parameters == ("A-1001", "Mark", "Monday", "A-1001")
    # The URL button (index 1) takes exactly its one parameter.
    two = {**GOOD[2], "parameters": _text("A-1001", "extra")}
    assert _code(business, [GOOD[0], GOOD[1], two]) == 132000
