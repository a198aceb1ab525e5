"""Shadow runs, the pure parts: which tasks are shadowed, the dry-run text, the comparison,
the spec's `shadow:` and the tools' side-effect declarations."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from activities.db.shadow_figures import (
    RunFigures,
    compare_runs,
    normalised_answer,
    tool_sequence,
)
from activities.dry_runs import ARGUMENTS_SHOWN, dry_run_result, is_dry_run
from activities.tools.catalog import ToolCatalog
from activities.tools.registry import ToolRegistry, default_registry
from services.agent_catalog import AgentCatalog
from services.agent_specs import AgentSpecError
from services.gateway.shadow_runs import is_shadowed
from workflows.contracts.shadow import DryRun


def test_the_choice_is_stable_per_task_and_near_the_share() -> None:
    ids = [uuid.UUID(int=n * 7919 + 13) for n in range(4000)]
    first = [is_shadowed(task_id, "next", 0.25) for task_id in ids]
    assert first == [is_shadowed(task_id, "next", 0.25) for task_id in ids]  # deterministic
    assert 0.22 < sum(first) / len(ids) < 0.28
    assert all(is_shadowed(task_id, "next", 1.0) for task_id in ids)
    # a larger share keeps every task a smaller one chose
    assert all(is_shadowed(t, "next", 0.5) for t, chosen in zip(ids, first, strict=True) if chosen)


def test_another_shadow_agent_samples_other_tasks() -> None:
    ids = [uuid.UUID(int=n) for n in range(2000)]
    one = {t for t in ids if is_shadowed(t, "a", 0.3)}
    two = {t for t in ids if is_shadowed(t, "b", 0.3)}
    assert one != two


@pytest.mark.parametrize(
    ("mark", "side_effects", "dry"),
    [
        (None, True, False),
        (DryRun.side_effects, False, False),
        (DryRun.side_effects, True, True),
        (DryRun.approval, False, True),
        (DryRun.delegation, False, True),
    ],
)
def test_which_calls_are_dry_run(mark: DryRun | None, side_effects: bool, dry: bool) -> None:
    assert is_dry_run(mark, side_effects) is dry


def test_the_dry_run_text_says_what_would_have_been_done_and_why() -> None:
    text = dry_run_result("write_file", {"path": "a.txt", "content": "hi"}, DryRun.side_effects)
    assert text.startswith("[dry run] write_file was not run")
    assert '{"content": "hi", "path": "a.txt"}' in text and "side effects" in text
    assert "go on" in text
    assert "approval" in dry_run_result("delete_file", {"path": "x"}, DryRun.approval)
    long = dry_run_result("write_file", {"content": "x" * 5000}, DryRun.side_effects)
    assert len(long) < ARGUMENTS_SHOWN + 400 and "more chars" in long


def figures(output: str | None, tools: list[str], status: str = "succeeded") -> RunFigures:
    return RunFigures("id", "a", status, output, tools, 2, 100, 1500)


def test_answers_compare_up_to_whitespace_and_tools_in_order() -> None:
    live = figures("The answer\n is  42. ", ["calculator", "write_file"])
    verdict = compare_runs(live, figures("The answer is 42.", ["calculator", "write_file"]))
    assert verdict.same_answer and verdict.same_tools
    verdict = compare_runs(live, figures("the answer is 42.", ["write_file", "calculator"]))
    assert not verdict.same_answer and not verdict.same_tools
    # two failures without an answer are not "the same answer"
    assert not compare_runs(figures(None, [], "failed"), figures(None, [], "failed")).same_answer
    assert normalised_answer("  a \t b\n") == "a b" and normalised_answer(None) is None


def test_a_turns_calls_are_ordered_by_name_not_by_finish() -> None:
    assert tool_sequence([(1, "b"), (0, "z"), (1, "a")]) == ["z", "a", "b"]


def write_specs(folder: Path, **specs: str) -> Path:
    for name, text in specs.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def test_a_spec_names_its_shadow_and_share(tmp_path: Path) -> None:
    catalog = AgentCatalog.load(
        write_specs(tmp_path, a="name: a\nshadow: {agent: b, share: 0.25}\n", b="name: b\n")
    )
    spec = catalog.get("a")
    assert spec is not None and spec.shadow is not None
    assert (spec.shadow.agent, spec.shadow.share) == ("b", 0.25)
    assert catalog.config("a") is not None  # the shadow is the gateway's, not the task's


@pytest.mark.parametrize(
    ("shadow", "expected"),
    [
        ("{agent: nobody, share: 0.5}", "shadow.agent 'nobody' is not another agent"),
        ("{agent: a, share: 0.5}", "shadow.agent 'a' is not another agent"),
        ("{agent: b, share: 0}", "shadow.share"),
        ("{agent: b, share: 1.5}", "shadow.share"),
        ("{agent: b}", "shadow.share"),
        ("{agent: b, share: 0.5, mode: x}", "shadow.mode"),
    ],
)
def test_a_bad_shadow_is_refused_naming_the_file_and_field(
    tmp_path: Path, shadow: str, expected: str
) -> None:
    write_specs(tmp_path, a=f"name: a\nshadow: {shadow}\n", b="name: b\n")
    with pytest.raises(AgentSpecError) as caught:
        AgentCatalog.load(tmp_path)
    assert str(tmp_path / "a.yaml") in str(caught.value) and expected in str(caught.value)


def test_tools_declare_side_effects_and_the_catalog_records_them() -> None:
    registry = default_registry()
    effects = {name for name in registry.names() if registry.get(name).side_effects}
    assert effects == {"write_file", "delete_file", "delegate", "run_python", "run_command"}
    catalog = ToolCatalog.load()
    assert {name for name in catalog.names() if catalog.get(name).side_effects} == effects  # type: ignore[union-attr]

    own = ToolRegistry()

    def send(text: str) -> str:
        """Send it."""
        return text

    assert own.add(send, side_effects=True).side_effects
    assert not own.add(lambda: "x", name="quiet").side_effects
