"""RCS US model: content classification, segments and richMessageClassification."""

from __future__ import annotations

import pytest

from billing.engine import (
    BillingModel,
    Channel,
    Content,
    EventStatus,
    EventType,
    Suggestions,
    WaCategory,
    rate,
    rich_message_classification,
    segment_count,
    utf8_len,
)
from tests.billing.engine.factories import A2P, CONV, INDIA, LATER, NON_CONV, P2A, T0, USA, fact

DEVANAGARI = "नमस्ते दुनिया"  # 13 characters, 37 UTF-8 bytes


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        pytest.param("", 1, id="empty is still one segment"),
        pytest.param("a" * 160, 1, id="160 ascii"),
        pytest.param("a" * 161, 2, id="161 ascii"),
        pytest.param("a" * 300, 2, id="300 ascii (docs example)"),
        pytest.param("😀" * 40, 1, id="40 emoji = 160 bytes"),
        pytest.param("😀" * 41, 2, id="41 emoji = 164 bytes"),
        pytest.param("न" * 53, 1, id="53 Devanagari letters = 159 bytes"),
        pytest.param("न" * 54, 2, id="54 Devanagari letters = 162 bytes"),
        pytest.param(DEVANAGARI * 5, 2, id="65 Devanagari chars = 185 bytes"),
        pytest.param("é" * 100, 2, id="100 accented = 200 bytes"),
    ],
)
def test_segments_count_utf8_bytes(text: str, segments: int) -> None:
    assert segment_count(utf8_len(text)) == segments
    (event,) = rate([fact("a1", customer=USA, text_bytes=utf8_len(text))], now=LATER).events
    assert event.event_type is EventType.A2P_RICH_MESSAGE
    assert event.segment_count == segments
    assert event.quantity == segments


@pytest.mark.parametrize(
    ("direction", "kwargs", "expected", "classification"),
    [
        (A2P, {}, EventType.A2P_RICH_MESSAGE, "RICH_MESSAGE"),
        (A2P, {"url_preview": True}, EventType.A2P_RICH_MESSAGE, "RICH_MESSAGE"),
        (A2P, {"suggestions": Suggestions.BASIC}, EventType.A2P_RICH_MESSAGE, "RICH_MESSAGE"),
        (
            A2P,
            {"suggestions": Suggestions.ADVANCED},
            EventType.A2P_RICH_MEDIA_MESSAGE,
            "RICH_MEDIA_MESSAGE",
        ),
        (
            A2P,
            {"content": Content.RICH_CARD},
            EventType.A2P_RICH_MEDIA_MESSAGE,
            "RICH_MEDIA_MESSAGE",
        ),
        # Text that carries media is a rich *media* message: the media decides, no segments.
        (
            A2P,
            {"content": Content.MEDIA, "text_bytes": 900},
            EventType.A2P_RICH_MEDIA_MESSAGE,
            "RICH_MEDIA_MESSAGE",
        ),
        (P2A, {}, EventType.P2A_RICH_MESSAGE, "RICH_MESSAGE"),
        (P2A, {"content": Content.SUGGESTED_REPLY_TAP}, EventType.P2A_RICH_MESSAGE, "RICH_MESSAGE"),
        (P2A, {"content": Content.STOP_START}, EventType.P2A_RICH_MESSAGE, "RICH_MESSAGE"),
        (P2A, {"content": Content.MEDIA}, EventType.P2A_RICH_MEDIA_MESSAGE, "RICH_MEDIA_MESSAGE"),
        (
            P2A,
            {"content": Content.LOCATION_SHARE},
            EventType.P2A_RICH_MEDIA_MESSAGE,
            "RICH_MEDIA_MESSAGE",
        ),
        (
            P2A,
            {"content": Content.SUGGESTED_ACTION_TAP},
            EventType.SUGGESTED_ACTION_CLICK,
            "SUGGESTED_ACTION_CLICK",
        ),
    ],
)
def test_classification(
    direction: object, kwargs: dict[str, object], expected: EventType, classification: str
) -> None:
    message = fact("m1", direction, 0, customer=USA, **kwargs)  # type: ignore[arg-type]
    (event,) = rate([message], now=LATER).events
    assert event.event_type is expected
    assert event.model is BillingModel.US
    assert event.country == "US"
    result = rich_message_classification(message)
    assert result is not None
    assert result["classificationType"] == classification
    if classification == "RICH_MESSAGE":
        assert result["segmentCount"] == event.segment_count >= 1
    else:
        assert "segmentCount" not in result
        assert event.segment_count == 0


def test_subscription_event_is_never_billed() -> None:
    message = fact("s1", P2A, 0, customer=USA, content=Content.SUBSCRIPTION_EVENT)
    assert rate([message], now=LATER).events == []
    assert rich_message_classification(message) is None


@pytest.mark.parametrize("category", [CONV, NON_CONV])
def test_category_does_not_matter_no_conversations(category: object) -> None:
    facts = [
        fact("a1", A2P, 0, customer=USA, category=category),  # type: ignore[arg-type]
        fact("p1", P2A, 1, customer=USA, category=category),  # type: ignore[arg-type]
        fact("a2", A2P, 2, customer=USA, category=category),  # type: ignore[arg-type]
    ]
    events = rate(facts, now=LATER).events
    assert [e.event_type for e in events] == [
        EventType.A2P_RICH_MESSAGE,
        EventType.P2A_RICH_MESSAGE,
        EventType.A2P_RICH_MESSAGE,
    ]


def test_us_events_are_final_once_delivered() -> None:
    (event,) = rate([fact("a1", customer=USA)], now=T0).events
    assert event.status is EventStatus.FINAL


def test_canadian_numbers_use_the_standard_model() -> None:
    (event,) = rate([fact("a1", customer="+14165550123")], now=LATER).events
    assert event.model is BillingModel.STANDARD
    assert event.country == "CA"


def test_classification_only_for_us_rcs_traffic() -> None:
    assert rich_message_classification(fact("a1", customer=INDIA)) is None
    whatsapp = fact("w1", customer=USA, channel=Channel.WHATSAPP, template=WaCategory.UTILITY)
    assert rich_message_classification(whatsapp) is None
