"""Working memory of a long task: the context budget of its model, and the summary step that
keeps each prompt under it."""

from __future__ import annotations

from pydantic import BaseModel, Field

CONTEXT_EXCEEDED = "ContextExceeded"
"""Error type of a turn whose prompt cannot fit its model even after summarising: asking
again cannot help, so it is not retried; the task fails with `context_exceeded`."""


class ContextBudget(BaseModel):
    """What one request to a model group may hold, frozen into the task at submit."""

    context_window: int = Field(ge=1)  # prompt + output tokens of one request
    output_reserve: int = Field(ge=0)  # kept free for the reply

    @property
    def prompt_tokens(self) -> int:
        return self.context_window - self.output_reserve


class MemoryConfig(BaseModel):
    """When and how a task's older turns are replaced by a summary."""

    summarize_threshold: int = Field(ge=1)  # prompt tokens above which a summary is made
    keep_recent: int = Field(default=4, ge=0)  # turns kept verbatim at the end
    model: str = "agent-small"  # the `summarize` model group
    budget: ContextBudget | None = None  # of `model`; None: unknown, the input is not split
    summary_max_tokens: int = Field(default=384, ge=16)


class SummarizeRequest(BaseModel):
    task_id: str
    iteration: int  # the turn the summary is made before; one summary per turn at most
    model: str  # the agent's model, whose tokenizer measures the prompt
    message_ids: list[int]
    memory: MemoryConfig
    tokens_before: int  # the prompt as counted by the turn that asked for the summary
    # how the agent's prompt is rendered, to measure it after the summary
    tools: list[str] = Field(default_factory=list)
    tool_call_format: str = "text"
    max_tool_result_chars: int = 8000


class SummarizeResult(BaseModel):
    message_ids: list[int]  # the transcript to use from now on
    summary_id: int | None = None  # None: nothing could be summarised
    replaced: int = 0  # messages the summary stands for
    tokens_before: int = 0
    tokens_after: int = 0
    prompt_tokens: int = 0  # the summariser's own usage
    completion_tokens: int = 0
    cost_usd: float = 0.0
