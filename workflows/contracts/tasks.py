"""An agent task: its status, the workflow that runs it, and the names Temporal knows it by."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from workflows.contracts.agents import AgentConfig
from workflows.contracts.budgets import Spent

AGENT_TASK_WORKFLOW = "AgentTaskWorkflow"
"""Workflow type name; the gateway starts tasks by this name."""

PRIORITY_HIGHEST, PRIORITY_LOWEST, PRIORITY_DEFAULT = 1, 5, 3


def task_queue_for_pool(pool: str) -> str:
    """Each worker pool polls its own queue, so one pool's flood never starves another."""
    return f"agentry-{pool}"


def workflow_id_for_task(task_id: str) -> str:
    return f"task-{task_id}"


class TaskStatus(StrEnum):
    queued = "queued"
    running = "running"
    waiting_approval = "waiting_approval"  # a tool call waits for a human decision
    waiting_input = "waiting_input"  # a conversation waits for the user's next message
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.succeeded, TaskStatus.failed, TaskStatus.cancelled)


class AdmissionPolicy(BaseModel):
    """How a task waits for a slot under its tenant's cap on running tasks; the gateway sets
    it from its settings at submit (a tenant's own cap, if set, is read at every attempt)."""

    default_cap: int = Field(ge=1)  # for tenants without their own max_concurrent_tasks
    poll_seconds: float = Field(gt=0)  # how soon a refused task asks again (at the front)


class AgentTaskInput(BaseModel):
    task_id: str
    agent: AgentConfig
    # 1 highest … 5 lowest: Temporal's task priority, and the order model calls are admitted in
    priority: int = PRIORITY_DEFAULT
    # None (tasks started before caps existed): the task begins at once
    admission: AdmissionPolicy | None = None
    # set when the workflow continues as new: where the previous run left off
    message_ids: list[int] = Field(default_factory=list)
    iteration: int = 0
    budget_start: int = 0  # the iteration at which the latest user message arrived
    spent: Spent = Field(default_factory=Spent)
    # a sub-agent's task: the delegating task, and how deep in the delegation chain it runs
    parent_task_id: str | None = None
    depth: int = 0
    # a shadow task: the live task it shadows (README, Shadow runs); its calls with side
    # effects, approvals and delegations are dry-run
    shadow_of: str | None = None


class AgentTaskResult(BaseModel):
    task_id: str
    status: TaskStatus
    output: str | None = None
    error: str | None = None
    iterations: int = 0
