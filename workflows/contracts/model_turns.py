"""One model turn of the agent loop: what the workflow asks for and what it gets back, and the
error types a turn fails with."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from workflows.contracts.agents import PlannedCall, ToolCallFormat, ToolChoice
from workflows.contracts.memory import ContextBudget
from workflows.contracts.tasks import PRIORITY_DEFAULT
from workflows.contracts.tool_calls import ToolCall

MODEL_REQUEST_REJECTED = "ModelRequestRejected"
"""Error type of a request the model gateway refused (bad request, auth, unknown model): asking
again cannot help, so it is not retried."""

MODEL_REPEATING = "ModelRepeating"
"""Error type of a streamed reply the model kept repeating (the same chunk over and over, which
the proxy cuts off) even when asked again with a frequency penalty: at temperature 0 another
attempt repeats it, so it is not retried."""

MODEL_SERVER_SATURATED = "ModelServerSaturated"
"""Error type of a turn held by admission control longer than its longest hold: it gives its
activity slot back and is retried once the server has room."""

MODEL_SERVER_SATURATED_RETRY_DELAY = timedelta(seconds=2)
"""How soon a MODEL_SERVER_SATURATED turn is retried (the error's `next_retry_delay`), rather
than after the retry policy's backoff."""


class ModelTurnRequest(BaseModel):
    task_id: str
    iteration: int
    model: str
    message_ids: list[int]
    tools: list[str]
    tool_call_format: ToolCallFormat
    temperature: float = 0.0
    max_tokens: int = 512
    priority: int = PRIORITY_DEFAULT  # the task's; a saturated model server serves high first
    context: ContextBudget | None = None  # None: the prompt is not measured
    # a prompt over this many tokens is not sent: the turn asks for a summary first
    summarize_threshold: int | None = None
    max_tool_result_chars: int = 8000
    # called by the loop itself when the request has had no tool call yet (AgentConfig)
    first_calls: list[PlannedCall] = Field(default_factory=list)
    tool_choice: ToolChoice = ToolChoice.auto  # required: a call of the model's own first
    show_calls: dict[str, str] = Field(default_factory=dict)  # tool → line for the answer
    fan_out: PlannedCall | None = None  # per question of a request asking several (AgentConfig)
    cite_from: list[str] = Field(default_factory=list)  # AgentConfig.cite_from


class ModelTurnResult(BaseModel):
    message_id: int
    tool_calls: list[ToolCall] = Field(default_factory=list)
    final_text: str | None = None  # set when the turn holds no tool call
    # calls that must not run (e.g. arguments that are not JSON): call id → error for the model
    invalid_calls: dict[str, str] = Field(default_factory=dict)
    # calls that finish at once (a quick tool, or an invalid call answered with its error):
    # the workflow runs them as local activities. Empty in turns recorded before this field.
    quick_calls: list[str] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0  # as the proxy priced the call (0 when it could not)
    # the prompt passed summarize_threshold: nothing was sent, summarise and ask again
    needs_summary: bool = False
    counted_tokens: int | None = None  # the prompt as measured before the call, if it was
    # for the worker's metrics: prompt tokens the prefix cache served, and the call's duration
    # (None: not known, e.g. a turn rebuilt from what an earlier attempt recorded)
    cached_tokens: int = 0
    duration_ms: int | None = None
    planned: bool = False  # the agent's first calls, made by the loop: no model was asked
