"""HTTP concerns every response and every rate limiter share: which proxies may tell the
client's address and scheme, the client address itself, and the security headers.

Forwarded headers (`X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host`) count only
when the connection comes from a proxy listed in PARLEY["TRUSTED_PROXIES"] (empty by
default); from anyone else they are dropped before any view sees them. The ASGI server runs
with its own proxy-header handling off, so this is the one place that decides."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")
# The peer address as the server saw it, before a trusted proxy's X-Forwarded-For replaced it.
PEER_KEY = "parley.peer_address"

# Scripts, styles, images and sockets from Parley itself only; no inline code, no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# The console needs no device features beyond copying a token to the clipboard.
PERMISSIONS_POLICY = ", ".join(
    [
        "accelerometer=()",
        "camera=()",
        "geolocation=()",
        "gyroscope=()",
        "magnetometer=()",
        "microphone=()",
        "payment=()",
        "usb=()",
        "clipboard-write=(self)",
    ]
)


def parse_networks(value: str | Iterable[str]) -> tuple[IpNetwork, ...]:
    """Comma-separated addresses or CIDR networks; raises ValueError naming a bad entry."""
    items = value.split(",") if isinstance(value, str) else list(value)
    networks: list[IpNetwork] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"not an IP address or network: {item!r}") from exc
    return tuple(networks)


@functools.lru_cache(maxsize=8)
def _trusted_networks(configured: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return parse_networks(configured)


def _parse_address(value: str) -> IpAddress | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "192.0.2.1:443"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_trusted_proxy(address: str | None) -> bool:
    parsed = _parse_address(address or "")
    if parsed is None:
        return False
    networks = _trusted_networks(tuple(settings.PARLEY["TRUSTED_PROXIES"]))
    return any(parsed in network for network in networks)


def resolve_client(peer: str | None, forwarded_for: str) -> str | None:
    """The client behind `peer`: the peer itself unless it is a trusted proxy; then the
    nearest X-Forwarded-For hop that is not itself a trusted proxy (hops further left were
    written by the client and prove nothing)."""
    if not is_trusted_proxy(peer):
        return peer or None
    hops = [h for h in forwarded_for.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        parsed = _parse_address(hop)
        if parsed is None:
            break
        client = str(parsed)
        if not is_trusted_proxy(client):
            break
    return client or None


class _WithMeta(Protocol):
    """A Django request, or DRF's Request around one."""

    @property
    def META(self) -> Mapping[str, Any]: ...


def client_address(request: _WithMeta) -> str | None:
    """The address of the client that sent `request`: what every rate limit counts and
    every audit entry records."""
    if PEER_KEY in request.META:  # resolved by ProxyHeadersMiddleware
        return cast(str | None, request.META.get("REMOTE_ADDR") or None)
    return resolve_client(
        request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


class ProxyHeadersMiddleware:
    """First in the chain: honours forwarded headers from trusted proxies only, so
    REMOTE_ADDR, request.is_secure() and the host are the client's own view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        peer = meta.get("REMOTE_ADDR")
        meta[PEER_KEY] = peer
        if is_trusted_proxy(peer):
            forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
            meta["REMOTE_ADDR"] = resolve_client(peer, forwarded) or peer
        else:
            for header in FORWARDED_HEADERS:
                meta.pop(header, None)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
