"""Holding model calls to their tenant's monthly spend limit (activities/db/spend.py).

Before a call starts it reserves its worst case: the prompt's tokens (as counted, or the
bound no tokenizer exceeds) at the group's input price plus the reply's `max_tokens` at its
output price, from the prices the LiteLLM config gives the group. A call that finds no room
fails with SPEND_LIMIT, not retried: the workflow ends the task with `error.code =
spend_limit`. A group without prices reserves nothing (its cost, if the proxy knows it, still
counts when the call is settled): price every group a limited tenant uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db.outages import outlasting_outages
from activities.db.spend import Refusal, SpendRepository, TokenPrices, current_month
from activities.token_counts import TEMPLATE_ALLOWANCE, TokenCounter
from workflows.contracts.budgets import SPEND_LIMIT
from workflows.contracts.memory import SummarizeRequest


class SpendGuard:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], prices: Mapping[str, TokenPrices]
    ) -> None:
        self._sessions = sessions
        self._prices = prices

    def worst_case(self, model: str, prompt_tokens: int, reply_tokens: int) -> Decimal:
        """What calls to `model` with these many tokens in and out can cost at most."""
        price = self._prices.get(model)
        if price is None:
            return Decimal(0)
        return prompt_tokens * price.input_usd + reply_tokens * price.output_usd

    async def reserve_call(
        self, task_id: uuid.UUID, step_key: str, body: Mapping[str, Any], counted: int | None
    ) -> None:
        """Reserve the worst case of the chat completion `body` (its prompt as `counted`, or
        the bound no tokenizer exceeds), or raise SPEND_LIMIT."""
        prompt = counted if counted is not None else TokenCounter.upper_bound(body)
        reply = int(body.get("max_tokens") or 0)
        await self.reserve(task_id, step_key, str(body.get("model")), prompt, reply)

    async def reserve_summary(self, request: SummarizeRequest, prompt_bytes: list[int]) -> None:
        """Reserve the worst case of a summary's calls, one per prompt of `prompt_bytes`
        bytes; each prompt also carries the summary so far (at most the reply's tokens)."""
        reply = request.memory.summary_max_tokens
        prompt = sum(size + reply + TEMPLATE_ALLOWANCE for size in prompt_bytes)
        step_key = f"summary:{request.iteration}"
        task_id, model = uuid.UUID(request.task_id), request.memory.model
        await self.reserve(task_id, step_key, model, prompt, reply * len(prompt_bytes))

    async def reserve(
        self, task_id: uuid.UUID, step_key: str, model: str, prompt_tokens: int, reply_tokens: int
    ) -> None:
        """Reserve the step's worst case, or raise SPEND_LIMIT when its month has no room."""
        amount = self.worst_case(model, prompt_tokens, reply_tokens)
        month = current_month()

        async def reserve() -> Refusal | None:
            async with self._sessions.begin() as session:
                return await SpendRepository(session).reserve(task_id, step_key, amount, month)

        refusal = await outlasting_outages(reserve, "model call: reserving its cost")
        if refusal is not None:
            raise spend_limit_error(refusal)

    async def release(self, task_id: uuid.UUID, step_key: str) -> None:
        """The call failed: its reservation goes back (if this fails, the step's retry takes
        the reservation over, and the task's end releases it)."""
        try:
            async with self._sessions.begin() as session:
                await SpendRepository(session).release(task_id, step_key)
        except Exception as exc:  # the call's own failure matters more
            activity.logger.warning("releasing a spend reservation failed", exc_info=exc)


def spend_limit_error(refusal: Refusal) -> ApplicationError:
    spend = refusal.spend
    return ApplicationError(
        f"the tenant's monthly spend limit of ${spend.limit_usd:.2f} is reached: "
        f"${spend.spent_usd:.4f} spent in {spend.month:%Y-%m} and ${spend.reserved_usd:.4f} "
        f"reserved by model calls in flight leave no room for this call's "
        f"${refusal.needed_usd:.4f}",
        {
            "month": spend.month.isoformat(),
            "limit_usd": float(spend.limit_usd or 0),
            "spent_usd": float(spend.spent_usd),
            "reserved_usd": float(spend.reserved_usd),
            "needed_usd": float(refusal.needed_usd),
        },
        type=SPEND_LIMIT,
        non_retryable=True,
    )
