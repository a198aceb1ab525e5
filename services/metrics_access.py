"""Who may read a /metrics endpoint (the gateway's and each worker's).

The metrics carry no tenant label, but they do show the whole platform's load, cost and agent
names, which no tenant should read. So: with `metrics_token` set, a scrape must send
`Authorization: Bearer <token>`; without it, only callers on loopback are answered (the
embedded stack, a Prometheus beside the process), and not a request a proxy forwarded (it
arrives from loopback on behalf of someone else). Anything else is refused.
"""

from __future__ import annotations

import hmac
import ipaddress

from pydantic import SecretStr

LOOPBACK_ONLY = "metrics are served to loopback only unless AGENTRY_METRICS_TOKEN is set"
TOKEN_WANTED = "send the metrics token: 'Authorization: Bearer <AGENTRY_METRICS_TOKEN>'"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host == "localhost"
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def metrics_refusal(
    token: SecretStr | None,
    authorization: str | None,
    client: str | None,
    forwarded: bool = False,
) -> tuple[int, str] | None:
    """(HTTP status, why) when this caller may not read the metrics; None when it may.
    `forwarded`: the request carries a proxy's Forwarded / X-Forwarded-For header."""
    if token is None:
        if is_loopback(client) and not forwarded:
            return None
        return 403, LOOPBACK_ONLY
    scheme, _, given = (authorization or "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
        return None
    return 401, TOKEN_WANTED
