"""Device credentials: `<e164>.<device_id>:<password>`, sent as HTTP Basic (like Signal) or as
a Bearer token; only the SHA-256 digest of the password is stored."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import secrets

from parley.core.crypto import token_digest

_CREDENTIAL = re.compile(r"^(\+?\d{6,16})\.(\d{1,3}):([A-Za-z0-9_\-]{20,100})$")


@dataclasses.dataclass(frozen=True)
class Credential:
    e164: str
    device_id: int
    password: str

    @property
    def digest(self) -> str:
        return token_digest(self.password)

    def __str__(self) -> str:
        return f"{self.e164}.{self.device_id}:{self.password}"


def new_password() -> str:
    return secrets.token_urlsafe(32)


def parse_credential(text: str) -> Credential | None:
    match = _CREDENTIAL.match(text.strip())
    if match is None:
        return None
    e164 = match.group(1)
    if not e164.startswith("+"):
        e164 = "+" + e164
    return Credential(e164, int(match.group(2)), match.group(3))


def parse_authorization(header: str) -> Credential | None:
    """`Basic base64(e164.device:password)` or `Bearer e164.device:password`."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    elif scheme.lower() != "bearer":
        return None
    return parse_credential(value)
