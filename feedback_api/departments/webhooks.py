"""Department webhooks: a secret per department, and the destinations the service may call.

**Secrets.** Nothing secret is stored. A department keeps only a counter,
``webhook_secret_version`` (0: no secret yet). Its secret is
``HMAC-SHA256(settings.key("webhook"), "<code>:<version>")`` in hex, so two departments never
share one, a leaked database says nothing about any of them, and rotating (version + 1) ends the
old secret at once. The secret is shown once, when it is made; the pages and the API never show
it again. Changing the installation's secret key changes every department's secret: rotate and
hand them out again.

**Destinations.** An admin sets the URL; the worker POSTs to it. So that a webhook cannot be
aimed at the service's own network (blind SSRF), a destination must resolve only to public
addresses: loopback, private, link-local, shared, reserved, multicast and unspecified addresses
are refused, also inside IPv4-mapped, 6to4 and Teredo IPv6 addresses. The check runs when the
URL is saved and again at every send; the sender then connects to exactly the addresses it
checked (``Destination.addresses``), so a DNS answer that changes in between (DNS rebinding)
cannot redirect it. ``CAUNOI_WEBHOOK_ALLOW_PRIVATE=1`` turns the address check off, for a
receiver on the same machine or network (tests, an intranet).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from feedback_api.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_ADDRESSES = 8


class Unresolved(Invalid):
    """The host name did not resolve (at send time: perhaps a passing DNS failure)."""


class Refused(Invalid):
    """The destination is not a public address (never worth retrying)."""


@dataclass(frozen=True)
class Destination:
    """A checked webhook URL: where to connect (``addresses``) and what to ask for."""

    scheme: str
    host: str  # as written in the URL (a name, or an address without brackets)
    port: int
    target: str  # path and query
    addresses: tuple[str, ...]


def department_secret(key: bytes, *, code: str, version: int) -> str:
    """The department's webhook secret at ``version`` (key: ``settings.key("webhook")``)."""
    return hmac.new(key, f"{code}:{version}".encode(), hashlib.sha256).hexdigest()


def signature(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``: the signature header."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (and not one hidden in an IPv6 one)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified
    )


def parse(url: str) -> Destination:
    """The parts of an absolute http(s) URL without credentials (addresses not yet known)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Invalid("Webhook URL không hợp lệ.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("Webhook URL phải là địa chỉ http:// hoặc https:// đầy đủ.")
    if parts.username is not None or parts.password is not None:
        raise Invalid("Webhook URL không được chứa tên đăng nhập hay mật khẩu.")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Destination(scheme=parts.scheme, host=parts.hostname, port=port or default,
                       target=target, addresses=())


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address the host name resolves to (an address resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Unresolved(f"Không phân giải được tên miền của webhook ({host[:100]}).") from None
    found = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not found:
        raise Unresolved(f"Không phân giải được tên miền của webhook ({host[:100]}).")
    return found[:MAX_ADDRESSES]


def check(url: str, *, allow_private: bool) -> Destination:
    """The destination of a webhook URL with the addresses to connect to, every one of them
    public unless ``allow_private``; ``Invalid`` (or its ``Unresolved``/``Refused``) if not."""
    destination = parse(url)
    addresses = resolve(destination.host, destination.port)
    if not allow_private:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%", 1)[0])):
                raise Refused(
                    "Không thể gửi webhook đến địa chỉ nội bộ (loopback, mạng riêng, link-local, "
                    "dành riêng hoặc multicast). Hãy dùng địa chỉ công khai của bên nhận."
                )
    return Destination(scheme=destination.scheme, host=destination.host, port=destination.port,
                       target=destination.target, addresses=addresses)
