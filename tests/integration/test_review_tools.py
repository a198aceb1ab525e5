"""The code reviewer's tools over a task's files: the linter's and the tests' findings as
path:line, a diff among the files applied first, and nothing they run kept in the workspace."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.task_workspace import TaskWorkspace, WorkspaceQuota
from activities.tools.context import ToolContext, use_tool_context
from activities.tools.errors import ToolError
from activities.tools.review import lint_code, review_code, run_tests
from tests.integration.helpers import new_task_row

Sessions = async_sessionmaker[AsyncSession]

CALC = "import os\n\n\ndef add(a, b):\n    return a + b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
DIFF = (
    "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -3,3 +3,3 @@\n \n"
    " def add(a, b):\n-    return a + b\n+    return a - b\n"
)


async def workspace_with(sessions: Sessions, files: dict[str, str]) -> TaskWorkspace:
    workspace = TaskWorkspace(sessions, await new_task_row(sessions, "review"), WorkspaceQuota())
    for path, text in files.items():
        await workspace.write(path, text.encode())
    return workspace


def as_task(workspace: TaskWorkspace) -> ToolContext:
    return ToolContext(task_id=str(uuid.uuid4()), tenant_id=None, workspace=workspace)


async def test_findings_name_file_and_line_and_a_diff_is_reviewed_as_applied(
    db_sessions: Sessions,
) -> None:
    workspace = await workspace_with(
        db_sessions, {"calc.py": CALC, "test_calc.py": TESTS, "change.diff": DIFF}
    )
    with use_tool_context(as_task(workspace)):
        review = await review_code()
        lint = await lint_code()
        tests = await run_tests()
    assert review.splitlines() == [
        "Found 2 problems:",
        "calc.py:1: F401 `os` imported but unused",
        "test_calc.py:5: test_add failed: assert -1 == 3",  # the diff's a - b
    ]
    assert lint == "The linter found 1 problem:\ncalc.py:1: F401 `os` imported but unused"
    assert tests == "test_calc.py:5: test_add failed: assert -1 == 3\nTests: 1 failed."
    assert (await workspace.read("calc.py")) == CALC.encode()  # the diff applied to a copy only
    assert set(await workspace.sizes()) == {"calc.py", "test_calc.py", "change.diff"}


async def test_clean_code_has_no_findings_and_broken_tests_are_an_error(
    db_sessions: Sessions,
) -> None:
    clean = await workspace_with(
        db_sessions, {"calc.py": CALC.replace("import os\n", ""), "test_calc.py": TESTS}
    )
    with use_tool_context(as_task(clean)):
        review = await review_code()
    assert review == "No problems found (the linter found none; the tests: 1 passed)."
    broken = await workspace_with(db_sessions, {"test_x.py": "import nowhere\n"})
    with use_tool_context(as_task(broken)), pytest.raises(ToolError, match="nowhere"):
        await run_tests()  # a test file that cannot be imported is not a pass
