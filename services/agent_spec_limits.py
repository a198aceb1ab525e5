"""The parts of an agent spec that bound a long task: its memory (when older turns are
summarised) and its budgets. YAML forms, checked when the spec loads, and their resolution
against the model groups' context budgets (services/model_groups.py)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from services.duration import Duration
from workflows.contracts.budgets import Budgets, RunawayLimits
from workflows.contracts.memory import ContextBudget, MemoryConfig

DEFAULT_THRESHOLD_SHARE = 0.75  # of the prompt budget, when a spec names no threshold
DEFAULT_SUMMARY_MODEL = "agent-small"  # the `summarize` model group


class MemorySpec(BaseModel):
    """`memory:` of a spec. Without a threshold, a summary is made at 75 % of the prompt
    budget of the agent's model; without a model, by `agent-small` (the agent's own model
    where no such group is declared); `memory: null` turns summaries off."""

    model_config = ConfigDict(extra="forbid")

    summarize_threshold: int | None = Field(default=None, ge=64)
    keep_recent: int = Field(default=4, ge=0, le=100)
    model: str | None = None
    summary_max_tokens: int = Field(default=384, ge=16, le=4096)

    def resolve(
        self,
        agent_model: str,
        context: ContextBudget | None,
        groups: Mapping[str, ContextBudget | None],
    ) -> MemoryConfig | None:
        """None when no threshold is given and the model's budget is unknown."""
        threshold = self.summarize_threshold
        if threshold is None:
            if context is None:
                return None
            threshold = int(context.prompt_tokens * DEFAULT_THRESHOLD_SHARE)
        elif context is not None and threshold >= context.prompt_tokens:
            raise ValueError(
                f"memory.summarize_threshold {threshold} must be below the model's prompt "
                f"budget of {context.prompt_tokens} tokens"
            )
        model = self.model
        if model is None:
            model = (
                DEFAULT_SUMMARY_MODEL
                if not groups or DEFAULT_SUMMARY_MODEL in groups
                else agent_model
            )
        elif groups and model not in groups:
            raise ValueError(f"memory.model {model!r} is not a model group: {sorted(groups)}")
        return MemoryConfig(
            summarize_threshold=threshold,
            keep_recent=self.keep_recent,
            model=model,
            budget=groups.get(model),
            summary_max_tokens=self.summary_max_tokens,
        )


class BudgetsSpec(BaseModel):
    """`budgets:` of a spec: the defaults of its tasks; a submit may ask for others within
    the tenant's limits."""

    model_config = ConfigDict(extra="forbid")

    max_model_calls: int | None = Field(default=None, ge=1)
    max_tool_calls_per_turn: int | None = Field(default=None, ge=1)
    max_tool_calls: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    deadline: Duration | None = None

    def to_budgets(self) -> Budgets:
        return Budgets(
            max_model_calls=self.max_model_calls,
            max_tool_calls_per_turn=self.max_tool_calls_per_turn,
            max_tool_calls=self.max_tool_calls,
            max_tokens=self.max_tokens,
            deadline_seconds=self.deadline,
        )


class RunawaySpec(RunawayLimits):
    model_config = ConfigDict(extra="forbid")


class ShadowSpec(BaseModel):
    """`shadow:` of a spec: a share of its tasks also runs on another agent, dry-run
    (README, Shadow runs). The gateway checks `agent` names an agent when it loads the specs."""

    model_config = ConfigDict(extra="forbid")

    agent: str
    share: float = Field(gt=0, le=1)  # of the live tasks, chosen per task by a hash of its id
