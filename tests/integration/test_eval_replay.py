"""Trajectory replay on the running stack: `agentry eval save TASK` writes a finished task's
case, `agentry eval replay` runs the saved cases again and compares. The scripted model answers
the case's input (its script marker) the same way again, or, asked as another model group,
differently."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.fakes.script_client import Reply, reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import run_module, submit, wait_for_status
from tests.stack import RunningStack


async def agentry(*args: str, stack: RunningStack) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `agentry ARGS` against this stack (its dev key)."""
    return await run_module(stack, "services.cli", *args, timeout=120)


def calculator_script(*, delay_s: float = 0.0) -> list[Reply]:
    return [
        reply_tool_calls([("calculator", {"expression": "6*7"})], delay_s=delay_s),
        reply_text("it is  42"),
    ]


async def saved_case(stack: RunningStack, cases: Path, key: str, *flags: str) -> Path:
    """A finished scripted-native task that used the calculator, saved into `cases`."""
    marker = await stack.scripted.script(key, calculator_script())
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"compute {marker}")
        await wait_for_status(api, task["id"])
    code, out, err = await agentry("eval", "save", task["id"], "--dir", str(cases), *flags,
                                   stack=stack)  # fmt: skip
    assert code == 0, err
    return Path(out.split()[1].rstrip(":"))


async def test_save_refuses_an_unfinished_task_then_writes_its_case(
    stack: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("eval-save")
    marker = await stack.scripted.script(key, calculator_script(delay_s=3))
    async with stack.api() as api:
        task = await submit(api, "scripted-native", f"compute {marker}")
        code, _, err = await agentry("eval", "save", task["id"], "--dir", str(tmp_path),
                                     stack=stack)  # fmt: skip
        assert code == 1 and "only a finished task" in err and task["id"] in err
        assert not any(tmp_path.iterdir())
        await wait_for_status(api, task["id"])

    code, out, err = await agentry(
        "eval", "save", task["id"], "--gold", "--name", "calc", "--dir", str(tmp_path),
        stack=stack,
    )  # fmt: skip

    assert code == 0, err
    assert out.startswith(f"saved {tmp_path / 'calc.json'}: succeeded")
    case = json.loads((tmp_path / "calc.json").read_text())
    assert case["name"] == "calc" and case["gold"] is True and case["task_id"] == task["id"]
    assert (case["agent"], case["model"]) == ("scripted-native", "scripted")
    assert case["input"] == f"compute {marker}" and case["status"] == "succeeded"
    assert case["final_answer"] == "it is  42" and case["error"] is None
    assert [reply["model"] for reply in case["model_replies"]] == ["scripted", "scripted"]
    assert case["model_replies"][0]["tool_calls"] == [
        {"name": "calculator", "arguments": {"expression": "6*7"}}
    ]
    assert case["model_replies"][1]["content"] == "it is  42"
    [call] = case["tool_calls"]
    assert (call["name"], call["arguments"], call["result"]) == (
        "calculator", {"expression": "6*7"}, "42"
    )  # fmt: skip
    assert case["usage"]["llm_calls"] == 2 and case["usage"]["tool_calls"] == 1

    again = await agentry("eval", "save", task["id"], "--name", "calc", "--dir", str(tmp_path),
                          stack=stack)  # fmt: skip
    assert again[0] == 1 and "exists" in again[2]
    code, _, err = await agentry("eval", "save", task["id"], "--dir", str(tmp_path), stack=stack)
    assert code == 0, err
    [plain] = [p for p in tmp_path.glob("*.json") if p.name != "calc.json"]
    assert plain.name.startswith("scripted-native-")
    assert json.loads(plain.read_text())["gold"] is False  # gold only when a person says so


async def test_replay_passes_on_the_same_trajectory_and_fails_on_another_tool_sequence(
    stack: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("eval-replay")
    await saved_case(stack, tmp_path, key, "--gold", "--name", "gold-calc")

    await stack.scripted.script(key, calculator_script())  # the model answers as before
    code, same, err = await agentry("eval", "replay", "--dir", str(tmp_path), stack=stack)

    assert code == 0, same + err
    assert "== gold-calc (gold) → task " in same
    assert "same trajectory, same answer" in same
    assert same.rstrip().endswith("1 cases: 1 same trajectory, 1 same answer; gold: 1 of 1 pass")

    # as model group scripted-small the model answers at once, without the calculator
    await stack.scripted.script(
        key, calculator_script(), model_replies={"scripted-small": reply_text("42, no tools")}
    )
    code, other, err = await agentry(
        "eval", "replay", "--dir", str(tmp_path), "--model", "scripted-small", stack=stack
    )

    assert code == 1, other + err
    assert "different trajectory, same answer (numbers)  FAIL" in other
    assert re.search(r"tools +saved: calculator\n +new: +\(no tool calls\)", other)
    assert '-tool calculator {"expression": "6*7"}' in other
    assert "-answer it is 42" in other and "+answer 42, no tools" in other
    assert other.rstrip().endswith("1 cases: 0 same trajectory, 1 same answer; gold: 0 of 1 pass")


async def test_a_case_not_gold_is_compared_but_never_fails_the_run(
    stack: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("eval-plain")
    await saved_case(stack, tmp_path, key, "--name", "plain")
    await stack.scripted.script(key, [reply_text("I would rather not")])

    code, out, err = await agentry(
        "eval", "replay", "--dir", str(tmp_path), "--case", "plain", stack=stack
    )

    assert code == 0, out + err
    assert "== plain (not gold)" in out and "different trajectory, different answer" in out
    assert out.rstrip().endswith("gold: 0 of 0 pass")
    missing = await agentry("eval", "replay", "--dir", str(tmp_path), "--case", "nope",
                            stack=stack)  # fmt: skip
    assert missing[0] == 1 and "no saved case nope" in missing[2] and "plain" in missing[2]
    refused = await agentry("eval", "replay", "--dir", str(tmp_path), "--model", "gpt-nothing",
                            stack=stack)  # fmt: skip
    assert refused[0] == 0  # not gold: reported, not failed
    assert re.search(r"status +saved: succeeded\n +new: +not run", refused[1])
    assert "submit refused: 422" in refused[1] and "gpt-nothing" in refused[1]
