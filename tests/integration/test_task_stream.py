"""GET /v1/tasks/{id}/stream: a task's events live as Server-Sent Events, ending once the task
is final; reconnecting with Last-Event-ID resumes with no gap and no repeat."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from activities.db.engine import create_engine, create_session_factory
from activities.db.followers import TaskFollowerRepository
from activities.db.models import TaskFollower
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import events, new_task_row, submit, wait_for_status
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


async def test_a_task_nobody_follows_asks_the_model_in_one_piece_after_its_first_turn(
    stack: RunningStack,
) -> None:
    key = unique_key("unfollowed")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls([("calculator", {"expression": "1+1"})]),
            reply_tool_calls([("calculator", {"expression": "2+2"})]),
            reply_text("4"),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"compute {marker}")
        done = await wait_for_status(api, task["id"])
        log = await events(api, task["id"])

    assert done["status"] == "succeeded"
    streamed = [bool(body.get("stream")) for body in await stack.scripted.requests(key)]
    # the first turn streams (its stream may be opened right after the submit), no other does
    assert streamed == [True, False, False]
    replies = [e["data"] for e in log if e["type"] == "llm_call"]
    assert replies[-1]["final_text"] == "4"  # recorded as a streamed reply is: usage, cost
    assert all(r["prompt_tokens"] > 0 and r["cost_usd"] > 0 for r in replies)


async def test_a_followed_task_streams_every_turn_and_its_follower_goes_when_it_ends(
    stack: RunningStack,
) -> None:
    key = unique_key("followed")
    text = " ".join(f"word{i}" for i in range(20))
    marker = await stack.scripted.script(
        key,
        [
            # long enough for the stream below to be open before the second turn begins
            reply_tool_calls([("calculator", {"expression": "6*7"})], delay_s=1),
            reply_text(text, chunk_delay_s=0.02),
        ],
    )
    engine = create_engine(stack.settings.resolved_database_url, pool_size=1)
    try:
        async with stack.api() as api:
            task = await submit(api, "scripted-native", f"talk {marker}")
            live = await read_stream(api, task["id"])
        async with create_session_factory(engine)() as session:
            left = await TaskFollowerRepository(session).followed(uuid.UUID(task["id"]))
    finally:
        await engine.dispose()

    assert [bool(body.get("stream")) for body in await stack.scripted.requests(key)] == [
        True,
        True,
    ]
    second = [e["data"] for e in live if e["event"] == "delta" and e["data"]["iteration"] == 1]
    [reply] = [e for e in live if e["event"] == "llm_call" and e["data"]["data"]["iteration"] == 1]
    assert "".join(d["text"] for d in second) == text == reply["data"]["data"]["final_text"]
    assert not left  # the stream's follower row went with it


async def test_a_follower_whose_gateway_died_expires(stack: RunningStack) -> None:
    engine = create_engine(stack.settings.resolved_database_url, pool_size=1)
    sessions = create_session_factory(engine)
    try:
        task_id = await new_task_row(sessions, "followers")
        async with sessions.begin() as session:
            follower = await TaskFollowerRepository(session).follow(task_id)
        async with sessions() as session:
            held = await TaskFollowerRepository(session).followed(task_id)
        async with sessions.begin() as session:  # as if FOLLOW_SECONDS had passed
            await session.execute(
                update(TaskFollower)
                .where(TaskFollower.id == follower)
                .values(expires_at=func.now() - timedelta(seconds=1))
            )
        async with sessions() as session:
            expired = await TaskFollowerRepository(session).followed(task_id)
        async with sessions.begin() as session:  # the next follower clears the dead one
            await TaskFollowerRepository(session).follow(task_id)
            rows = await session.scalar(select(func.count()).where(TaskFollower.task_id == task_id))
        async with sessions.begin() as session:  # the first stream was only slow: it holds on
            await TaskFollowerRepository(session).still(follower, task_id)
        async with sessions() as session:
            again = await session.get(TaskFollower, follower)
    finally:
        await engine.dispose()

    assert held and not expired
    assert rows == 1
    assert again is not None  # written again, though the next follower had cleared it


async def test_a_follower_that_goes_away_mid_task_is_dropped_at_once(stack: RunningStack) -> None:
    marker = await stack.scripted.script(unique_key("goes-away"), [reply_text("ok", delay_s=3)])
    engine = create_engine(stack.settings.resolved_database_url, pool_size=1)
    sessions = create_session_factory(engine)
    try:
        async with stack.api() as api:
            task = await submit(api, "scripted-native", f"talk {marker}")
            task_id = uuid.UUID(task["id"])
            await read_stream(api, task["id"], until="status")  # then the client goes away
            followed = True
            deadline = asyncio.get_running_loop().time() + 2
            while followed and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.1)
                async with sessions() as session:
                    followed = await TaskFollowerRepository(session).followed(task_id)
            running = (await api.get(f"/v1/tasks/{task['id']}")).json()["status"]
            await wait_for_status(api, task["id"])
    finally:
        await engine.dispose()

    assert running in {"queued", "running"}  # gone while the task still ran
    assert not followed
