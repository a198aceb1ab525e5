"""`python -m evals` on the running stack: each case is submitted through the REST API, the
approver is played where the case says so, and the outcome is checked by code and reported."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import run_module
from tests.stack import RunningStack


async def run_evals(stack: RunningStack, *args: str) -> tuple[int, str, str]:
    return await run_module(stack, "evals", *args)


async def test_an_eval_run_checks_answers_and_files_and_reports_them(
    stack: RunningStack, tmp_path: Path
) -> None:
    right = await stack.scripted.script(
        unique_key("eval-right"),
        [reply_tool_calls([("calculator", {"expression": "6*7"})]), reply_text("It is 42.")],
    )
    wrong = await stack.scripted.script(
        unique_key("eval-wrong"),
        [reply_tool_calls([("calculator", {"expression": "6*6"})]), reply_text("It is 36.")],
    )
    approved = await stack.scripted.script(
        unique_key("eval-approved"),
        [
            reply_tool_calls([("write_file", {"path": "report.txt", "content": "final"})]),
            reply_text("Wrote report.txt."),
        ],
    )
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "files.yaml").write_text(
        "category: files\nagent: scripted-approvals\ncases:\n"
        f"  - {{id: approved, input: 'write the report {approved}', approvals: approve,"
        " files: {report.txt: final}, tools: [write_file], shortest: 2}\n"
    )
    (cases / "sums.yaml").write_text(
        "category: sums\nagent: scripted-native\ncases:\n"
        f"  - {{id: right, input: 'six times seven {right}', number: 42, tools: [calculator],"
        " shortest: 2}\n"
        f"  - {{id: wrong, input: 'six times seven {wrong}', number: 42, tools: [calculator],"
        " shortest: 2}\n"
    )

    code, out, err = await run_evals(stack, "--cases", str(cases), "--no-write", "--label", "t")

    assert code == 0, err
    assert "ok   sums/right" in err and "FAIL sums/wrong" in err
    assert "ok   files/approved" in err  # the eval approved the write outside drafts/
    assert "| sums | 2 | 1 (50 %) | 1.00 | 100 % |" in out
    assert "| sums/wrong | ✗ | 2 (2) | calculator |" in out
    assert "the answer lacks 42 — answer: It is 36." in out
    [scores] = [line.split("scores: ")[1] for line in err.splitlines() if "scores: " in line]
    record = json.loads(Path(scores).read_text())
    assert record["summary"]["sums"]["completed"] == 1
    assert [s["key"] for s in record["scores"]] == ["files/approved", "sums/right", "sums/wrong"]
    assert record["scores"][0]["notes"] == ["approve write_file"]


async def test_a_case_set_that_matches_nothing_is_an_error(stack: RunningStack) -> None:
    code, _, err = await run_evals(stack, "--category", "no-such-category", "--no-write")

    assert code == 2 and "no case matches" in err


async def test_a_model_group_the_stack_lacks_stops_the_run_with_the_reason(
    stack: RunningStack,
) -> None:
    code, _, err = await run_evals(
        stack, "--case", "arithmetic/mul-add", "--model", "no-such-group", "--no-write"
    )

    assert code == 2
    assert "evals: submitting arithmetic/mul-add failed: 422:" in err
    assert "unknown model group 'no-such-group'" in err and "agent-large" in err
    assert "Traceback" not in err
