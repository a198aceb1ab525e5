"""GET /v1/tasks/{id}/stream: a task's events live as Server-Sent Events, ending once the task
is final; reconnecting with Last-Event-ID resumes with no gap and no repeat."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import events, submit
from tests.stack import RunningStack


async def read_stream(
    api: httpx.AsyncClient,
    task_id: str,
    last_event_id: int | None = None,
    status_at_first: list[str] | None = None,
    until: str = "end",
) -> list[dict[str, Any]]:
    """Every SSE event until `until` (by default `end`): {id, event, data}; the task's status
    when the first event arrived is appended to `status_at_first`."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    received: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with api.stream(
        "GET", f"/v1/tasks/{task_id}/stream", headers=headers, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and current:
                if not received and status_at_first is not None:
                    status_at_first.append((await api.get(f"/v1/tasks/{task_id}")).json()["status"])
                received.append(current)
                if current["event"] in (until, "end"):
                    break
                current = {}
    return received


async def test_the_stream_follows_the_task_live_and_resumes_without_gaps(
    stack: RunningStack,
) -> None:
    marker = await stack.scripted.script(
        unique_key("stream"),
        [
            reply_tool_calls([("calculator", {"expression": "6*7"})], delay_s=1),
            reply_text("42", delay_s=1),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"compute {marker}")
        status_at_first: list[str] = []
        everything = await read_stream(api, task["id"], status_at_first=status_at_first)
        live = [e for e in everything if e["event"] != "delta"]  # see the test below
        resumed = await read_stream(api, task["id"], last_event_id=live[1]["id"])
        log = await events(api, task["id"])
        missing = await api.get("/v1/tasks/00000000-0000-0000-0000-000000000000/stream")

    assert status_at_first[0] in {"queued", "running"}  # events arrive as they happen
    *stored, end = live
    assert end["event"] == "end" and end["data"]["last_event_id"] == stored[-1]["id"]
    assert [e["id"] for e in stored] == [e["id"] for e in log]  # every event, in order, once
    kinds = [e["event"] for e in stored]
    assert kinds[0] == "status" and kinds[-1] == "status"
    assert stored[-1]["data"]["data"]["status"] == "succeeded"
    assert "llm_call" in kinds and "tool_call" in kinds
    assert [e["id"] for e in resumed[:-1]] == [e["id"] for e in stored[2:]]  # no gap, no repeat
    assert missing.status_code == 404


async def test_the_models_text_streams_as_deltas_before_its_reply_is_recorded(
    stack: RunningStack,
) -> None:
    text = " ".join(f"word{i}" for i in range(30)) + " done."
    marker = await stack.scripted.script(
        unique_key("deltas"), [reply_text(text, delay_s=1, chunk_delay_s=0.05)]
    )
    short = await stack.scripted.script(unique_key("short"), [reply_text("done.")])
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"talk {marker}")
        live = await read_stream(api, task["id"])
        resumed = await read_stream(api, task["id"], last_event_id=live[0]["id"])
        log = await events(api, task["id"])
        other = await submit(api, "scripted-native", f"talk {short}")
        await read_stream(api, other["id"])
        other_log = await events(api, other["id"])

    deltas = [e for e in live if e["event"] == "delta"]
    stored = [e for e in live if e["event"] not in ("delta", "end")]
    [reply] = [i for i, e in enumerate(live) if e["event"] == "llm_call"]
    assert len(deltas) > 1 and all(live.index(d) < reply for d in deltas)  # before the reply
    assert all("id" not in d for d in deltas)  # never stored: no id to resume from
    data = [d["data"] for d in deltas]
    assert [d["seq"] for d in data] == list(range(len(data)))
    assert {(d["task_id"], d["iteration"], d["attempt"]) for d in data} == {(task["id"], 0, 1)}
    assert "".join(d["text"] for d in data) == text == live[reply]["data"]["data"]["final_text"]
    # the stored log is what it would be without deltas: one row per step, none per token
    assert [e["id"] for e in stored] == [e["id"] for e in log]
    assert [e["type"] for e in log] == [e["type"] for e in other_log]
    # resuming stays exact over stored events; a finished turn sends no deltas again
    assert [e["id"] for e in resumed[:-1]] == [e["id"] for e in log[1:]]
    assert all(e["event"] != "delta" for e in resumed)


async def test_a_reconnect_mid_turn_resumes_stored_events_exactly_and_gets_the_reply(
    stack: RunningStack,
) -> None:
    text = " ".join(f"part{i}" for i in range(30))
    marker = await stack.scripted.script(
        unique_key("reconnect"), [reply_text(text, delay_s=1, chunk_delay_s=0.05)]
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"talk {marker}")
        before = await read_stream(api, task["id"], until="delta")  # then the client goes away
        seen = [e["id"] for e in before if "id" in e]
        after = await read_stream(api, task["id"], last_event_id=seen[-1])
        log = await events(api, task["id"])

    assert before[-1]["event"] == "delta"
    stored_after = [e["id"] for e in after if "id" in e]
    assert seen + stored_after == [e["id"] for e in log]  # no gap, no repeat
    [reply] = [e for e in after if e["event"] == "llm_call"]
    assert reply["data"]["data"]["final_text"] == text  # whole, whatever deltas were missed
    deltas = [e["data"] for e in after if e["event"] == "delta"]
    assert all(after.index(e) < after.index(reply) for e in after if e["event"] == "delta")
    assert text.endswith("".join(d["text"] for d in deltas))  # the rest of the turn, in order
