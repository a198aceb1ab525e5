"""Webhook signing as a receiver checks it, and targets that must not be reached."""

from __future__ import annotations

import asyncio
import socket

import pytest

from activities.webhooks import (
    WebhookRefused,
    WebhookUnresolvable,
    check_target,
    signed_request,
    verify,
)

SECRET = "whsec-unit"


def test_a_signed_delivery_verifies_and_a_changed_one_does_not() -> None:
    body, headers = signed_request({"event": "approval.requested", "n": 1}, SECRET, "d1", now=1000)
    assert headers["Agentry-Webhook-Id"] == "d1" and headers["Agentry-Timestamp"] == "1000"
    assert verify(SECRET, headers, body, now=1010)
    assert not verify(SECRET, headers, body.replace(b"1", b"2"), now=1010)  # body changed
    assert not verify("another-secret", headers, body, now=1010)
    assert not verify(SECRET, headers, body, now=1000 + 301)  # a replay, too late
    forged = {**headers, "Agentry-Timestamp": "1005"}  # the timestamp is signed too
    assert not verify(SECRET, forged, body, now=1010)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "http://10.1.2.3/hook",
        "http://[::1]:8080/hook",
        "http://192.168.0.10/hook",
    ],
)
async def test_private_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(WebhookRefused, match="non-public address"):
        await check_target(url, allow_private=False)
    await check_target(url, allow_private=True)


async def test_only_http_urls_are_targets_and_public_addresses_pass() -> None:
    with pytest.raises(WebhookRefused, match="http"):
        await check_target("file:///etc/passwd", allow_private=True)
    target = await check_target("https://93.184.215.14/hook", allow_private=False)
    assert target.url == "https://93.184.215.14/hook"


async def test_a_delivery_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS is asked once; the request names that address, so a rebinding answer later
    (to 127.0.0.1, say) is never connected to. The host stays in Host and in TLS's SNI."""
    answers = iter(["93.184.215.14", "127.0.0.1"])

    async def resolve(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolve)
    target = await check_target("https://hooks.example.com:8443/in?x=1", allow_private=False)
    assert target.url == "https://93.184.215.14:8443/in?x=1"
    assert target.headers == {"Host": "hooks.example.com:8443"}
    assert target.extensions == {"sni_hostname": "hooks.example.com"}


async def test_an_unresolvable_host_is_retried_not_refused() -> None:
    with pytest.raises(WebhookUnresolvable):
        await check_target("https://no-such-host.invalid/hook", allow_private=False)
