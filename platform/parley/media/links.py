"""Fetching the file a media message names by `link` (the Cloud API downloads it). The
policy, so a business cannot make Parley reach what it should not:

- http and https only; a host name, no user:password part;
- every address the host resolves to must be a public (global) address: loopback, private,
  link-local, multicast, reserved and unspecified addresses are refused, unless
  PARLEY["MEDIA_LINK_ALLOW_PRIVATE"] (for a lab or a test) allows them;
- the connection goes to the address that was checked (no second resolution, so DNS
  rebinding cannot swap it), TLS still verifies the host name;
- redirects are followed by hand, at most MEDIA_LINK_MAX_REDIRECTS, each target checked as
  the first;
- the whole fetch is bounded in time (MEDIA_LINK_TIMEOUT_SECONDS) and in size (the largest
  file the message's kind takes); only a 200 answer counts.

Failure raises `LinkFetchFailed`; the send answers 131053 (Media upload error) at once."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import time
from urllib.parse import unquote, urljoin, urlsplit

import urllib3
from django.conf import settings

USER_AGENT = "Parley-media-fetcher/1.0"
_CHUNK = 64 * 1024


class LinkFetchFailed(Exception):
    """The link could not be fetched under the policy; the message says why."""


@dataclasses.dataclass(frozen=True)
class Fetched:
    data: bytes
    mime_type: str
    file_name: str
    url: str


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if settings.PARLEY.get("MEDIA_LINK_ALLOW_PRIVATE"):
        return not (ip.is_multicast or ip.is_unspecified)
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise LinkFetchFailed(f"The host {host[:100]} could not be resolved.") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise LinkFetchFailed(f"The host {host[:100]} has no address.")
    refused = [a for a in addresses if not _allowed(a)]
    if refused:
        raise LinkFetchFailed(
            f"The host {host[:100]} resolves to {refused[0]}, which is not a public address."
        )
    return addresses[0]


def _target(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise LinkFetchFailed("The link must be an http or https URL.")
    if parts.username or parts.password:
        raise LinkFetchFailed("The link must not carry a user name or password.")
    host = parts.hostname or ""
    if not host:
        raise LinkFetchFailed("The link has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise LinkFetchFailed("The link's port is not valid.") from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port, path


def _file_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return "".join(ch for ch in name if ch.isprintable() and ch not in '/\\"')[:240]


def fetch(url: str, *, max_bytes: int) -> Fetched:
    """The file at `url`, under the module's policy."""
    limits = settings.PARLEY
    deadline = time.monotonic() + float(limits.get("MEDIA_LINK_TIMEOUT_SECONDS", 10))
    redirects = int(limits.get("MEDIA_LINK_MAX_REDIRECTS", 3))
    for _ in range(redirects + 1):
        scheme, host, port, path = _target(url)
        address = _resolve(host, port)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LinkFetchFailed("Fetching the link took too long.")
        timeout = urllib3.Timeout(connect=min(remaining, 5.0), read=remaining)
        pool: urllib3.HTTPConnectionPool
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address, port, timeout=timeout, retries=False, server_hostname=host,
                assert_hostname=host, cert_reqs="CERT_REQUIRED",
            )  # fmt: skip
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
        default_port = 443 if scheme == "https" else 80
        host_header = host if port == default_port else f"{host}:{port}"
        if ":" in host and not host.startswith("["):
            host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
        try:
            response = pool.urlopen(
                "GET", path, headers={"Host": host_header, "User-Agent": USER_AGENT},
                redirect=False, preload_content=False, assert_same_host=False,
            )  # fmt: skip
            try:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location", "")
                    if not location:
                        raise LinkFetchFailed("The link redirects without a Location.")
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise LinkFetchFailed(f"The link answered HTTP {response.status}.")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise LinkFetchFailed(
                        f"The file is {declared} bytes: at most {max_bytes} bytes are taken."
                    )
                body = bytearray()
                for chunk in response.stream(_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise LinkFetchFailed(f"The file is larger than {max_bytes} bytes.")
                    if time.monotonic() > deadline:
                        raise LinkFetchFailed("Fetching the link took too long.")
                mime = response.headers.get("Content-Type", "application/octet-stream")
                return Fetched(bytes(body), mime, _file_name(url), url)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            raise LinkFetchFailed(f"The link could not be fetched: {type(exc).__name__}.") from exc
        finally:
            pool.close()
    raise LinkFetchFailed(f"The link redirects more than {redirects} times.")
