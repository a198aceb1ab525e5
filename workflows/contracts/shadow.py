"""Shadow runs: a share of an agent's tasks also runs on its spec's `shadow` agent, whose
calls with side effects are answered with a dry-run text instead of being made."""

from __future__ import annotations

from enum import StrEnum


class DryRun(StrEnum):
    """Why a shadow task's tool call is answered without being made."""

    side_effects = "side_effects"  # made only when its tool has no side effects
    approval = "approval"  # the live agent's policy would ask a person: never made
    delegation = "delegation"  # would start a real sub-agent task: never made


SHADOW_PRIORITY = 5  # PRIORITY_LOWEST: a shadow never gets ahead of a live task in its pool
