"""Where webhooks may go: the checks on a callback URL, and the console's warning about
private addresses.

- http and https only, with a host name or an address, no user:password part, a valid port,
  no whitespace or control characters, at most MAX_URL characters;
- a URL that resolves to a loopback, private, link-local or reserved address is allowed (a
  receiver on the developer's own machine is the simulator's normal use) and the console
  shows `private_address_warning`;
- nothing here follows redirects: the handshake and the deliveries answer a 3xx as a
  failure (see parley.webhooks.actions.apps)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from parley.core.errors import InvalidParameter

MAX_URL = 2000
SCHEMES = ("http", "https")
# The API's documented shape of a callback URL: anything that matches passes `check_url`.
_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
URL_PATTERN = (
    r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::" + _PORT + r")?"
    r"(?:[/?#][!-~]*)?$"
)


def check_url(url: str, *, field: str = "callback_url") -> str:
    """The URL, stripped, when it is an http(s) URL Parley may call; else InvalidParameter
    (code 100) naming what is wrong."""
    url = url.strip()
    if not url:
        raise InvalidParameter("Give a callback URL (http:// or https://).", field=field)
    if len(url) > MAX_URL:
        raise InvalidParameter(
            f"The callback URL is too long: at most {MAX_URL} characters.", field=field
        )
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise InvalidParameter(
            "The callback URL must not contain spaces or control characters.", field=field
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidParameter(f"The callback URL is not valid: {exc}.", field=field) from None
    if parts.scheme.lower() not in SCHEMES:
        shown = parts.scheme[:20] or "no scheme"
        raise InvalidParameter(
            f"The callback URL must be http:// or https:// (not {shown}).", field=field
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidParameter(
            "The callback URL must not carry a user name or password.", field=field
        )
    if not parts.hostname:
        raise InvalidParameter("The callback URL has no host.", field=field)
    if port == 0:
        raise InvalidParameter("The callback URL's port must be 1 to 65535.", field=field)
    return url


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not ip.is_global or ip.is_multicast


def private_address_warning(url: str) -> str:
    """A sentence for the console when the URL's host is (or resolves to) a loopback,
    private, link-local or reserved address, or cannot be resolved; "" otherwise. Never an
    error: local receivers are how the simulator is normally used."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return ""
    if not host:
        return ""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return (
            f"The host {host[:100]} does not resolve from Parley's server: deliveries will "
            "fail until it does."
        )
    addresses = sorted({str(info[4][0]) for info in infos})
    private = [a for a in addresses if _private(a)]
    if not private:
        return ""
    return (
        f"{host[:100]} resolves to {private[0]}, a private or local address: only receivers on "
        "Parley's own network can be reached there (fine for a local test receiver; the real "
        "platform only calls public addresses)."
    )
