"""The code reviewer's tools: the linter and the tests, run in the sandbox over the task's files
(with their .diff and .patch files applied first; nothing the run changes is kept).

Both report findings as `path:line: what`, relative to the workspace, one per line, so a small
model can copy them into its answer. Findings are the tools' normal result; only a tool that
could not run at all (a usage error, a limit hit) is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from activities.tools.code import run_in_sandbox
from activities.tools.errors import ToolError
from activities.tools.sandbox import INSIDE

# syntax errors, pyflakes (undefined and unused names, ...), bugbear: bugs, not style
BUG_RULES = "E9,F,B"
_RUFF_FINDING = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+):\d+: (?P<what>.+)$", re.M)
# pytest --tb=line: one "path:line: what" per failure; "FAILED file::test - why" names the test
_PYTEST_FINDING = re.compile(r"^(?P<path>[^\s:]+\.py):(?P<line>\d+): (?P<what>.+)$", re.M)
_PYTEST_FAILED = re.compile(r"^FAILED (?P<test>\S+)", re.M)
_PYTEST_COUNTS = re.compile(r"^=*\s*(?P<counts>\d+ (?:passed|failed|error)[^=\n]*?)\s*=*$", re.M)


# each .diff or .patch file among the task's files is applied first (to the sandbox's copy):
# the code under review is the changed code
_APPLY_PATCHES = (
    'for p in *.diff *.patch; do [ -e "$p" ] || continue; '
    'git apply -p1 "$p" 2>/dev/null || git apply -p0 "$p" '
    '|| { echo "could not apply $p" >&2; exit 3; }; done; exec "$@"'
)


async def _reviewed(argv: list[str], ok_exit_codes: frozenset[int]) -> str:
    """Run argv over the task's files with their patches applied; nothing is kept."""
    script = ["/bin/sh", "-c", _APPLY_PATCHES, "sh", *argv]
    return await run_in_sandbox(script, ok_exit_codes, keep_changes=False)


async def review_code() -> str:
    """Lint the Python files in the task's files and run their tests: every problem found,
    one per line as path:line: what is wrong."""
    lint, (findings, counts) = await _lint_findings(), await _test_findings()
    problems = [*lint, *findings]
    tests = f"the tests: {counts}" if counts else "no tests ran"
    if not problems:
        return f"No problems found (the linter found none; {tests})."
    found = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    return "\n".join([f"Found {found}:", *problems])


async def lint_code() -> str:
    """Lint the Python files in the task's files for bugs (ruff): one finding per line, as
    path:line: code message."""
    findings = await _lint_findings()
    if not findings:
        return "The linter found no problems."
    problems = "1 problem" if len(findings) == 1 else f"{len(findings)} problems"
    return f"The linter found {problems}:\n" + "\n".join(findings)


async def run_tests() -> str:
    """Run the tests in the task's files (pytest): each failure as path:line: what failed,
    then how many passed and failed."""
    findings, counts = await _test_findings()
    return "\n".join([*findings, f"Tests: {counts}." if counts else "No tests ran."])


async def _lint_findings() -> list[str]:
    output = await _reviewed(
        ["ruff", "check", "--no-cache", "--output-format", "concise", "--exit-zero",
         "--select", BUG_RULES, "."],
        frozenset({0}),
    )  # fmt: skip
    return [
        f"{m['path']}:{m['line']}: {m['what'].replace('[*] ', '')}"
        for m in _RUFF_FINDING.finditer(output)
    ]


async def _test_findings() -> tuple[list[str], str | None]:
    """Each failure as `path:line: test failed: why`, and the counts ("1 failed, 2 passed");
    None when no test ran. Tests that could not even be collected are an error."""
    output = await _reviewed(
        ["python", "-W", "ignore::DeprecationWarning", "-m", "pytest", "-q", "--tb=line",
         "-p", "no:cacheprovider", "--no-header", "-o", "console_output_style=classic"],
        ok_exit_codes=frozenset({0, 1, 5}),  # 1: some failed, 5: there are no tests
    )  # fmt: skip
    output = output.replace(f"{INSIDE}/", "")
    counts = _PYTEST_COUNTS.findall(output)
    if not counts:
        if "no tests ran" in output:
            return [], None
        raise ToolError(f"the tests did not run:\n{output}")
    tests = [name.rpartition("::")[2] for name in _PYTEST_FAILED.findall(output)]
    findings = [
        f"{m['path']}:{m['line']}: "
        + (f"{tests[i]} failed: " if i < len(tests) else "")
        + m["what"]
        for i, m in enumerate(_PYTEST_FINDING.finditer(output))
    ]
    return findings, counts[-1].split(" in ")[0]


REVIEW_TOOLS: tuple[Callable[..., Any], ...] = (review_code, lint_code, run_tests)
