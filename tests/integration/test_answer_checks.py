"""An agent whose answers are checked (answer_check: named_files) is told once which of the
files its request names it has not handled, and goes on; a second answer is taken."""

from __future__ import annotations

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import events, messages, submit, wait_for_status
from tests.stack import RunningStack


async def test_an_answer_missing_a_named_file_gets_a_reminder_and_the_task_goes_on(
    stack: RunningStack,
) -> None:
    marker = await stack.scripted.script(
        unique_key("answer-check"),
        [
            reply_tool_calls([("write_file", {"path": "drafts/a.txt", "content": "one"})]),
            reply_text("Wrote drafts/a.txt."),  # too early: b.txt is missing
            reply_tool_calls([("write_file", {"path": "drafts/b.txt", "content": "two"})]),
            reply_text("Wrote both files."),
        ],
    )
    async with stack.api() as api:
        task = await submit(
            api, "scripted-checked", f"Write drafts/a.txt and drafts/b.txt {marker}"
        )
        done = await wait_for_status(api, task["id"])
        transcript = await messages(api, task["id"])
        log = await events(api, task["id"])
        files = (await api.get(f"/v1/tasks/{task['id']}/files")).json()

    assert done["status"] == "succeeded" and done["result"] == "Wrote both files."
    assert sorted(item["path"] for item in files["items"]) == ["drafts/a.txt", "drafts/b.txt"]
    reminders = [m["content"] for m in transcript if m["role"] == "user"][1:]
    assert reminders == [
        "Not finished yet: the request also names drafts/b.txt, which no tool call has "
        "handled. Do that next, then answer."
    ]
    assert [e["data"]["missing"] for e in log if e["type"] == "answer_check"] == [["drafts/b.txt"]]


async def test_the_second_answer_is_taken_even_if_a_file_is_still_missing(
    stack: RunningStack,
) -> None:
    marker = await stack.scripted.script(
        unique_key("answer-check-once"),
        [reply_text("I cannot."), reply_text("I still cannot.")],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-checked", f"Write drafts/c.txt {marker}")
        done = await wait_for_status(api, task["id"])

    assert done["status"] == "succeeded" and done["result"] == "I still cannot."
    assert done["usage"]["llm_calls"] == 2
