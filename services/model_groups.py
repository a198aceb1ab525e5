"""Model groups and their context budgets, read from the LiteLLM config the proxy runs with.

Each group's `model_info` says what one request may hold: `max_input_tokens` is its context
window (prompt and reply together, as LiteLLM's own model map means it) and
`max_output_tokens` the share kept for the reply. Reading the same file as the proxy keeps
one source of truth for what the gateway promises and what the servers accept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workflows.contracts.memory import ContextBudget


class ModelGroupError(ValueError):
    """The LiteLLM config's model_info cannot be used; the message names the group."""


def load_model_groups(litellm_config: Path) -> dict[str, ContextBudget | None]:
    """Group name → its budget (None: the group declares no context window)."""
    try:
        config = yaml.safe_load(litellm_config.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelGroupError(f"{litellm_config}: {exc}") from exc
    groups: dict[str, ContextBudget | None] = {}
    for entry in config.get("model_list") or []:
        name = entry.get("model_name")
        if not isinstance(name, str):
            continue
        info: dict[str, Any] = entry.get("model_info") or {}
        window, reserve = info.get("max_input_tokens"), info.get("max_output_tokens", 0)
        if window is None:
            groups.setdefault(name, None)
            continue
        if not isinstance(window, int) or not isinstance(reserve, int) or reserve >= window:
            raise ModelGroupError(
                f"{litellm_config}: model group {name!r}: model_info needs integers "
                f"max_input_tokens > max_output_tokens, not {window!r} and {reserve!r}"
            )
        groups[name] = ContextBudget(context_window=window, output_reserve=reserve)
    return groups
