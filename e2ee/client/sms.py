"""The phone's text messages: a handset reads the verification code the relay had the
simulated carrier send to its number, as a real phone reads an SMS.

:class:`SmsInbox` is the port; :class:`CarrierSmsInbox` reads what Parley's simulated carrier
delivered (inside a Parley process); :class:`InMemorySmsInbox` is for unit use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

# The relay's code: six ASCII digits on their own.
CODE_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


@dataclass(frozen=True)
class Sms:
    id: str
    sender: str
    body: str


class SmsInbox(Protocol):
    def messages(self, e164: str) -> list[Sms]:
        """Texts delivered to the number, newest first."""
        ...


def code_in(text: str) -> str | None:
    match = CODE_IN_TEXT.search(text)
    return match.group(1) if match else None


class CarrierSmsInbox:
    """What Parley's simulated carrier delivered to the number (the handset is a phone on
    that carrier)."""

    def messages(self, e164: str) -> list[Sms]:
        from parley.relay.selectors import list_sms  # only inside a Parley process

        return [Sms(str(m.id), m.sender, m.body) for m in list_sms(e164)]


@dataclass
class InMemorySmsInbox:
    texts: dict[str, list[Sms]] = field(default_factory=dict)

    def deliver(self, e164: str, sms: Sms) -> None:
        self.texts.setdefault(e164, []).insert(0, sms)

    def messages(self, e164: str) -> list[Sms]:
        return list(self.texts.get(e164, []))
