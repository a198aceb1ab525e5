"""What a shadow task's model reads instead of a call's result when the call is not made
(README, Shadow runs): which call would have run and why it did not, so it can go on."""

from __future__ import annotations

import json
from typing import Any

from workflows.contracts.shadow import DryRun

ARGUMENTS_SHOWN = 600  # characters of the arguments repeated back to the model

_WHY = {
    DryRun.side_effects: "the tool has side effects",
    DryRun.approval: "it would need a person's approval",
    DryRun.delegation: "it would start another agent's task",
}


def is_dry_run(dry_run: DryRun | None, side_effects: bool) -> bool:
    """Whether a call with this dry-run mark, to a tool with (or without) side effects, is
    answered with a dry-run text instead of being made."""
    if dry_run is None:
        return False
    return dry_run is not DryRun.side_effects or side_effects


def dry_run_result(name: str, arguments: dict[str, Any], dry_run: DryRun) -> str:
    """The dry-run text: what would have been done, why it was not, and that the model should
    go on as if the call had succeeded."""
    shown = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    if len(shown) > ARGUMENTS_SHOWN:
        shown = shown[:ARGUMENTS_SHOWN] + f"… [{len(shown) - ARGUMENTS_SHOWN} more chars]"
    return (
        f"[dry run] {name} was not run, because this is a shadow run and {_WHY[dry_run]}. "
        f"It would have been called with {shown}. Assume it succeeded and go on."
    )
