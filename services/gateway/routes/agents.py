"""/v1/agents: the agents a task may name, as loaded from the spec directory at start, each
one's spec and recorded versions, and its shadow runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from activities.db.agent_versions import AgentVersionRepository
from activities.db.shadow_runs import ShadowRunRepository
from services.agent_catalog import AgentCatalog
from services.agent_specs import AgentSpec
from services.gateway.agent_versions import spec_content
from services.gateway.cursors import encode_cursor, page_start
from services.gateway.deps import AgentCatalogDep, PrincipalDep, SessionDep
from services.gateway.errors import ProblemError, problem_responses
from services.gateway.schemas.agents import (
    AgentDetail,
    AgentList,
    AgentOut,
    AgentVersionOut,
    AgentVersionSpec,
)
from services.gateway.schemas.shadow_runs import ShadowComparisonOut, ShadowSummaryOut

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


def _known(catalog: AgentCatalog, name: str) -> AgentSpec:
    spec = catalog.get(name)
    if spec is None:
        raise ProblemError(
            404,
            f"unknown agent {name!r}; available agents: {', '.join(catalog.names()) or '(none)'}",
            kind="unknown-agent",
            extra={"available_agents": catalog.names()},
        )
    return spec


@router.get("/{name}", summary="Show an agent", responses=problem_responses(404))
async def get_agent(
    name: str, catalog: AgentCatalogDep, principal: PrincipalDep, session: SessionDep
) -> AgentDetail:
    """The agent's whole current spec, what its tasks run with, and every recorded version of
    its spec (newest first), any of which a submit may pin with `agent_version`."""
    spec = _known(catalog, name)
    listed = AgentOut.from_spec(spec, catalog.config(name))
    rows = await AgentVersionRepository(session).versions(name)
    return AgentDetail(
        **listed.model_dump(),
        spec=shown(spec_content(spec)[0]),
        versions=[AgentVersionOut.from_row(row, spec.version) for row in rows],
    )


@router.get(
    "/{name}/versions/{version}",
    summary="Show one version of an agent's spec",
    responses=problem_responses(404),
)
async def get_agent_version(
    name: str,
    version: Annotated[int, Path(ge=1, le=1_000_000, description="A recorded version.")],
    catalog: AgentCatalogDep,
    principal: PrincipalDep,
    session: SessionDep,
) -> AgentVersionSpec:
    """One recorded version of the agent's spec, whole, as a gateway first loaded it."""
    _known(catalog, name)
    row = await AgentVersionRepository(session).get(name, version)
    if row is None:
        raise ProblemError(
            404, f"agent {name!r} has no version {version}", kind="unknown-agent-version"
        )
    version_spec = AgentVersionSpec.from_row(row)
    version_spec.spec = shown(version_spec.spec)
    return version_spec


def shown(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec as any key of the tenant may see it: a webhook URL may be a secret."""
    return {**spec, "webhook_url": "(set)"} if spec.get("webhook_url") else spec


@router.get(
    "/{name}/shadow",
    summary="Compare an agent with its shadow",
    responses=problem_responses(400, 404, 422),
)
async def agent_shadow(
    name: str,
    catalog: AgentCatalogDep,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Comparisons per page.")] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> ShadowSummaryOut:
    """How the agent's shadow (`shadow:` in its spec) did on the share of this tenant's tasks
    it also ran: how many were compared (live task and shadow both finished), how often the
    answers (whitespace aside) and the tool sequences were the same, the mean model calls and
    tokens of each side, and the most recent comparisons, newest first, paged by `cursor`.
    The summary covers the shadow agent the spec names now (every comparison when none)."""
    spec = _known(catalog, name)
    after = page_start(cursor)
    shadow = (spec.shadow.agent, spec.shadow.share) if spec.shadow else None
    runs = ShadowRunRepository(session)
    shadow_agent = shadow[0] if shadow else None
    summary = await runs.summary(principal.tenant_id, name, shadow_agent)
    page = await runs.page(principal.tenant_id, name, shadow_agent, limit=limit, after=after)
    items = [ShadowComparisonOut.from_row(row) for row in page.items]
    next_cursor = encode_cursor(page.next_key) if page.next_key else None
    return ShadowSummaryOut.build(name, shadow, summary, items, next_cursor)
