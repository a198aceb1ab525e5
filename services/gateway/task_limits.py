"""What a task may spend, settled at submit: its budgets (the agent's defaults, or what the
submit asks for, never above the tenant's limits), and whether its input fits its model."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from activities.token_counts import TokenCounter, TokenCountError
from services.gateway.errors import ProblemError
from workflows.contracts.agents import AgentConfig
from workflows.contracts.budgets import BUDGET_NAMES, Budgets

logger = logging.getLogger(__name__)


def effective_budgets(
    defaults: Budgets, requested: Budgets | None, limits: Mapping[str, float]
) -> Budgets:
    """Each budget as asked (else the agent's default), capped by the tenant's limit; asking
    above a limit is a 422 naming both figures."""
    chosen: dict[str, int | None] = {}
    for name in BUDGET_NAMES:
        limit = limits.get(name)
        asked = getattr(requested, name) if requested is not None else None
        if asked is not None and limit is not None and asked > limit:
            raise ProblemError(
                422,
                f"budgets.{name} {asked} is above this tenant's limit of {limit}",
                kind="budget-above-limit",
                extra={"budget": name, "requested": asked, "limit": limit},
            )
        chosen[name] = asked if asked is not None else getattr(defaults, name)
    return Budgets.model_validate(chosen).capped(dict(limits))


async def check_input_fits(counter: TokenCounter | None, agent: AgentConfig, text: str) -> None:
    """422 when the system prompt and the input alone exceed the prompt budget of the agent's
    model: such a task could never make a model call. A tokenizer that cannot be reached lets
    the task through (its first turn measures again)."""
    context = agent.context
    if counter is None or context is None:
        return
    body = {
        "messages": [
            {"role": "system", "content": agent.system_prompt},
            {"role": "user", "content": text},
        ]
    }
    limit = context.prompt_tokens
    if TokenCounter.upper_bound(body) <= limit:
        return
    try:
        tokens = await counter.count(agent.model, body)
    except TokenCountError as exc:
        logger.warning("could not measure an input for %s: %s", agent.model, exc)
        return
    if tokens > limit:
        raise ProblemError(
            422,
            f"the input is {tokens} tokens with the agent's system prompt; model "
            f"{agent.model!r} of agent {agent.name!r} takes at most {limit} prompt tokens "
            f"({context.context_window} context tokens less {context.output_reserve} kept for "
            "the reply)",
            kind="input-exceeds-context",
            extra={"input_tokens": tokens, "limit": limit, "model": agent.model},
        )
