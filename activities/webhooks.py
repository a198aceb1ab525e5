"""Outgoing webhooks: signed, and never aimed at our own network.

Signature (the scheme of Stripe and Standard Webhooks): `Agentry-Signature: v1=<hex>` where
hex is HMAC-SHA256 with the receiver's secret over `"<Agentry-Timestamp>.<body>"`, the body
being the exact bytes sent. A receiver recomputes it, compares in constant time and refuses a
timestamp more than five minutes old (replays). `Agentry-Webhook-Id` is the same on every
retry of one delivery, for de-duplication. See README, "Webhooks".

A target whose host resolves to a private, loopback, link-local or otherwise reserved address
is refused unless the settings allow it (`AGENTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS`), so an agent
spec cannot point deliveries at the metadata service or an internal admin port. The delivery
then goes to the very address that was checked (the host stays in `Host` and in TLS's SNI and
certificate check), so a DNS answer that changes between the check and the connection
(rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SIGNATURE_HEADER = "Agentry-Signature"
TIMESTAMP_HEADER = "Agentry-Timestamp"
ID_HEADER = "Agentry-Webhook-Id"
TOLERANCE_SECONDS = 300


class WebhookRefused(Exception):
    """The delivery must not be attempted (no secret for the receiver, a private target)."""


class WebhookUnresolvable(Exception):
    """The receiver's host has no address now; a later attempt may find one."""


@dataclass(frozen=True)
class Target:
    """Where to send a delivery: `url` names the checked address in place of the host."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)  # Host, when pinned
    extensions: dict[str, Any] = field(default_factory=dict)  # httpx: sni_hostname, when pinned


def signed_request(
    payload: dict[str, Any], secret: str, delivery_id: str, now: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body to send and its headers."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now if now is not None else time.time()))
    return body, {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: "v1=" + signature(secret, timestamp, body),
        ID_HEADER: delivery_id,
    }


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """What a receiver does (the tests' receiver uses it too)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    sent = lowered.get(SIGNATURE_HEADER.lower(), "").removeprefix("v1=")
    if not timestamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sent, signature(secret, timestamp, body))


async def check_target(url: str, allow_private: bool) -> Target:
    """Refuse a URL that is not http(s) or (unless allowed) reaches a non-public address;
    otherwise the target pinned to the public address that was checked."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"webhook URL must be http(s) with a host, not {parts.scheme!r}")
    if allow_private:
        return Target(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM,
        )  # fmt: skip
    except OSError as exc:
        raise WebhookUnresolvable(f"webhook host {parts.hostname} does not resolve") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses or any(not address.is_global for address in addresses):
        raise WebhookRefused(
            f"webhook host {parts.hostname} resolves to a non-public address; allow it with "
            "AGENTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS=true"
        )
    address = addresses[0]
    host = f"[{address}]" if address.version == 6 else str(address)
    port = f":{parts.port}" if parts.port else ""
    pinned = urlunsplit((parts.scheme, host + port, parts.path, parts.query, ""))
    sni = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return Target(pinned, {"Host": parts.hostname + port}, sni)
