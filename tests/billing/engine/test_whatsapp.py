"""WhatsApp: per-message pricing from 2025-07-01, conversation-based before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.engine import BillingModel, Channel, EventType, WaCategory, rate
from tests.billing.engine.factories import A2P, LATER, P2A, fact

JULY = datetime(2025, 7, 7, 9, 0, tzinfo=UTC)  # per-message pricing
JUNE = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)  # conversation-based, service free
OCTOBER_2024 = datetime(2024, 10, 7, 9, 0, tzinfo=UTC)  # service conversations charged

M, U, A, S = (
    WaCategory.MARKETING,
    WaCategory.UTILITY,
    WaCategory.AUTHENTICATION,
    WaCategory.SERVICE,
)


def wa(
    message_id: str,
    hours: float,
    template: WaCategory | None = None,
    *,
    direction: object = A2P,
    base: datetime = JULY,
    delay: timedelta = timedelta(0),
) -> object:
    return fact(
        message_id,
        direction,  # type: ignore[arg-type]
        hours,
        channel=Channel.WHATSAPP,
        template=template if direction is A2P else None,
        base=base,
        delivery_delay=delay,
    )


def charges(facts: list[object]) -> list[tuple[str, tuple[str, ...], bool, str]]:
    events = sorted(rate(facts, now=LATER).events, key=lambda e: (e.start, e.message_ids))  # type: ignore[arg-type]
    assert all(e.model is BillingModel.WHATSAPP for e in events)
    return [
        (f"{e.event_type.value}:{e.whatsapp_category}", e.message_ids, e.chargeable, e.reason)
        for e in events
    ]


PER_MESSAGE_CASES = [
    (
        "marketing template charged even inside the window",
        [wa("c1", 0, direction=P2A), wa("m1", 1, M)],
        [("whatsapp_message:marketing", ("m1",), True, "chargeable: marketing template")],
    ),
    (
        "authentication template charged",
        [wa("a1", 0, A)],
        [("whatsapp_message:authentication", ("a1",), True, "chargeable: authentication template")],
    ),
    (
        "utility template outside the window charged",
        [wa("u1", 0, U)],
        [
            (
                "whatsapp_message:utility",
                ("u1",),
                True,
                "chargeable: utility template outside customer service window",
            )
        ],
    ),
    (
        "utility template inside the window free",
        [wa("c1", 0, direction=P2A), wa("u1", 23, U)],
        [
            (
                "whatsapp_message:utility",
                ("u1",),
                False,
                "free: utility template inside customer service window",
            )
        ],
    ),
    (
        "service reply inside the window free",
        [wa("c1", 0, direction=P2A), wa("s1", 2)],
        [("whatsapp_message:service", ("s1",), False, "free: customer service window")],
    ),
    (
        "window closes 24 h after the customer's message",
        [wa("c1", 0, direction=P2A), wa("u1", 24.5, U)],
        [
            (
                "whatsapp_message:utility",
                ("u1",),
                True,
                "chargeable: utility template outside customer service window",
            )
        ],
    ),
    (
        "each customer message refreshes the window",
        [wa("c1", 0, direction=P2A), wa("c2", 20, direction=P2A), wa("u1", 40, U)],
        [
            (
                "whatsapp_message:utility",
                ("u1",),
                False,
                "free: utility template inside customer service window",
            )
        ],
    ),
    (
        "customer messages alone produce no events",
        [wa("c1", 0, direction=P2A), wa("c2", 1, direction=P2A)],
        [],
    ),
]


@pytest.mark.parametrize(
    ("facts", "expected"), [pytest.param(f, e, id=c) for c, f, e in PER_MESSAGE_CASES]
)
def test_per_message_pricing(facts: list[object], expected: list[object]) -> None:
    assert charges(facts) == expected


CONVERSATION_CASES = [
    (
        "one marketing conversation for 24 h",
        [wa("m1", 0, M, base=JUNE), wa("m2", 5, M, base=JUNE), wa("m3", 24, M, base=JUNE)],
        [
            (
                "whatsapp_conversation:marketing",
                ("m1", "m2", "m3"),
                True,
                "chargeable: marketing conversation",
            )
        ],
    ),
    (
        "a new conversation after 24 h",
        [wa("m1", 0, M, base=JUNE), wa("m2", 25, M, base=JUNE)],
        [
            (
                "whatsapp_conversation:marketing",
                ("m1",),
                True,
                "chargeable: marketing conversation",
            ),
            (
                "whatsapp_conversation:marketing",
                ("m2",),
                True,
                "chargeable: marketing conversation",
            ),
        ],
    ),
    (
        "one conversation per category",
        [wa("m1", 0, M, base=JUNE), wa("u1", 1, U, base=JUNE), wa("m2", 2, M, base=JUNE)],
        [
            (
                "whatsapp_conversation:marketing",
                ("m1", "m2"),
                True,
                "chargeable: marketing conversation",
            ),
            ("whatsapp_conversation:utility", ("u1",), True, "chargeable: utility conversation"),
        ],
    ),
    (
        "service conversations free from 2024-11-01",
        [wa("c1", 0, direction=P2A, base=JUNE), wa("s1", 1, base=JUNE), wa("s2", 2, S, base=JUNE)],
        [
            (
                "whatsapp_conversation:service",
                ("s1", "s2"),
                False,
                "free: service conversations since 2024-11-01",
            )
        ],
    ),
    (
        "service conversations charged before 2024-11-01",
        [wa("c1", 0, direction=P2A, base=OCTOBER_2024), wa("s1", 1, base=OCTOBER_2024)],
        [("whatsapp_conversation:service", ("s1",), True, "chargeable: service conversation")],
    ),
]


@pytest.mark.parametrize(
    ("facts", "expected"), [pytest.param(f, e, id=c) for c, f, e in CONVERSATION_CASES]
)
def test_conversation_based_pricing(facts: list[object], expected: list[object]) -> None:
    assert charges(facts) == expected


def test_switch_to_per_message_on_2025_07_01() -> None:
    switch = datetime(2025, 7, 1, tzinfo=UTC)
    facts = [
        wa("m1", -4, M, base=switch),  # 30 June 20:00: opens a marketing conversation
        wa("m2", -1, M, base=switch),  # 30 June 23:00: joins it
        wa("m3", 2, M, base=switch),  # 1 July 02:00: inside the window, but per-message now
    ]
    assert charges(facts) == [
        (
            "whatsapp_conversation:marketing",
            ("m1", "m2"),
            True,
            "chargeable: marketing conversation",
        ),
        ("whatsapp_message:marketing", ("m3",), True, "chargeable: marketing template"),
    ]


def test_delivery_date_chooses_the_model() -> None:
    # Sent 30 June 23:00, delivered 1 July 00:30: per-message pricing, July's period.
    late = wa("m1", 0.5, M, base=datetime(2025, 7, 1, tzinfo=UTC), delay=timedelta(hours=1.5))
    (event,) = rate([late], now=LATER).events  # type: ignore[list-item]
    assert event.event_type is EventType.WHATSAPP_MESSAGE
    assert event.period == "2025-07"


def test_window_from_june_makes_july_utility_free() -> None:
    facts = [
        wa("c1", -2, direction=P2A, base=datetime(2025, 7, 1, tzinfo=UTC)),
        wa("u1", 3, U, base=datetime(2025, 7, 1, tzinfo=UTC)),
    ]
    assert charges(facts)[0][2] is False


# -- free entry points -------------------------------------------------------------------


def entry(message_id: str, hours: float, base: datetime = JULY) -> object:
    """A customer's message from an ad that clicks to WhatsApp (a free entry point)."""
    import dataclasses

    return dataclasses.replace(wa(message_id, hours, direction=P2A, base=base),  # type: ignore[type-var]
                               entry_point=True)  # fmt: skip


