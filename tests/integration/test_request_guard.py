"""Hostile request bodies against the real gateway process: a huge upload is refused before it
is read (401 without a key, 413 with one, whether its size is declared or streamed) and the
gateway's memory barely moves; text Postgres cannot store and JSON nested too deep are 422s
naming the field, never 500s."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.stack import RunningStack

HUGE = 300 * 1024 * 1024
CHUNK = 1024 * 1024


def gateway_pid(stack: RunningStack) -> int:
    pid = stack.stack.children["gateway"].pid
    assert pid is not None
    return pid


def reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from VmRSS


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


async def upload(stack: RunningStack, headers: dict[str, str], *, chunked: bool) -> int:
    """POST up to HUGE bytes to /v1/tasks, sending until the gateway answers; its status."""
    url = urlsplit(stack.info.gateway_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(HUGE)}
    lines = [
        "POST /v1/tasks HTTP/1.1",
        f"Host: {url.netloc}",
        "Content-Type: application/json",
        *(f"{name}: {value}" for name, value in {**headers, **framing}.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def pump() -> None:
        data = b"a" * CHUNK
        for _ in range(HUGE // CHUNK):
            writer.write(f"{CHUNK:x}\r\n".encode() + data + b"\r\n" if chunked else data)
            await writer.drain()

    sending = asyncio.create_task(pump())
    try:
        status_line = await asyncio.wait_for(reader.readline(), timeout=60)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sending
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    ("keyed", "chunked", "status"),
    [(False, False, 401), (True, False, 413), (True, True, 413)],
    ids=["no-key", "key-declared-size", "key-streamed"],
)
async def test_a_300_mb_upload_is_refused_before_it_is_read(
    stack: RunningStack, keyed: bool, chunked: bool, status: int
) -> None:
    pid = gateway_pid(stack)
    reset_peak_rss(pid)
    before = peak_rss_bytes(pid)
    headers = {"Authorization": f"Bearer {stack.info.api_key}"} if keyed else {}

    assert await upload(stack, headers, chunked=chunked) == status
    assert peak_rss_bytes(pid) - before < 20 * 1024 * 1024


async def test_an_invalid_key_is_refused_before_the_body_is_looked_at(
    stack: RunningStack,
) -> None:
    async with stack.api("agk_not-a-key") as api:
        answer = await api.post("/v1/tasks", content=b"{not json", headers={"Content-Type": "x"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"d": value}
    return value


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"agent": "assistant", "input": "a\x00b"}, "body.input", "NUL"),
        ({"agent": "assistant", "input": "hi", "metadata": {"k\x00": 1}}, "body.metadata", "NUL"),
        (
            {"agent": "assistant", "input": "hi", "metadata": {"k": ["\ud800"]}},
            "body.metadata.k.0",
            "surrogate",
        ),
        (
            {"agent": "assistant", "input": "hi", "metadata": nested(40)},
            "body.metadata.d",
            "deeper",
        ),
    ],  # fmt: skip
    ids=["nul-input", "nul-metadata-key", "lone-surrogate", "too-deep"],
)
async def test_unstorable_text_and_deep_json_are_422_naming_the_field(
    stack: RunningStack, body: dict[str, Any], field: str, says: str
) -> None:
    async with stack.api() as api:
        sent = json.dumps(body)  # \u escapes, as a client would send a lone surrogate
        answer = await api.post("/v1/tasks", content=sent, headers=JSON)
        listed = await api.get("/v1/tasks", params={"limit": 5})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["errors"][0]["field"].startswith(field)
    assert says in problem["errors"][0]["message"]
    assert listed.status_code == 200  # nothing half-stored broke the listing


async def test_a_message_or_cancel_reason_with_a_nul_is_422(stack: RunningStack) -> None:
    async with stack.api() as api:
        task = (await api.post("/v1/tasks", json={"agent": "assistant", "input": "hi"})).json()
        message = await api.post(f"/v1/tasks/{task['id']}/messages", json={"content": "\x00"})
        cancel = await api.post(f"/v1/tasks/{task['id']}/cancel", json={"reason": "x\x00"})
    assert message.status_code == 422 and cancel.status_code == 422
    assert message.json()["errors"][0]["field"] == "body.content"
