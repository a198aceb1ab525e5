"""Sub-agents on the real stack: `delegate` calls of scripted-delegator run scripted-helper as
child tasks on pool `helpers`, concurrently; the API links parent and children and rolls the
children's usage into the parent's; a child's approval is in the tenant's inbox; cancelling the
parent cancels the child; the depth limit stops a delegation loop with an error to the model.
`helpers` runs its model turns as local activities (tests/pools.yaml `model_turns: local`)."""

from __future__ import annotations

import json
from typing import Any

from bench import activity_names
from bench.overhead_history import local_activity_types
from services.temporal_client import connect_temporal
from tests.fakes.script_client import reply_text, script_marker, unique_key
from tests.integration.helpers import messages, submit, wait_for_status
from tests.stack import RunningStack


def calls(*pairs: tuple[str, dict[str, Any]]) -> Any:
    """One reply with these tool calls, as text-format agents write them."""
    blocks = (f"<tool_call>{json.dumps({'name': n, 'arguments': a})}</tool_call>" for n, a in pairs)
    return reply_text("\n".join(blocks))


def delegation(agent: str, key: str, what: str) -> tuple[str, dict[str, Any]]:
    return ("delegate", {"agent": agent, "instructions": f"{what} {script_marker(key)}"})


async def test_delegations_run_as_children_on_their_pool_and_roll_up(stack: RunningStack) -> None:
    boss, one, two = unique_key("boss"), unique_key("one"), unique_key("two")
    await stack.scripted.script(one, [reply_text("seven", delay_s=1.0)])
    await stack.scripted.script(two, [reply_text("eleven", delay_s=1.0)])
    marker = await stack.scripted.script(
        boss,
        [
            calls(
                delegation("scripted-helper", one, "What is 3+4?"),
                delegation("scripted-helper", two, "What is 5+6?"),
            ),
            reply_text("seven and eleven"),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-delegator", f"Two sums, please. {marker}")
        done = await wait_for_status(api, task["id"])
        children = (await api.get(f"/v1/tasks/{task['id']}/children")).json()["items"]
        transcript = await messages(api, task["id"])

    assert done["status"] == "succeeded" and done["result"] == "seven and eleven", done
    assert [c["agent"] for c in children] == ["scripted-helper"] * 2
    assert {c["parent_task_id"] for c in children} == {task["id"]}
    assert sorted(c["result"] for c in children) == ["eleven", "seven"]
    results = [m["content"] for m in transcript if m["role"] == "tool"]
    assert sorted(results) == ["eleven", "seven"]  # each child's answer is one tool result
    # the two children ran at the same time
    first, second = sorted(children, key=lambda c: c["started_at"])
    assert second["started_at"] < first["finished_at"]
    # the parent's usage holds its own two model calls and one of each child
    assert done["usage"]["llm_calls"] == 4 and done["usage"]["tool_calls"] == 2
    client = await connect_temporal(stack.settings)
    child_workflow = client.get_workflow_handle(f"task-{children[0]['id']}")
    assert (await child_workflow.describe()).task_queue == "agentry-helpers"
    # `helpers` runs model turns as local activities (tests/pools.yaml): the child's one turn
    # is a marker in its history, its only workflow task ran it, and no activity was scheduled
    history = await child_workflow.fetch_history()
    assert local_activity_types(history.events).count("model_turn") == 1
    assert not activity_names(history.events)


async def test_cancelling_the_parent_cancels_the_child_waiting_for_approval(
    stack: RunningStack,
) -> None:
    boss, helper = unique_key("boss"), unique_key("helper")
    await stack.scripted.script(
        helper, [calls(("write_file", {"path": "etc/conf", "content": "x"})), reply_text("ok")]
    )
    marker = await stack.scripted.script(
        boss, [calls(delegation("scripted-helper", helper, "Write etc/conf.")), reply_text("-")]
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-delegator", f"Configure. {marker}")
        child = await first_child(api, task["id"])
        await wait_for_status(api, child["id"], {"waiting_approval"})
        inbox = (await api.get("/v1/approvals", params={"status": "pending"})).json()["items"]
        assert any(a["task_id"] == child["id"] and a["tool"] == "write_file" for a in inbox)

        cancelled = await api.post(f"/v1/tasks/{task['id']}/cancel")
        assert cancelled.status_code in (200, 202), cancelled.text
        parent_done = await wait_for_status(api, task["id"])
        child_done = await wait_for_status(api, child["id"])

    assert parent_done["status"] == "cancelled"
    assert child_done["status"] == "cancelled"


async def first_child(api: Any, task_id: str) -> dict[str, Any]:
    for _ in range(400):
        items = (await api.get(f"/v1/tasks/{task_id}/children")).json()["items"]
        if items:
            return dict(items[0])
        await __import__("asyncio").sleep(0.05)
    raise AssertionError("no child task in 20 s")


async def test_the_depth_limit_stops_a_delegation_loop(stack: RunningStack) -> None:
    keys = [unique_key(f"level{n}") for n in range(5)]
    for level in range(1, 4):  # each level delegates to itself, one level down
        nested = delegation("scripted-delegator", keys[level + 1], f"level {level + 1}")
        await stack.scripted.script(keys[level], [calls(nested), reply_text(f"done {level}")])
    top = delegation("scripted-delegator", keys[1], "level 1")
    marker = await stack.scripted.script(keys[0], [calls(top), reply_text("done 0")])
    async with stack.api() as api:
        task = await submit(api, "scripted-delegator", f"Go deep. {marker}")
        done = await wait_for_status(api, task["id"], timeout=120)
        chain = [task["id"]]
        for _ in range(3):
            chain.append((await first_child(api, chain[-1]))["id"])
        below_deepest = (await api.get(f"/v1/tasks/{chain[-1]}/children")).json()["items"]

    assert done["status"] == "succeeded" and done["result"] == "done 0"
    assert below_deepest == []
    deepest = await stack.scripted.requests(keys[3])  # level 3 may not delegate again
    told = json.dumps(deepest[1]["messages"])
    assert "delegation depth limit reached" in told
