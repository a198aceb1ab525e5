"""Sub-agents: a `delegate` tool call becomes a child workflow of the named agent, on that
agent's own pool; its final answer comes back as the call's one tool result."""

from __future__ import annotations

from pydantic import BaseModel

from workflows.contracts.agents import AgentConfig
from workflows.contracts.tasks import TaskStatus

DELEGATE_TOOL = "delegate"
MAX_DELEGATION_DEPTH = 3
"""A sub-agent's sub-agent's sub-agent may not delegate again: the model is told so, which
ends delegation loops (a → b → a …)."""


class OpenChildRequest(BaseModel):
    parent_task_id: str
    child_task_id: str  # made by the workflow (workflow.uuid4), so a retry finds the same row
    agent: str
    instructions: str


class OpenChildResult(BaseModel):
    agent: AgentConfig  # the sub-agent as its spec reads now; the child runs with this
    priority: int


class CloseChildRequest(BaseModel):
    parent_task_id: str
    iteration: int
    call_id: str
    agent: str
    child_task_id: str | None  # None: refused before a child was started
    status: TaskStatus | None = None
    output: str | None = None
    error: str | None = None  # a refusal or the child's failure, shown to the model
