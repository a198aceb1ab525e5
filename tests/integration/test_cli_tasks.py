"""`agentry watch TASK` follows a task live in the terminal and ends with its result;
`agentry tasks` lists recent tasks with their progress. Both talk to the running gateway."""

from __future__ import annotations

import yaml

from services.settings import PROJECT_ROOT
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import submit, wait_for_status
from tests.integration.test_pools import _agentry
from tests.stack import RunningStack


async def test_watch_shows_each_step_then_the_result(stack: RunningStack) -> None:
    marker = await stack.scripted.script(
        unique_key("watch"),
        [
            # long enough for `agentry watch` to be following when the answer is written
            reply_tool_calls([("calculator", {"expression": "6*7"})], delay_s=3),
            reply_text("it is forty-two", chunk_delay_s=0.1),
        ],
    )
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"compute {marker}")
        watched = await _agentry("watch", task["id"], stack=stack)
        await wait_for_status(api, task["id"])
    listed = await _agentry("tasks", "--limit", "100", stack=stack)

    lines = watched.splitlines()
    assert any("status    running" in line for line in lines)
    assert any("model     scripted:" in line and "calculator" in line for line in lines)
    assert any("tool      calculator → 42" in line for line in lines)
    assert any("status    succeeded" in line for line in lines)
    # the answer's tokens as they came, on one line, before its model call's line
    [writing] = [i for i, line in enumerate(lines) if "writing   " in line]
    assert lines[writing].endswith("writing   it is forty-two")
    assert "model     scripted:" in lines[writing + 1] and "an answer" in lines[writing + 1]
    assert lines[-1] == "result: it is forty-two"
    [row] = [line for line in listed.splitlines() if line.startswith(task["id"])]
    assert "scripted-native" in row and "succeeded" in row and "2/" in row
    assert listed.splitlines()[0].split()[:4] == ["ID", "AGENT", "STATUS", "PROGRESS"]


async def test_watching_an_unknown_task_says_so(stack: RunningStack) -> None:
    out = await _agentry(
        "watch", "00000000-0000-0000-0000-000000000000", stack=stack, expect_code=1
    )
    assert "404" in out and "not found" in out


async def test_agents_lists_versions_and_an_agents_recorded_versions(stack: RunningStack) -> None:
    listed = await _agentry("agents", stack=stack)
    versions = await _agentry("agents", "data-analyst", stack=stack)
    unknown = await _agentry("agents", "nobody", stack=stack, expect_code=1)

    spec = yaml.safe_load((PROJECT_ROOT / "agents" / "data-analyst.yaml").read_text())
    now = str(spec["version"])
    assert listed.splitlines()[0].split() == ["AGENT", "VERSION", "ROLE", "POOL", "MODEL"]
    [row] = [line for line in listed.splitlines() if line.startswith("data-analyst ")]
    assert row.split()[:3] == ["data-analyst", now, "data"]
    assert versions.splitlines()[0].startswith(f"data-analyst (version {now} runs now)")
    [current] = [line for line in versions.splitlines() if line.endswith("current")]
    assert current.split()[0] == now
    assert "404" in unknown and "unknown agent 'nobody'" in unknown
