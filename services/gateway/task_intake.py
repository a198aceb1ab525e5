"""Taking in a new task: the checks and the submit that POST /v1/tasks and the OpenAI-shaped
doors (POST /v1/responses, POST /v1/chat/completions) share, so a task comes out the same
whichever door it came in by."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import BackgroundTasks, Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.db.models import Task
from activities.skills.selection import SkillSelector
from activities.token_counts import TokenCounter
from services.agent_catalog import AgentCatalog
from services.gateway.deps import (
    AgentCatalogDep,
    PoolCatalogDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
    SkillSelectorDep,
    TemporalDep,
    TokenCounterDep,
)
from services.gateway.schemas.tasks import TaskCreate
from services.gateway.shadow_runs import LiveTask, start_shadow
from services.gateway.submission import Submission, check_sizes, submit_task
from services.gateway.task_agent import task_agent
from services.gateway.task_limits import check_input_fits
from services.pools.catalog import PoolCatalog
from services.settings import Settings
from workflows.contracts.agents import AgentConfig
from workflows.contracts.tasks import PRIORITY_DEFAULT

INSTRUCTIONS_HEADING = "# Instructions from the user"


@dataclass(frozen=True)
class Intake:
    """What taking in a task needs of the gateway."""

    session: AsyncSession
    sessions: async_sessionmaker[AsyncSession]
    client: Client
    catalog: AgentCatalog
    skills: SkillSelector
    pools: PoolCatalog
    settings: Settings
    tokens: TokenCounter | None
    background: BackgroundTasks


async def get_intake(
    session: SessionDep,
    sessions: SessionFactoryDep,
    client: TemporalDep,
    catalog: AgentCatalogDep,
    skills: SkillSelectorDep,
    pools: PoolCatalogDep,
    settings: SettingsDep,
    tokens: TokenCounterDep,
    background: BackgroundTasks,
) -> Intake:
    return Intake(session, sessions, client, catalog, skills, pools, settings, tokens, background)


IntakeDep = Annotated[Intake, Depends(get_intake)]


async def accept_task(
    intake: Intake,
    tenant_id: uuid.UUID,
    body: TaskCreate,
    *,
    idempotency_key: str | None = None,
    instructions: str | None = None,
) -> tuple[Task, bool]:
    """Check, store and start the task; (the task, whether it is new). `instructions` are the
    caller's, added after the agent's system prompt, never instead of it. Raises ProblemError
    for what is wrong with the request."""
    metadata = body.metadata or {}
    check_sizes(body.input, metadata, intake.settings, body.files)
    agent = with_instructions(
        await task_agent(intake.session, intake.catalog, intake.skills, body), instructions
    )
    await check_input_fits(intake.tokens, agent, body.input)
    pool = intake.pools.get(agent.pool)
    priority = body.priority
    if priority is None:
        priority = pool.priority if pool is not None else PRIORITY_DEFAULT
    submission = Submission(
        tenant_id=tenant_id,
        agent=body.agent,
        input=body.input,
        metadata=metadata,
        idempotency_key=idempotency_key,
        priority=priority,
        priority_given=body.priority is not None,
        budgets=body.budgets,
        model=body.model,
        files=body.files,
        agent_version=body.agent_version,
    )
    task, created = await submit_task(
        intake.session, intake.client, agent, submission, intake.settings
    )
    if created:  # its shadow, if it has one, starts once the answer is sent
        live = LiveTask(
            task.id, task.tenant_id, task.agent, task.input, task.task_metadata, body.files
        )
        intake.background.add_task(
            start_shadow,
            intake.sessions,
            intake.client,
            intake.catalog,
            intake.settings,
            live,
            intake.skills,
        )
    return task, created


def with_instructions(agent: AgentConfig, instructions: str | None) -> AgentConfig:
    if not instructions or not instructions.strip():
        return agent
    prompt = f"{agent.system_prompt.rstrip()}\n\n{INSTRUCTIONS_HEADING}\n\n{instructions.strip()}"
    return agent.model_copy(update={"system_prompt": prompt})
