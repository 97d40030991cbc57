"""Request bodies and response shapes of the relay API. Bytes travel as standard base64."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from rest_framework import serializers

from parley.api.schema import ErrorBody
from parley.relay import conf
from parley.relay.actions.keys import DeviceBundle, EcKey, KemKey, KeyUpload, SignedKey
from parley.relay.actions.mailbox import OutgoingMessage
from parley.relay.models import Envelope, VerificationSession
from parley.relay.selectors import PreKeyCounts
from parley.relay.validation import MAX_KEY_ID, MAX_REGISTRATION_ID


def b64(data: bytes | memoryview) -> str:
    return base64.b64encode(bytes(data)).decode()


def ms(at: dt.datetime | None) -> int | None:
    return int(at.timestamp() * 1000) if at is not None else None


class Base64Field(serializers.Field[bytes, bytes, str, Any]):
    """Standard base64 (padding optional), decoded strictly, with a size cap checked
    before decoding."""

    def __init__(self, *, max_bytes: int, **kwargs: Any) -> None:
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> bytes:
        if not isinstance(data, str):
            raise serializers.ValidationError("must be a base64 string")
        if len(data) > (self.max_bytes + 2) // 3 * 4:
            raise serializers.ValidationError(f"must decode to at most {self.max_bytes} bytes")
        padded = data + "=" * (-len(data) % 4)
        try:
            return base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("is not valid base64") from exc

    def to_representation(self, value: bytes) -> str:
        return b64(value)


class PinField(serializers.RegexField):
    """A Registration Lock PIN: a string of 4 to 20 digits (never a JSON number, which would
    lose leading zeros)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"invalid": "must be a string of 4 to 20 digits"})
        super().__init__(r"^[0-9]{4,20}$", max_length=20, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class RegisterIn(serializers.Serializer[Any]):
    number = serializers.CharField(max_length=20)
    kind = serializers.ChoiceField(choices=["handset", "business"], default="handset")
    device_id = serializers.IntegerField(min_value=1, max_value=127, default=1)
    registration_id = serializers.IntegerField(min_value=1, max_value=MAX_REGISTRATION_ID)
    identity_key = Base64Field(max_bytes=64)
    # The number's Registration Lock PIN, needed to re-register device 1 of a locked number.
    registration_lock = PinField(required=False, allow_blank=True)
    # A verified verification session: needed to register device 1 of a handset number.
    session_id = serializers.RegexField(
        r"^[A-Za-z0-9_-]{32,64}$", required=False, trim_whitespace=False
    )


class RegisterOut(serializers.Serializer[Any]):
    number = serializers.CharField()
    device_id = serializers.IntegerField()
    password = serializers.CharField()
    credential = serializers.CharField()
    created = serializers.BooleanField()
    identity_changed = serializers.BooleanField()


class VerificationSessionIn(serializers.Serializer[Any]):
    number = serializers.CharField(max_length=20)


class VerificationCodeRequestIn(serializers.Serializer[Any]):
    transport = serializers.ChoiceField(choices=["sms"], default="sms")


class CodeField(serializers.RegexField):
    """A verification code: a string of 6 ASCII digits (a JSON number would lose zeros)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"invalid": "must be the 6 digits of the SMS"})
        super().__init__(r"^[0-9]{6}$", max_length=6, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class VerificationCodeIn(serializers.Serializer[Any]):
    code = CodeField()


class VerificationSessionOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    number = serializers.CharField()
    verified = serializers.BooleanField()
    expires_at = serializers.IntegerField(help_text="ms since the epoch")
    code_sent_at = serializers.IntegerField(allow_null=True)
    code_expires_at = serializers.IntegerField(allow_null=True)
    attempts_left = serializers.IntegerField()


def verification_session_out(session_id: str, session: VerificationSession) -> dict[str, Any]:
    limit = int(conf.get("RELAY_VERIFICATION_MAX_ATTEMPTS"))
    return {
        "id": session_id,
        "number": session.e164,
        "verified": session.verified_at is not None,
        "expires_at": ms(session.expires_at),
        "code_sent_at": ms(session.code_sent_at),
        "code_expires_at": ms(session.code_expires_at),
        "attempts_left": max(0, limit - session.attempts) if session.code_digest else 0,
    }


class RegistrationLockIn(serializers.Serializer[Any]):
    pin = PinField()


class SignedKeyIn(serializers.Serializer[Any]):
    key_id = serializers.IntegerField(min_value=0, max_value=MAX_KEY_ID)
    public_key = Base64Field(max_bytes=64)
    signature = Base64Field(max_bytes=128)


class KemKeyIn(serializers.Serializer[Any]):
    key_id = serializers.IntegerField(min_value=0, max_value=MAX_KEY_ID)
    public_key = Base64Field(max_bytes=2048)
    signature = Base64Field(max_bytes=128)


class EcKeyIn(serializers.Serializer[Any]):
    key_id = serializers.IntegerField(min_value=0, max_value=MAX_KEY_ID)
    public_key = Base64Field(max_bytes=64)


class KeysIn(serializers.Serializer[Any]):
    identity_key = Base64Field(max_bytes=64, required=False)
    signed_pre_key = SignedKeyIn(required=False)
    pq_last_resort_pre_key = KemKeyIn(required=False)
    pq_pre_keys = KemKeyIn(many=True, required=False, max_length=1000)  # type: ignore[call-arg]
    pre_keys = EcKeyIn(many=True, required=False, max_length=1000)  # type: ignore[call-arg]


def key_upload(data: dict[str, Any]) -> KeyUpload:
    signed = data.get("signed_pre_key")
    last = data.get("pq_last_resort_pre_key")
    return KeyUpload(
        identity_key=data.get("identity_key"),
        signed_pre_key=SignedKey(**signed) if signed else None,
        kem_last_resort=KemKey(**last) if last else None,
        kem_pre_keys=tuple(KemKey(**k) for k in data.get("pq_pre_keys", [])),
        pre_keys=tuple(EcKey(**k) for k in data.get("pre_keys", [])),
    )


def counts_out(counts: PreKeyCounts) -> dict[str, Any]:
    return {
        "count": counts.ec,
        "pq_count": counts.kem,
        "pq_last_resort": counts.has_last_resort,
        "signed_pre_key": counts.has_signed,
        "replenish": counts.replenish,
    }


def bundle_out(e164: str, bundles: list[DeviceBundle]) -> dict[str, Any]:
    devices = []
    for b in bundles:
        devices.append(
            {
                "device_id": b.device_id,
                "registration_id": b.registration_id,
                "identity_key": b64(b.identity_key),
                "signed_pre_key": {
                    "key_id": b.signed_pre_key.key_id,
                    "public_key": b64(b.signed_pre_key.public_key),
                    "signature": b64(b.signed_pre_key.signature),
                },
                "pre_key": (
                    {"key_id": b.pre_key.key_id, "public_key": b64(b.pre_key.public_key)}
                    if b.pre_key is not None
                    else None
                ),
                "pq_pre_key": (
                    {
                        "key_id": b.kem_pre_key.key_id,
                        "public_key": b64(b.kem_pre_key.public_key),
                        "signature": b64(b.kem_pre_key.signature),
                        "last_resort": b.kem_last_resort,
                    }
                    if b.kem_pre_key is not None
                    else None
                ),
            }
        )
    return {"number": e164, "devices": devices}


class MessageIn(serializers.Serializer[Any]):
    type = serializers.IntegerField(min_value=0, max_value=255)
    destination_device_id = serializers.IntegerField(min_value=1, max_value=127)
    destination_registration_id = serializers.IntegerField(
        min_value=1, max_value=MAX_REGISTRATION_ID, required=False
    )
    content = Base64Field(max_bytes=256 * 1024 + 1)


class MessagesIn(serializers.Serializer[Any]):
    timestamp = serializers.IntegerField(min_value=0)
    messages = MessageIn(many=True, min_length=1, max_length=127)  # type: ignore[call-arg]


class BatchItemIn(serializers.Serializer[Any]):
    destination = serializers.CharField(max_length=32)
    timestamp = serializers.IntegerField(min_value=0)
    messages = MessageIn(many=True, min_length=1, max_length=127)  # type: ignore[call-arg]


class BatchIn(serializers.Serializer[Any]):
    batch = BatchItemIn(many=True, min_length=1, max_length=100)  # type: ignore[call-arg]


class AcksIn(serializers.Serializer[Any]):
    guids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=1000)


def outgoing(data: dict[str, Any]) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            destination_device_id=m["destination_device_id"],
            destination_registration_id=m.get("destination_registration_id"),
            type=m["type"],
            content=m["content"],
        )
        for m in data["messages"]
    ]


class ReceiptIn(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["read", "typing"], default="read")


def envelope_out(e: Envelope) -> dict[str, Any]:
    sender = e.sender_account
    body: dict[str, Any] = {
        "guid": str(e.guid),
        "type": e.type,
        "source": sender.e164 if sender is not None else None,
        "source_device_id": e.sender_device_id,
        "destination_device_id": e.recipient.device_id,
        "content": b64(e.content) if e.content else None,
        "client_timestamp": e.client_timestamp,
        "server_timestamp": ms(e.server_timestamp),
        "expires_at": ms(e.expires_at),
        "receipt": None,
    }
    if e.receipt_kind:
        body["receipt"] = {
            "kind": e.receipt_kind,
            "guid": str(e.receipt_guid),
            "timestamp": ms(e.receipt_at),
        }
    return body


# --- response shapes, for the OpenAPI schema (the contract the fuzz test holds them to) ----


class WhoAmIOut(serializers.Serializer[Any]):
    number = serializers.CharField()
    kind = serializers.CharField()
    device_id = serializers.IntegerField()
    registration_id = serializers.IntegerField()
    devices = serializers.ListField(child=serializers.IntegerField())
    registration_lock = serializers.BooleanField()


class RegistrationLockOut(serializers.Serializer[Any]):
    registration_lock = serializers.BooleanField()


class BusinessBlockOut(serializers.Serializer[Any]):
    blocks_businesses = serializers.BooleanField()


class CountsOut(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    pq_count = serializers.IntegerField()
    pq_last_resort = serializers.BooleanField()
    signed_pre_key = serializers.BooleanField()
    replenish = serializers.BooleanField()


class SignedKeyOut(serializers.Serializer[Any]):
    key_id = serializers.IntegerField()
    public_key = serializers.CharField()
    current = serializers.BooleanField()
    uploaded_at = serializers.IntegerField(allow_null=True)
    superseded_at = serializers.IntegerField(allow_null=True)


class SignedKeysOut(serializers.Serializer[Any]):
    signed_pre_keys = SignedKeyOut(many=True)


class BundlePreKeyOut(serializers.Serializer[Any]):
    key_id = serializers.IntegerField()
    public_key = serializers.CharField()


class BundleSignedKeyOut(BundlePreKeyOut):
    signature = serializers.CharField()


class BundleKemKeyOut(BundleSignedKeyOut):
    last_resort = serializers.BooleanField()


class BundleDeviceOut(serializers.Serializer[Any]):
    device_id = serializers.IntegerField()
    registration_id = serializers.IntegerField()
    identity_key = serializers.CharField()
    signed_pre_key = BundleSignedKeyOut()
    pre_key = BundlePreKeyOut(allow_null=True)
    pq_pre_key = BundleKemKeyOut(allow_null=True)


class BundleOut(serializers.Serializer[Any]):
    number = serializers.CharField()
    devices = BundleDeviceOut(many=True)


class IdentityKeyOut(serializers.Serializer[Any]):
    device_id = serializers.IntegerField()
    identity_key = serializers.CharField()
    registered_at = serializers.IntegerField(allow_null=True)


class IdentityOut(serializers.Serializer[Any]):
    number = serializers.CharField()
    devices = IdentityKeyOut(many=True)
    changes = IdentityKeyOut(many=True)


class SentMessageOut(serializers.Serializer[Any]):
    guid = serializers.CharField()
    device_id = serializers.IntegerField()


class SentOut(serializers.Serializer[Any]):
    messages = SentMessageOut(many=True)


class BatchResultOut(serializers.Serializer[Any]):
    destination = serializers.CharField()
    status = serializers.IntegerField(help_text="The status a single send would have had.")
    messages = SentMessageOut(many=True, required=False)
    error = ErrorBody(required=False)


class BatchOut(serializers.Serializer[Any]):
    results = BatchResultOut(many=True)


class AcksOut(serializers.Serializer[Any]):
    acknowledged = serializers.IntegerField()


class ReceiptOut(serializers.Serializer[Any]):
    kind = serializers.CharField()
    guid = serializers.CharField()
    timestamp = serializers.IntegerField(allow_null=True)


class EnvelopeOut(serializers.Serializer[Any]):
    guid = serializers.CharField()
    type = serializers.IntegerField()
    source_device_id = serializers.IntegerField(allow_null=True)
    destination_device_id = serializers.IntegerField()
    content = serializers.CharField(allow_null=True)
    client_timestamp = serializers.IntegerField(allow_null=True)
    server_timestamp = serializers.IntegerField(allow_null=True)
    expires_at = serializers.IntegerField(allow_null=True)
    receipt = ReceiptOut(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # `source` (the sender's number) would shadow Field.source as a class attribute.
        fields = super().get_fields()
        fields["source"] = serializers.CharField(allow_null=True)
        return fields


class MessagesOut(serializers.Serializer[Any]):
    messages = EnvelopeOut(many=True)
    more = serializers.BooleanField()


class RelaySuccessOut(serializers.Serializer[Any]):
    success = serializers.BooleanField()
