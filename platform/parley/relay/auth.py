"""DRF authentication by device credential."""

from __future__ import annotations

import dataclasses

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from parley.core.errors import AuthenticationFailed
from parley.relay.actions.devices import do_touch_device
from parley.relay.credentials import parse_authorization
from parley.relay.models import Device
from parley.relay.selectors import get_device_for_credential


@dataclasses.dataclass(frozen=True)
class DevicePrincipal:
    device: Device

    @property
    def is_authenticated(self) -> bool:
        return True


def authenticate_header_value(header: str) -> Device | None:
    credential = parse_authorization(header)
    if credential is None:
        return None
    device = get_device_for_credential(credential)
    if device is not None:
        do_touch_device(device)
    return device


class DeviceAuthentication(BaseAuthentication):
    """`Authorization: Basic base64(<e164>.<device_id>:<password>)` or the same string as a
    Bearer token."""

    def authenticate(self, request: Request) -> tuple[DevicePrincipal, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        device = authenticate_header_value(header)
        if device is None:
            raise AuthenticationFailed("Invalid device credential.")
        return DevicePrincipal(device), None

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="parley-relay"'
