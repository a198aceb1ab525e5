"""Skills on the real stack (tests/agents/skills/): scripted-skills lists `probe-listed@1` and
lets the runtime choose among two more by the task's input with the embedding model; the
chosen ones follow the system prompt in the task's system message, and the task and its trace
report `skills_used` with versions (and the chooser's score)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fakes.script_client import reply_text, script_marker, unique_key
from tests.integration.helpers import messages, submit, wait_for_status
from tests.stack import RunningStack


async def run(stack: RunningStack, api: httpx.AsyncClient, text: str) -> dict[str, Any]:
    marker = await stack.scripted.script(unique_key("skills"), [reply_text("Done.")])
    task = await submit(api, "scripted-skills", f"{text} {marker}")
    done = await wait_for_status(api, task["id"])
    assert done["status"] == "succeeded", done
    system = [m["content"] for m in await messages(api, task["id"]) if m["role"] == "system"]
    trace = (await api.get(f"/v1/tasks/{task['id']}/trace")).json()
    return {"submitted": task, "done": done, "system": system, "trace": trace}


async def test_a_matching_skill_is_chosen_for_the_input_after_the_listed_one(
    stack: RunningStack,
) -> None:
    async with stack.api() as api:
        returns = await run(
            stack, api, "My parcel arrived damaged. Can I send it back for a refund?"
        )
        delivery = await run(stack, api, "When will my order be delivered, and can I track it?")
        sums = await run(stack, api, "What is 2 + 2?")

    used = returns["submitted"]["skills_used"]
    assert [(u["name"], u["version"]) for u in used] == [("probe-listed", 1), ("probe-returns", 1)]
    assert used[0]["score"] is None and used[1]["score"] >= 0.4
    assert returns["done"]["skills_used"] == used
    assert returns["trace"]["skills_used"] == used and returns["trace"]["spec_version"] == 3

    [system] = returns["system"]
    assert system.startswith("You are a test agent.\n\n# Skills\n")  # the prefix stays put
    listed, chosen = (
        system.index("## Skill: probe-listed (v1)"),
        system.index("## Skill: probe-returns (v1)"),
    )
    assert listed < chosen and "30 days" in system and "version 2" not in system
    assert "Done when:\n- The answer names the version it followed." in system

    # probe-shipping matches, but needs current_time, which the agent does not have
    assert [u["name"] for u in delivery["submitted"]["skills_used"]] == ["probe-listed"]
    assert [u["name"] for u in sums["submitted"]["skills_used"]] == ["probe-listed"]
    assert "probe-returns" not in sums["system"][0]


async def test_a_sub_agent_chooses_its_skills_for_the_instructions_it_gets(
    stack: RunningStack,
) -> None:
    child = unique_key("skills-child")
    await stack.scripted.script(child, [reply_text("Send it back within 30 days.")])
    instructions = (
        f"My parcel arrived damaged. Can I send it back for a refund? {script_marker(child)}"
    )
    call = json.dumps(
        {
            "name": "delegate",
            "arguments": {"agent": "scripted-skills", "instructions": instructions},
        }
    )
    marker = await stack.scripted.script(
        unique_key("skills-parent"),
        [reply_text(f"<tool_call>{call}</tool_call>"), reply_text("Within 30 days.")],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-skills-delegator", f"Ask the helper. {marker}")
        done = await wait_for_status(api, task["id"])
        [sub] = (await api.get(f"/v1/tasks/{task['id']}/children")).json()["items"]

    assert done["status"] == "succeeded", done
    used = [(u["name"], u["version"]) for u in sub["skills_used"]]
    assert used == [("probe-listed", 1), ("probe-returns", 1)]
    assert done["skills_used"] == []  # the delegator itself has none
