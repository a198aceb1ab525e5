"""Model groups and their context budgets, read from the LiteLLM config the proxy runs with.

Each group's `model_info` says what one request may hold: `max_input_tokens` is its context
window (prompt and reply together, as LiteLLM's own model map means it) and
`max_output_tokens` the share kept for the reply. Reading the same file as the proxy keeps
one source of truth for what the gateway promises and what the servers accept.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from activities.db.spend import TokenPrices
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


def load_model_prices(litellm_config: Path) -> dict[str, TokenPrices]:
    """Group name → its prices per token, for the groups whose `litellm_params` (or
    `model_info`) set both `input_cost_per_token` and `output_cost_per_token`."""
    try:
        config = yaml.safe_load(litellm_config.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelGroupError(f"{litellm_config}: {exc}") from exc
    prices: dict[str, TokenPrices] = {}
    for entry in config.get("model_list") or []:
        name = entry.get("model_name")
        if not isinstance(name, str):
            continue
        given = {**(entry.get("model_info") or {}), **(entry.get("litellm_params") or {})}
        found = given.get("input_cost_per_token"), given.get("output_cost_per_token")
        if None in found:
            continue
        try:
            price = TokenPrices(Decimal(str(found[0])), Decimal(str(found[1])))
        except InvalidOperation:
            raise ModelGroupError(
                f"{litellm_config}: model group {name!r}: prices per token must be numbers, "
                f"not {found[0]!r} and {found[1]!r}"
            ) from None
        known = prices.get(name)  # a group of several deployments reserves at the dearest
        if known is not None:
            price = TokenPrices(
                max(price.input_usd, known.input_usd), max(price.output_usd, known.output_usd)
            )
        prices[name] = price
    return prices
