"""The agents that do real work, end to end on the real CPU model: the code-reviewer names the
failing file and line, the data-analyst answers with the figure and its query, the researcher
answers with a citation and hands a two-part question to two sub-agents."""

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


async def test_the_data_analyst_answers_with_the_figure_and_the_query(stack: RunningStack) -> None:
    async with stack.api() as api:
        task = await submit(api, "data-analyst", "How many customers live in Vienna?")
        done = await wait_for_status(api, task["id"], timeout=240)
        log = await events(api, task["id"])

    assert done["status"] == "succeeded", done
    queries = [e["data"] for e in log if e["type"] == "tool_call"]
    assert [q["name"] for q in queries][:2] == ["describe_database", "query_database"]
    assert "\n5\n" in queries[1]["result"]  # the count the model's SQL got
    answer, _, shown = done["result"].partition("\n\nQuery: ")
    assert "5" in answer
    assert shown.upper().startswith("SELECT") and "Vienna" in shown
    # the query's turn and the answer's (answer_after): no second query after the rows
    assert done["usage"]["llm_calls"] == 2


async def test_the_researcher_cites_and_splits_a_two_part_question(stack: RunningStack) -> None:
    async with stack.api() as api:
        one = await submit(api, "researcher", "How long must a password be?")
        two = await submit(
            api,
            "researcher",
            "How many weeks of parental leave do parents get, and how soon must a lost laptop "
            "be reported?",
        )
        single = await wait_for_status(api, one["id"], timeout=240)
        split = await wait_for_status(api, two["id"], timeout=240)
        children = (await api.get(f"/v1/tasks/{two['id']}/children")).json()["items"]

    assert single["status"] == "succeeded", single
    assert "14" in single["result"] and "[security-policy.md#passwords]" in single["result"]
    assert split["status"] == "succeeded", split
    assert [child["agent"] for child in children] == ["researcher", "researcher"]
    assert "16" in split["result"] and "1 hour" in split["result"]
    assert "leave-policy.md" in split["result"] and "security-policy.md" in split["result"]
