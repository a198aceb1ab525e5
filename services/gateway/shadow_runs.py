"""Starting a live task's shadow (README, Shadow runs).

Which live tasks are shadowed is decided here, at submit, by a hash of the task id against the
spec's `shadow.share`: the same task is always chosen or always not. The shadow starts after
the live task is stored and started and its submit answered (a background task of the
response), on the shadow agent's pool at the lowest priority, outside its tenant's cap, with
its calls' side effects, approvals and delegations dry-run by the workflow. Whatever fails here
is logged and forgotten: the live task never waits for, or hears of, its shadow.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import Priority, WorkflowIDReusePolicy

from activities.db.events import EventRepository, status_event, status_step
from activities.db.tasks import NewTask, TaskRepository
from activities.db.tenants import TenantRepository
from activities.db.workspace_files import WorkspaceFileRepository
from activities.skills.selection import SkillSelector
from services.agent_catalog import AgentCatalog
from services.gateway.task_limits import effective_budgets
from services.settings import Settings
from workflows.contracts.shadow import SHADOW_PRIORITY
from workflows.contracts.tasks import (
    AGENT_TASK_WORKFLOW,
    AgentTaskInput,
    TaskStatus,
    task_queue_for_pool,
    workflow_id_for_task,
)

logger = logging.getLogger(__name__)


def is_shadowed(task_id: uuid.UUID, shadow_agent: str, share: float) -> bool:
    """Whether the task is among the `share` of its agent's tasks that `shadow_agent` shadows:
    the first 8 bytes of sha256("<shadow agent>:<task id>") read as a fraction of 2**64, below
    `share`. Deterministic per task; another shadow agent picks another sample."""
    digest = hashlib.sha256(f"{shadow_agent}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True)
class LiveTask:
    """What the shadow copies of its live task (plain values: the request's session is gone
    by the time the shadow starts)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    agent: str
    input: str
    metadata: dict[str, Any]
    files: dict[str, str] | None = None  # the workspace it started with: the shadow's too


def shadow_agent_for(catalog: AgentCatalog, live: LiveTask) -> str | None:
    """The agent that shadows this task, or None when the task is not shadowed."""
    spec = catalog.get(live.agent)
    shadow = spec.shadow if spec is not None else None
    if shadow is None or not is_shadowed(live.id, shadow.agent, shadow.share):
        return None
    return shadow.agent


async def start_shadow(
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    catalog: AgentCatalog,
    settings: Settings,
    live: LiveTask,
    skills: SkillSelector | None = None,
) -> None:
    """Store and start the shadow of `live`, if it is shadowed (with the skills chosen for
    its input, when its agent chooses); never raises."""
    name = shadow_agent_for(catalog, live)
    agent = catalog.config(name) if name is not None else None
    if name is None or agent is None:
        return
    task_id = uuid.uuid4()
    try:
        if skills is not None:
            agent = await skills.apply(agent, live.input)
        async with sessions() as session:
            limits = {**settings.task_budget_limits}
            limits.update(await TenantRepository(session).budget_limits(live.tenant_id))
            budgets = effective_budgets(agent.budgets, None, limits)
            # it ends at its first answer: no user will ever write to a shadow
            agent = agent.model_copy(update={"budgets": budgets, "idle_timeout_seconds": None})
            new = NewTask(
                id=task_id,
                tenant_id=live.tenant_id,
                agent=name,
                input=live.input,
                metadata=live.metadata,
                workflow_id=workflow_id_for_task(str(task_id)),
                priority=SHADOW_PRIORITY,
                budgets=agent.budgets.model_dump(),
                model=agent.model,
                agent_version=agent.version,
                skills_used=[use.model_dump() for use in agent.skills],
                shadow_of=live.id,
            )
            await TaskRepository(session).create(new)
            queued = TaskStatus.queued
            await EventRepository(session).add(task_id, status_step(queued), status_event(queued))
            await WorkspaceFileRepository(session).put_all(task_id, live.files or {})
            await session.commit()
    except Exception:
        logger.exception("storing the shadow of task %s failed; it runs unshadowed", live.id)
        return
    try:
        await client.start_workflow(
            AGENT_TASK_WORKFLOW,
            AgentTaskInput(
                task_id=str(task_id),
                agent=agent,
                priority=SHADOW_PRIORITY,
                admission=None,  # outside the tenant's cap: it begins at once
                shadow_of=str(live.id),
            ),
            id=workflow_id_for_task(str(task_id)),
            task_queue=task_queue_for_pool(agent.pool),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            priority=Priority(priority_key=SHADOW_PRIORITY, fairness_key=str(live.tenant_id)),
        )
    except Exception:
        logger.exception("starting the shadow of task %s failed; it runs unshadowed", live.id)
        try:
            async with sessions() as session:
                await TaskRepository(session).delete_unstarted(task_id)
                await session.commit()
        except Exception:
            logger.warning("removing the unstarted shadow task %s failed", task_id)
