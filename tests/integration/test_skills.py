"""Skills on the real stack (tests/agents/skills/): scripted-skills lists `probe-listed@1` and
lets the runtime choose among two more by the task's input with the embedding model; the
chosen ones follow the system prompt in the task's system message, and the task and its trace
report `skills_used` with versions (and the chooser's score)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes.script_client import reply_text, unique_key
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
