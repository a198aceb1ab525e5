"""URLs a config names for the service to call (an agent's webhook, an MCP server): http(s)
with a host, and never credentials, which would travel with the config into workflow inputs,
histories and error messages. Secrets come from settings instead."""

from __future__ import annotations

from urllib.parse import urlsplit


def checked_http_url(value: str, secrets_from: str) -> str:
    """`value`, or ValueError saying what is wrong; `secrets_from` tells where the secret
    that was put in the URL belongs."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise ValueError(f"must not carry credentials; {secrets_from}")
    return value
