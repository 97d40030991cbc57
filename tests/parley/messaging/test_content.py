"""The typed content model: validation, round trips and the billing classification."""

from __future__ import annotations

from typing import Any

import pytest

from billing.engine.facts import A2P_CONTENT, P2A_CONTENT, Content, Suggestions, WaCategory
from parley.messaging import content as c

MEDIA = {"type": "media", "kind": "image", "id": "abc", "mime_type": "image/jpeg",
         "file_name": "a.jpg", "file_length": 2048, "caption": "look"}  # fmt: skip
CARD = {"type": "rich_card", "title": "Shoes", "description": "New in",
        "suggestions": [{"kind": "reply", "text": "Buy"}]}  # fmt: skip

OUTBOUND: list[tuple[dict[str, Any], str, str]] = [
    ({"type": "text", "body": "hi"}, "text", "none"),
    ({"type": "text", "body": "see https://x.test", "preview_url": True}, "text", "none"),
    ({"type": "text", "body": "pick", "suggestions": [{"kind": "reply", "text": "Yes"},
      {"kind": "dial", "text": "Call", "phone": "+14155550100"}]}, "text", "basic"),
    ({"type": "text", "body": "when?", "suggestions": [{"kind": "calendar", "text": "Add"}]},
     "text", "advanced"),
    (MEDIA, "media", "none"),
    ({"type": "interactive", "kind": "button", "body": "Size?",
      "buttons": [{"id": "s", "title": "Small"}, {"id": "l", "title": "Large"}]}, "text", "basic"),
    ({"type": "interactive", "kind": "list", "body": "Menu",
      "buttons": [{"id": "1", "title": "Pizza"}]}, "text", "basic"),
    ({"type": "interactive", "kind": "cta_url", "body": "Track", "url": "https://x.test/t",
      "display_text": "Track"}, "text", "basic"),
    ({"type": "template", "name": "order_update", "language": "en", "category": "utility",
      "parameters": ["1001"]}, "text", "none"),
    ({"type": "location", "latitude": 12.97, "longitude": 77.59, "name": "Store"}, "text", "none"),
    ({"type": "contacts", "contacts": [{"name": "Desk", "phones": ["+14155550100"]}]}, "text",
     "none"),
    ({"type": "reaction", "message_id": "wamid.X", "emoji": "👍"}, "text", "none"),
    (CARD, "rich_card", "basic"),
    ({"type": "carousel", "cards": [CARD, {**CARD, "title": "Bags",
      "suggestions": [{"kind": "webview", "text": "Open", "url": "https://x.test"}]}]},
     "rich_card", "advanced"),
]  # fmt: skip
INBOUND: list[tuple[dict[str, Any], str]] = [
    ({"type": "text", "body": "hello"}, "text"),
    (MEDIA, "media"),
    ({"type": "location", "latitude": 1.5, "longitude": 2.5}, "location_share"),
    ({"type": "interactive_reply", "id": "s", "title": "Small"}, "suggested_reply_tap"),
    ({"type": "action_tap", "postback": "track"}, "suggested_action_tap"),
    ({"type": "contacts", "contacts": [{"name": "Me"}]}, "text"),
    ({"type": "reaction", "message_id": "wamid.X", "emoji": "❤"}, "text"),
    ({"type": "unsupported", "reason": "could not be decrypted"}, "text"),
]


@pytest.mark.parametrize(("data", "billed", "suggestions"), OUTBOUND)
def test_outbound_content_round_trips_and_is_classified(
    data: dict[str, Any], billed: str, suggestions: str
) -> None:
    parsed = c.parse_content(data)
    assert c.parse_content(parsed.to_dict()) == parsed
    cls = c.billing_class(parsed, "outbound")
    assert Content(cls.content) in A2P_CONTENT and cls.content == billed
    assert Suggestions(cls.suggestions) == suggestions
    WaCategory(cls.template_category)  # a category billing knows


@pytest.mark.parametrize(("data", "billed"), INBOUND)
def test_inbound_content_is_classified(data: dict[str, Any], billed: str) -> None:
    parsed = c.parse_content(data)
    cls = c.billing_class(parsed, "inbound")
    assert Content(cls.content) in P2A_CONTENT and cls.content == billed
    assert cls.template_category == ""


def test_every_billing_content_class_a_message_can_be_is_reachable() -> None:
    reached = {c.billing_class(c.parse_content(d), "outbound").content for d, _, _ in OUTBOUND}
    reached |= {c.billing_class(c.parse_content(d), "inbound").content for d, _ in INBOUND}
    messages = set(Content) - {Content.STOP_START, Content.SUBSCRIPTION_EVENT}
    assert reached == {m.value for m in messages}


def test_sizes_and_categories_reach_billing() -> None:
    media = c.billing_class(c.parse_content(MEDIA), "outbound")
    assert (media.size_bytes, media.text_bytes, media.template_category) == (2048, 4, "service")
    text = c.billing_class(c.Text("héllo", preview_url=True), "outbound")
    assert (text.text_bytes, text.url_preview) == (6, True)
    template = c.Template("promo", "en", "marketing")
    assert c.billing_class(template, "outbound").template_category == "marketing"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("text", "content must be an object"),
        ({"type": "fax"}, "type must be one of"),
        ({"type": "text"}, "body is required"),
        ({"type": "text", "body": "x" * 4097}, "longer than 4096"),
        ({"type": "text", "body": "x", "preview_url": "yes"}, "preview_url must be"),
        ({"type": "media", "kind": "hologram", "id": "a"}, "media kind"),
        ({"type": "media", "kind": "image", "id": "a", "file_length": -1}, "file_length"),
        ({"type": "interactive", "kind": "button", "body": "b", "buttons": []}, "1 to 3"),
        ({"type": "interactive", "kind": "button", "body": "b",
          "buttons": [{"id": str(i), "title": "t"} for i in range(4)]}, "1 to 3"),
        ({"type": "interactive", "kind": "poll", "body": "b"}, "interactive kind"),
        ({"type": "template", "name": "n", "language": "en", "category": "spam"}, "category"),
        ({"type": "location", "latitude": 91, "longitude": 0}, "latitude must be between"),
        ({"type": "location", "latitude": True, "longitude": 0}, "latitude must be a number"),
        ({"type": "carousel", "cards": [CARD]}, "2 to 10"),
        ({"type": "text", "body": "x", "suggestions": [{"kind": "teleport", "text": "t"}]},
         "suggestion kind"),
        ({"type": "text", "body": "x", "suggestions": [{"kind": "open_url", "text": "t"}]},
         "url is required"),
    ],
)  # fmt: skip
def test_malformed_content_is_rejected_with_a_reason(data: Any, problem: str) -> None:
    with pytest.raises(c.ContentError, match=problem):
        c.parse_content(data)


def test_direction_rules() -> None:
    with pytest.raises(c.ContentError, match="a customer cannot send rich_card"):
        c.billing_class(c.parse_content(CARD), "inbound")
    with pytest.raises(c.ContentError, match="a business cannot send interactive_reply"):
        c.check_direction(c.InteractiveReply("s", "Small"), "outbound")