FREE = "free: free entry point window (72 h)"


def test_an_answer_to_an_ad_within_24_hours_opens_72_free_hours() -> None:
    got = charges([
        entry("ad1", 0),
        wa("s1", 20, None),  # answered within 24 h: the window opens here, for 72 h
        wa("m1", 50, M),  # a marketing template inside it: free
        wa("a1", 20 + 72, A),  # the window's last moment: still free
        wa("m2", 20 + 72.5, M),  # after it: charged as usual
    ])  # fmt: skip
    assert got == [
        ("whatsapp_message:service", ("s1",), False, FREE),
        ("whatsapp_message:marketing", ("m1",), False, FREE),
        ("whatsapp_message:authentication", ("a1",), False, FREE),
        ("whatsapp_message:marketing", ("m2",), True, "chargeable: marketing template"),
    ]


def test_an_answer_after_24_hours_or_to_an_ordinary_message_opens_nothing() -> None:
    late = charges([entry("ad1", 0), wa("m1", 25, M)])
    assert late == [("whatsapp_message:marketing", ("m1",), True, "chargeable: marketing template")]
    ordinary = charges([wa("c1", 0, direction=P2A), wa("m1", 1, M)])
    assert ordinary[0][2] is True


def test_the_window_counts_from_sending_not_delivery() -> None:
    # Sent 23 h after the ad's message, delivered 2 h later: it answered in time.
    got = charges([entry("ad1", 0), wa("m1", 25, M, delay=timedelta(hours=2))])
    assert got == [("whatsapp_message:marketing", ("m1",), False, FREE)]


def test_under_conversation_based_pricing_the_window_is_one_free_conversation() -> None:
    got = charges([
        entry("ad1", 0, base=JUNE),
        wa("m1", 2, M, base=JUNE),
        wa("u1", 30, U, base=JUNE),  # inside the 72 h: joins the free conversation
        wa("m2", 80, M, base=JUNE),  # after it: a charged marketing conversation
    ])  # fmt: skip
    assert got == [
        ("whatsapp_conversation:marketing", ("m1", "u1"), False, FREE),
        ("whatsapp_conversation:marketing", ("m2",), True, "chargeable: marketing conversation"),
    ]
