"""Who may read a /metrics endpoint (the gateway's and each worker's).

The metrics carry no tenant label, but they do show the whole platform's load, cost and agent
names, which no tenant should read. So: with `metrics_token` set, a scrape must send
`Authorization: Bearer <token>`; without it, only callers on loopback are answered (the
embedded stack, a Prometheus beside the process). Anything else is refused.
"""

from __future__ import annotations

import hmac
import ipaddress

from pydantic import SecretStr


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


def metrics_refusal(
    token: SecretStr | None, authorization: str | None, client: str | None
) -> tuple[int, str] | None:
    """(HTTP status, why) when this caller may not read the metrics; None when it may."""
    if token is None:
        if is_loopback(client):
            return None
        return 403, "metrics are served to loopback only unless AGENTRY_METRICS_TOKEN is set"
    scheme, _, given = (authorization or "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
        return None
    return 401, "send the metrics token: 'Authorization: Bearer <AGENTRY_METRICS_TOKEN>'"
