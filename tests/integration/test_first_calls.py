"""An agent's first calls: the loop makes them itself at the start of each request, before
the model's first turn, so a small model that would skip its procedure's fixed first steps
cannot. They cost no model call and count as none against the budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.agent_catalog import AgentCatalog
from services.agent_specs import AgentSpecError
from tests.fakes.script_client import reply_text, reply_tool_calls, script_marker, unique_key
from tests.integration.helpers import events, messages, submit, wait_for_status
from tests.stack import RunningStack


async def test_the_loop_makes_the_first_calls_at_the_start_of_each_request(
    stack: RunningStack,
) -> None:
    key = unique_key("first-calls")
    marker = await stack.scripted.script(key, [reply_text("one file"), reply_text("still one")])
    async with stack.api() as api:
        task = await submit(
            api, "scripted-first-calls", f"what is there? {marker}", files={"a.txt": "x"}
        )
        await wait_for_status(api, task["id"], {"waiting_input"}, timeout=60)
        await api.post(f"/v1/tasks/{task['id']}/messages", json={"content": "and now?"})
        await wait_for_status(api, task["id"], {"waiting_input"}, timeout=60)
        for _ in range(50):  # the second answer is recorded before the status changes
            transcript = await messages(api, task["id"])
            if transcript[-1]["content"] == "still one":
                break
        log = await events(api, task["id"])
        done = (await api.get(f"/v1/tasks/{task['id']}")).json()
        await api.post(f"/v1/tasks/{task['id']}/cancel", json={})

    roles = [(m["role"], m["content"]) for m in transcript if m["role"] != "system"]
    assert roles == [
        ("user", f"what is there? {marker}"),
        ("assistant", None),  # the loop's own turn: list_files
        ("tool", "a.txt (1 bytes)"),
        ("assistant", "one file"),
        ("user", "and now?"),
        ("assistant", None),
        ("tool", "a.txt (1 bytes)"),
        ("assistant", "still one"),
    ]
    assert [e["data"]["tool_calls"] for e in log if e["type"] == "first_calls"] == [
        ["list_files"],
        ["list_files"],
    ]
    assert (await stack.scripted.status(key))["served"] == 2  # the model answered twice only
    assert done["usage"]["llm_calls"] == 2 and done["usage"]["tool_calls"] == 2


async def test_the_model_is_held_to_a_call_first_and_the_answer_shows_what_it_read(
    stack: RunningStack,
) -> None:
    key = unique_key("analyst")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls([("read_file", {"path": "nope.txt"})]),
            reply_tool_calls([("read_file", {"path": "./notes/a.txt"})]),
            reply_text("it says hello"),
        ],
    )
    async with stack.api() as api:
        task = await submit(
            api, "scripted-analyst", f"what does it say? {marker}", files={"notes/a.txt": "hello"}
        )
        done = await wait_for_status(api, task["id"], timeout=60)
    choices = [body.get("tool_choice") for body in await stack.scripted.requests(key)]
    assert choices == ["required", "auto", "auto"]  # until the model's own first call
    # the failed read shows nothing; the path as the tool received it
    assert done["result"] == "it says hello\n\nSource: notes/a.txt"


async def test_a_many_part_request_fans_out_to_sub_agents_whose_cited_answers_are_joined(
    stack: RunningStack,
) -> None:
    hotel, leave = unique_key("hotel"), unique_key("leave")
    await stack.scripted.script(hotel, [reply_text("220 euros a night.")])
    await stack.scripted.script(leave, [reply_text("28 days [leave-policy.md].")])
    question = (
        f"What is the hotel limit in Paris {script_marker(hotel)}, and how many vacation days "
        f"does an employee get {script_marker(leave)}?"
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-researcher", question)
        done = await wait_for_status(api, task["id"], timeout=90)
        children = (await api.get(f"/v1/tasks/{task['id']}/children")).json()["items"]
        log = await events(api, task["id"])

    assert done["status"] == "succeeded", done
    assert sorted(child["input"] for child in children) == sorted(
        [
            f"What is the hotel limit in Paris {script_marker(hotel)}?",
            f"How many vacation days does an employee get {script_marker(leave)}?",
        ]
    )
    # each child searched with its question; the uncited answer got the passage it rests on
    assert done["result"] == (
        "220 euros a night.\n\nSource: [travel-policy.md#hotels]\n\n28 days [leave-policy.md]."
    )
    assert [
        e["type"] for e in log if e["type"] in ("first_calls", "joined_answer", "llm_call")
    ] == [
        "first_calls",
        "joined_answer",
    ]  # the parent's model was never asked
    assert done["usage"]["llm_calls"] == 2  # the children's, rolled up


def _spec(tmp_path: Path, text: str) -> Path:
    (tmp_path / "a.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("tools: [list_files]\nfirst_calls: [read_file]", "first_calls ['read_file'] are not in"),
        ("tools: [read_file]\nfirst_calls: [read_file]", "'read_file' needs arguments ['path']"),
        (
            "tools: [read_file]\nfirst_calls: [{tool: read_file, arguments: {path: x, n: y}}]",
            "'read_file' takes no argument ['n']",
        ),
        ("tools: [read_file]\nfan_out: {tool: delegate}", "fan_out ['delegate'] are not in tools"),
        ("tools: [list_files]\nshow_calls: {read_file: x}", "show_calls ['read_file'] are not"),
        ("tools: [read_file]\nshow_calls: {read_file: 'R: {name}'}", "takes no argument ['name']"),
        ("tools: [list_files]\nanswer_after: [read_file]", "answer_after ['read_file'] are not"),
    ],
)
def test_first_calls_must_be_the_agents_own_tools_and_take_no_arguments(
    tmp_path: Path, spec: str, named: str
) -> None:
    schemas = {
        "list_files": {"type": "object", "properties": {}, "required": []},
        "read_file": {"type": "object", "properties": {"path": {}}, "required": ["path"]},
    }
    with pytest.raises(AgentSpecError) as error:
        AgentCatalog.load(_spec(tmp_path, f"name: a\n{spec}\n"), tool_schemas=schemas)
    assert named in str(error.value) and "a.yaml" in str(error.value)
