"""A minimal protobuf (proto2) codec: varints and length-delimited fields.

Enough for libsignal's wire messages and the scannable fingerprint. Encoders
write fields in tag order, as libsignal (prost) and protobuf-java do.
"""

from __future__ import annotations

from .errors import InvalidMessageError

_VARINT = 0
_FIXED64 = 1
_BYTES = 2
_FIXED32 = 5
MAX_UINT32 = 0xFFFFFFFF

Field = int | bytes


def encode_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varints here are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_uint(field_number: int, value: int) -> bytes:
    return encode_varint(field_number << 3 | _VARINT) + encode_varint(value)


def encode_bytes(field_number: int, value: bytes) -> bytes:
    return encode_varint(field_number << 3 | _BYTES) + encode_varint(len(value)) + value


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise InvalidMessageError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise InvalidMessageError("varint too long")


def decode(data: bytes) -> dict[int, Field]:
    """Decode a message into ``{field_number: value}``; a repeated field keeps its last value.

    Unknown fields are kept (callers ignore them); fixed-width fields are skipped.
    """
    fields: dict[int, Field] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise InvalidMessageError("field number 0")
        if wire_type == _VARINT:
            value, pos = _read_varint(data, pos)
            fields[number] = value
        elif wire_type == _BYTES:
            length, pos = _read_varint(data, pos)
            end = pos + length
            if end > len(data):
                raise InvalidMessageError("truncated field")
            fields[number] = data[pos:end]
            pos = end
        elif wire_type == _FIXED64:
            pos += 8
        elif wire_type == _FIXED32:
            pos += 4
        else:
            raise InvalidMessageError(f"unsupported wire type {wire_type}")
        if pos > len(data):
            raise InvalidMessageError("truncated field")
    return fields


def get_uint32(fields: dict[int, Field], number: int) -> int | None:
    value = fields.get(number)
    if value is None:
        return None
    if not isinstance(value, int) or value > MAX_UINT32:
        raise InvalidMessageError(f"field {number} is not a uint32")
    return value


def get_bytes(fields: dict[int, Field], number: int) -> bytes | None:
    value = fields.get(number)
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise InvalidMessageError(f"field {number} is not bytes")
    return value
