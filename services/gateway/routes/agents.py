"""/v1/agents: the agents a task may name, as loaded from the spec directory at start."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway.deps import AgentCatalogDep, PrincipalDep
from services.gateway.errors import problem_responses
from services.gateway.schemas.agents import AgentList, AgentOut

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses=problem_responses(401))


@router.get("", summary="List the agents")
async def list_agents(catalog: AgentCatalogDep, principal: PrincipalDep) -> AgentList:
    """The agents a task may name, with their tools, worker pool and model."""
    items = [
        AgentOut.from_spec(spec, catalog.config(name))
        for name in catalog.names()
        if (spec := catalog.get(name)) is not None
    ]
    return AgentList(items=items)
