"""Approvals through the whole stack: a held tool call pauses the task, shows up in the inbox
with its context, and the decision posted over REST resumes it; deadlines, webhooks, audit,
follow-up messages and conversations too."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import messages, submit, wait_for_status
from tests.stack import RunningStack

AGENT = "scripted-approvals"


async def open_approvals(api: httpx.AsyncClient, task_id: str) -> list[dict[str, Any]]:
    response = await api.get("/v1/approvals", params={"task_id": task_id})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_held_call_waits_then_runs_once_approved(stack: RunningStack) -> None:
    key = unique_key("approve")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls(
                [("write_file", {"path": "reports/q3.txt", "content": "revenue up"})],
                content="I will save the report.",
            ),
            reply_text("Saved reports/q3.txt."),
        ],
    )
    async with (
        stack.api() as api,
        stack.api(await stack.create_key("approver", "test-approver")) as approver,
    ):
        task = await submit(api, AGENT, f"save the report {marker}")
        waiting = await wait_for_status(api, task["id"], {"waiting_approval"})
        assert waiting["usage"]["tool_calls"] == 0
        [approval] = await open_approvals(approver, task["id"])
        assert approval["tool"] == "write_file" and approval["status"] == "pending"
        assert approval["arguments"] == {"path": "reports/q3.txt", "content": "revenue up"}
        assert "outside 'drafts/'" in approval["reason"]
        assert approval["context"]["reasoning"] == "I will save the report."
        assert [m["role"] for m in approval["context"]["recent_messages"]][-1] == "assistant"

        decided = await approver.post(
            f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}
        )
        assert decided.status_code == 200, decided.text
        done = await wait_for_status(api, task["id"])
        again = await approver.post(
            f"/v1/approvals/{approval['id']}/decision", json={"decision": "reject"}
        )
        audit = (await api.get(f"/v1/tasks/{task['id']}/approvals")).json()["items"]
        written = await api.get(f"/v1/tasks/{task['id']}/files/reports/q3.txt")

    assert done["status"] == "succeeded" and done["result"] == "Saved reports/q3.txt."
    assert written.status_code == 200 and written.text == "revenue up"
    assert again.status_code == 409
    assert audit[0]["decision"] == "approve" and audit[0]["decided_by"] == "test-approver"


async def test_several_held_calls_are_decided_one_by_one(stack: RunningStack) -> None:
    key = unique_key("several")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls(
                [
                    ("write_file", {"path": "drafts/free.txt", "content": "no approval needed"}),
                    ("write_file", {"path": "out/a.txt", "content": "A"}),
                    ("write_file", {"path": "out/b.txt", "content": "B"}),
                ]
            ),
            reply_text("done"),
        ],
    )
    async with (
        stack.api() as api,
        stack.api(await stack.create_key("approver", "test-approver")) as approver,
    ):
        task = await submit(api, AGENT, f"three files {marker}")
        await wait_for_status(api, task["id"], {"waiting_approval"})
        held = {a["arguments"]["path"]: a for a in await open_approvals(approver, task["id"])}
        assert set(held) == {"out/a.txt", "out/b.txt"}
        reject = await approver.post(
            f"/v1/approvals/{held['out/a.txt']['id']}/decision",
            json={"decision": "reject", "comment": "not in out/"},
        )
        assert reject.status_code == 200, reject.text
        await asyncio.sleep(1)
        assert (await api.get(f"/v1/tasks/{task['id']}")).json()["status"] == "waiting_approval"
        bad_edit = await approver.post(
            f"/v1/approvals/{held['out/b.txt']['id']}/decision",
            json={"decision": "edit", "arguments": {"path": 7}},
        )
        assert bad_edit.status_code == 422
        edit = await approver.post(
            f"/v1/approvals/{held['out/b.txt']['id']}/decision",
            json={"decision": "edit", "arguments": {"path": "drafts/b.txt", "content": "B2"}},
        )
        assert edit.status_code == 200, edit.text
        done = await wait_for_status(api, task["id"])
        audit = (await api.get(f"/v1/tasks/{task['id']}/approvals")).json()["items"]
        transcript = await messages(api, task["id"])
        files = (await api.get(f"/v1/tasks/{task['id']}/files")).json()["items"]
        edited_file = await api.get(f"/v1/tasks/{task['id']}/files/drafts/b.txt")

    assert done["status"] == "succeeded"
    assert [f["path"] for f in files] == ["drafts/b.txt", "drafts/free.txt"]  # nothing in out/
    assert edited_file.text == "B2"
    results = [m["content"] for m in transcript if m["role"] == "tool"]
    assert any("not in out/" in r for r in results)
    edited = next(a for a in audit if a["decision"] == "edit")
    assert edited["argument_diff"]["changed"]["path"] == {"from": "out/b.txt", "to": "drafts/b.txt"}


async def test_deadline_auto_rejects_and_a_late_decision_is_refused(stack: RunningStack) -> None:
    key = unique_key("deadline")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls([("delete_file", {"path": "drafts/old.txt"})]),
            reply_text("could not delete"),
        ],
    )
    async with (
        stack.api() as api,
        stack.api(await stack.create_key("approver", "test-approver")) as approver,
    ):
        task = await submit(api, AGENT, f"clean up {marker}")
        done = await wait_for_status(api, task["id"], timeout=60)
        audit = (await api.get(f"/v1/tasks/{task['id']}/approvals")).json()["items"]
        late = await approver.post(
            f"/v1/approvals/{audit[0]['id']}/decision", json={"decision": "approve"}
        )
    assert done["status"] == "succeeded" and done["result"] == "could not delete"
    assert audit[0]["status"] == "timed_out"
    assert late.status_code == 409
    shown = (await stack.scripted.requests(key))[1]["messages"][-1]
    assert "deadline" in shown["content"]


async def test_webhook_is_retried_until_delivered(stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=stack.webhooks_url) as hooks:
        await hooks.put("/_config", json={"fail_first": 2})
        key = unique_key("hook")
        marker = await stack.scripted.script(
            key,
            [
                reply_tool_calls([("write_file", {"path": "x/y.txt", "content": "z"})]),
                reply_text("ok"),
            ],
        )
        async with stack.api() as api:
            task = await submit(api, AGENT, f"hook {marker}")
            await wait_for_status(api, task["id"], {"waiting_approval"})
            [approval] = await open_approvals(api, task["id"])
            deliveries: list[dict[str, Any]] = []
            for _ in range(200):
                deliveries = (await hooks.get(f"/_deliveries/{approval['id']}")).json()
                if deliveries and deliveries[-1]["answered"] == 200:
                    break
                await asyncio.sleep(0.1)
            await hooks.put("/_config", json={"fail_first": 0})
            await api.post(f"/v1/tasks/{task['id']}/cancel", json={"reason": "test over"})
    assert [d["answered"] for d in deliveries] == [503, 503, 200]
    assert all(d["signature_valid"] for d in deliveries)  # signed with the receiver's secret
    assert len({d["delivery_id"] for d in deliveries}) == 1  # one id across the retries
    payload = deliveries[-1]["payload"]
    assert payload["event"] == "approval.requested"
    assert payload["approval"]["tool"] == "write_file"


async def test_follow_up_message_reaches_the_model_and_a_conversation_idles_out(
    stack: RunningStack,
) -> None:
    key = unique_key("chat")
    marker = await stack.scripted.script(
        key,
        [
            reply_text("Hello! Ask me anything."),
            reply_text("It is 42."),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-chat", f"hi {marker}")
        first = await wait_for_status(api, task["id"], {"waiting_input"})
        assert first["result"] == "Hello! Ask me anything."
        sent = await api.post(f"/v1/tasks/{task['id']}/messages", json={"content": "what is 6*7?"})
        assert sent.status_code == 202, sent.text
        done = await wait_for_status(api, task["id"], timeout=60)
        late = await api.post(f"/v1/tasks/{task['id']}/messages", json={"content": "still there?"})
    assert done["status"] == "succeeded" and done["result"] == "It is 42."
    shown = (await stack.scripted.requests(key))[1]["messages"]
    assert shown[-1]["role"] == "user" and shown[-1]["content"] == "what is 6*7?"
    assert late.status_code == 409


async def test_side_effects_true_holds_each_side_effecting_call_and_lets_the_rest_run(
    stack: RunningStack,
) -> None:
    """scripted-side-effects: `side_effects: true`, no tool named; writes wait, reads do not."""
    key = unique_key("side-effects")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls(
                [
                    ("calculator", {"expression": "6*7"}),
                    ("read_file", {"path": "drafts/none.txt"}),
                    ("write_file", {"path": "drafts/answer.txt", "content": "42"}),
                ]
            ),
            reply_text("Wrote drafts/answer.txt."),
        ],
    )
    async with (
        stack.api() as api,
        stack.api(await stack.create_key("approver", "test-approver")) as approver,
    ):
        task = await submit(api, "scripted-side-effects", f"compute and save {marker}")
        await wait_for_status(api, task["id"], {"waiting_approval"})
        [approval] = await open_approvals(approver, task["id"])
        decided = await approver.post(
            f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}
        )
        done = await wait_for_status(api, task["id"])
        written = await api.get(f"/v1/tasks/{task['id']}/files/drafts/answer.txt")

    assert approval["tool"] == "write_file" and "always needs approval" in approval["reason"]
    assert decided.status_code == 200, decided.text
    assert done["status"] == "succeeded" and written.text == "42"
