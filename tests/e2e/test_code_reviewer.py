"""The code-reviewer end to end on the real CPU model: given files with a bug, it lints them,
runs their tests in the sandbox and names the failing file and line."""

from __future__ import annotations

from tests.integration.helpers import events, submit, wait_for_status
from tests.stack import RunningStack

FILES = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


async def test_the_code_reviewer_reports_the_failing_test_with_file_and_line(
    stack: RunningStack,
) -> None:
    async with stack.api() as api:
        task = await submit(api, "code-reviewer", "Review this code.", files=FILES)
        done = await wait_for_status(api, task["id"], timeout=240)
        log = await events(api, task["id"])

    assert done["status"] == "succeeded", done
    calls = [e["data"] for e in log if e["type"] == "tool_call"]
    assert [call["name"] for call in calls] == ["review_code"]
    assert "test_calc.py:5: test_add failed: assert -1 == 3" in calls[0]["result"]
    assert "test_calc.py:5" in done["result"]
    assert done["usage"]["llm_calls"] == 1  # the review ran before the model's only turn
