"""Sub-agent bookkeeping around the child workflow (workflows/delegation.py): the child's task
row before it starts, and the parent's tool result once it ended, with the child's usage
rolled into the parent's."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db.events import EventRepository, NewEvent, status_event, status_step
from activities.db.messages import NewMessage
from activities.db.models import Task
from activities.db.steps import StepRepository
from activities.db.tasks import NewTask, StepCounters, TaskRepository
from activities.db.tenants import TenantRepository
from activities.skills.selection import SkillSelector
from activities.tool_calls import ERROR_PREFIX, result_digest
from activities.trace_export import NO_TRACE_EXPORT, TraceExport
from workflows.contracts.agents import AgentConfig
from workflows.contracts.delegation import (
    DELEGATE_TOOL,
    CloseChildRequest,
    OpenChildRequest,
    OpenChildResult,
)
from workflows.contracts.lifecycle import TASK_MISSING
from workflows.contracts.tasks import TaskStatus, workflow_id_for_task
from workflows.contracts.tool_calls import ToolCallResult


class DelegationActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        agents: Mapping[str, AgentConfig],
        budget_limits: Mapping[str, float],
        trace: TraceExport = NO_TRACE_EXPORT,
        skills: SkillSelector | None = None,
    ) -> None:
        """`agents`: every agent as its spec reads (services/agent_specs.py), by name;
        `budget_limits`: the settings' limits, under a tenant's own; `trace` is told of each
        delegation's result; `skills` chooses skills for a child whose agent lets it."""
        self._sessions = session_factory
        self._agents = agents
        self._limits = dict(budget_limits)
        self._trace = trace
        self._skills = skills

    @activity.defn
    async def open_child(self, request: OpenChildRequest) -> OpenChildResult:
        """Store the child's task (once: a retry finds it) in its parent's tenant."""
        agent = self._agents.get(request.agent)
        if agent is None:
            raise ApplicationError(f"agent {request.agent!r} is unknown to this worker")
        if self._skills is not None:  # the same choice on a retry: it depends on the input
            agent = await self._skills.apply(agent, request.instructions)
        child_id = uuid.UUID(request.child_task_id)
        async with self._sessions.begin() as session:
            parent = await session.get(Task, uuid.UUID(request.parent_task_id))
            if parent is None:
                raise ApplicationError(
                    f"task {request.parent_task_id} does not exist",
                    type=TASK_MISSING,
                    non_retryable=True,
                )
            limits = {**self._limits, **await TenantRepository(session).budget_limits(
                parent.tenant_id)}  # fmt: skip
            # a sub-agent answers once: it never waits for a next message
            agent = agent.model_copy(
                update={"budgets": agent.budgets.capped(limits), "idle_timeout_seconds": None}
            )
            if await session.get(Task, child_id) is None:
                await TaskRepository(session).create(
                    NewTask(
                        id=child_id,
                        tenant_id=parent.tenant_id,
                        agent=request.agent,
                        input=request.instructions,
                        metadata={},
                        workflow_id=workflow_id_for_task(request.child_task_id),
                        priority=parent.priority,
                        budgets=agent.budgets.model_dump(),
                        parent_task_id=parent.id,
                        model=agent.model,
                        agent_version=agent.version,
                        skills_used=[use.model_dump() for use in agent.skills],
                    )
                )
                queued = TaskStatus.queued
                await EventRepository(session).add(
                    child_id, status_step(queued), status_event(queued)
                )
        return OpenChildResult(agent=agent, priority=parent.priority)

    @activity.defn
    async def close_child(self, request: CloseChildRequest) -> ToolCallResult:
        """The delegate call's tool result: the child's answer, or why there is none."""
        is_error = request.error is not None
        content = f"{ERROR_PREFIX}{request.error}" if is_error else request.output or ""
        task_id = uuid.UUID(request.parent_task_id)
        step_key = f"tool:{request.iteration}:{request.call_id}"
        async with self._sessions.begin() as session:
            counters = StepCounters(tool_calls=1)
            if request.child_task_id is not None:
                child = await session.get(Task, uuid.UUID(request.child_task_id))
                if child is not None:  # the child's usage (its own children's within) rolls up
                    counters.llm_calls = child.llm_calls
                    counters.tool_calls += child.tool_calls
                    counters.prompt_tokens = child.prompt_tokens
                    counters.completion_tokens = child.completion_tokens
                    counters.cost_usd = float(child.cost_usd)
            row = await StepRepository(session).record(
                task_id,
                step_key,
                NewMessage("tool", content, tool_call_id=request.call_id, name=DELEGATE_TOOL),
                NewEvent(
                    "delegation",
                    {
                        "iteration": request.iteration,
                        "call_id": request.call_id,
                        "agent": request.agent,
                        "child_task_id": request.child_task_id,
                        "status": request.status.value if request.status else None,
                        "result": content[:2000],
                        "is_error": is_error,
                    },
                ),
                counters,
            )
        self._trace.delegation(request, content)
        return ToolCallResult(
            message_id=row.id,
            is_error=is_error,
            digest=result_digest(DELEGATE_TOOL, row.content or ""),
        )
