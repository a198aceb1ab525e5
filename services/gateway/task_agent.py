"""The config a submitted task runs with: its agent's current version or the one the submit
pins, on the model group the submit names, with the skills chosen for its input."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from activities.skills.selection import SkillSelector
from services.agent_catalog import AgentCatalog
from services.gateway.agent_versions import pinned_config
from services.gateway.schemas.tasks import TaskCreate
from services.gateway.submission import resolve_agent
from services.gateway.task_model import config_on_model
from workflows.contracts.agents import AgentConfig


async def task_agent(
    session: AsyncSession, catalog: AgentCatalog, skills: SkillSelector, body: TaskCreate
) -> AgentConfig:
    """ProblemError 422 for an unknown agent, version or model group."""
    agent, spec = resolve_agent(catalog, body.agent), catalog.get(body.agent)
    if body.agent_version is not None:
        spec, agent = await pinned_config(session, catalog, body.agent, body.agent_version)
    agent = config_on_model(catalog, agent, body.model, spec)
    return await skills.apply(agent, body.input)
