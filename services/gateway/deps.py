"""Request dependencies: who is calling and what it may do, the caller's task or approval, and
the clients the lifespan (app.py) opened once and put on `app.state`. Routes ask for each
through the `Annotated` aliases here, so a test can override any one of them
(`app.dependency_overrides[get_temporal_client]`).

Every dependency is `async def`: FastAPI runs a plain `def` dependency in its thread pool."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.db.api_keys import LAST_USED_RESOLUTION, ApiKeyRepository
from activities.db.approvals import ApprovalRepository
from activities.db.decisions import DecisionRepository
from activities.db.models import ApiKey, Approval, Task
from activities.db.tasks import TaskRepository
from activities.skills.selection import SkillSelector
from activities.token_counts import TokenCounter
from activities.tools.catalog import ToolCatalog
from services.agent_catalog import AgentCatalog
from services.gateway.decision_outbox import DecisionOutbox
from services.gateway.errors import ProblemError
from services.gateway.task_feed import TaskFeed
from services.key_service import hash_api_key
from services.pools.catalog import PoolCatalog
from services.roles import Role
from services.settings import Settings


def app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency answering what the lifespan put on `app.state.<name>`."""

    async def from_app_state(request: Request) -> Any:
        return getattr(request.app.state, name)

    return from_app_state


get_settings = app_state("settings")
get_session_factory = app_state("session_factory")
get_decision_repository = app_state("decision_repository")
get_temporal_client = app_state("temporal_client")
get_agent_catalog = app_state("agent_catalog")
get_tool_catalog = app_state("tool_catalog")
get_pool_catalog = app_state("pool_catalog")
get_decision_outbox = app_state("decision_outbox")
get_token_counter = app_state("token_counter")
get_skill_selector = app_state("skill_selector")

SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionFactoryDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_session_factory)]
DecisionRepositoryDep = Annotated[DecisionRepository, Depends(get_decision_repository)]
TemporalDep = Annotated[Client, Depends(get_temporal_client)]
AgentCatalogDep = Annotated[AgentCatalog, Depends(get_agent_catalog)]
ToolCatalogDep = Annotated[ToolCatalog, Depends(get_tool_catalog)]
PoolCatalogDep = Annotated[PoolCatalog, Depends(get_pool_catalog)]
DecisionOutboxDep = Annotated[DecisionOutbox, Depends(get_decision_outbox)]
TokenCounterDep = Annotated[TokenCounter | None, Depends(get_token_counter)]
SkillSelectorDep = Annotated[SkillSelector, Depends(get_skill_selector)]


async def get_session(factory: SessionFactoryDep) -> AsyncIterator[AsyncSession]:
    async with factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_task_feed(request: Request) -> TaskFeed:
    feed: TaskFeed = request.app.state.task_feed
    return feed


TaskFeedDep = Annotated[TaskFeed, Depends(get_task_feed)]


# --- who is calling -------------------------------------------------------------------------

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key: `Authorization: Bearer agk_...` (create one with `agentry`).",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant owning the key, the key, and its role."""

    tenant_id: uuid.UUID
    api_key_id: uuid.UUID
    api_key_name: str
    role: Role
    use_noted: bool = True  # the key's last use was written within the last minute


def bearer_key_hash(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The hash a key is stored under; a 401 when the request carries none."""
    if credentials is None:
        raise ProblemError(
            401,
            "missing API key: send 'Authorization: Bearer <key>'",
            kind="unauthenticated",
            headers=_UNAUTHORIZED,
        )
    return hash_api_key(credentials.credentials)


def principal_of(key: ApiKey | None) -> Principal:
    """The principal of a key found by its hash; a 401 when none was found."""
    if key is None:
        raise ProblemError(
            401,
            "the API key is not valid or was revoked",
            kind="unauthenticated",
            headers=_UNAUTHORIZED,
        )
    noted = key.last_used_at is not None and (
        datetime.now(UTC) - key.last_used_at < LAST_USED_RESOLUTION
    )
    return Principal(
        tenant_id=key.tenant_id,
        api_key_id=key.id,
        api_key_name=key.name,
        role=Role(key.role),
        use_noted=noted,
    )


async def find_principal(session: AsyncSession, key_hash: str) -> Principal:
    """The principal of the active key with this hash; a 401 when there is none."""
    return principal_of(await ApiKeyRepository(session).find_active(key_hash))


async def note_key_use(factory: async_sessionmaker[AsyncSession], principal: Principal) -> None:
    """Write the key's last use (at most once a minute per key)."""
    if not principal.use_noted:
        async with factory.begin() as session:
            await ApiKeyRepository(session).note_use(principal.api_key_id)


async def get_principal(
    request: Request, session: SessionDep, factory: SessionFactoryDep, credentials: BearerDep
) -> Principal:
    """The caller; a request with a body was authenticated already (request_guard.py)."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    principal = await find_principal(session, bearer_key_hash(credentials))
    await note_key_use(factory, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]

# What each role may do; reading tasks and approvals needs only a valid key.
TASK_WRITER_ROLES = (Role.submitter, Role.operator, Role.admin)
APPROVER_ROLES = (Role.approver, Role.admin)
PLATFORM_ROLES = (Role.platform_operator,)
KEY_ADMIN_ROLES = (Role.admin,)
DECIDE_ACTION = "decide approvals"


def check_role(principal: Principal, action: str, roles: tuple[Role, ...]) -> Principal:
    """The principal if its role is one of `roles`, else a 403 naming them."""
    if principal.role not in roles:
        allowed = [role.value for role in roles]
        raise ProblemError(
            403,
            f"an API key with role {principal.role.value!r} may not {action}; "
            f"allowed roles: {', '.join(allowed)}",
            kind="forbidden-role",
            extra={"role": principal.role.value, "allowed_roles": allowed},
        )
    return principal


def require_role(action: str, *roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only keys with one of `roles`; others get a 403 naming them."""

    async def check(principal: PrincipalDep) -> Principal:
        return check_role(principal, action, roles)

    return check


TaskWriterDep = Annotated[
    Principal, Depends(require_role("submit, cancel or message tasks", *TASK_WRITER_ROLES))
]
PlatformOperatorDep = Annotated[
    Principal,
    Depends(require_role("watch or scale the shared worker pools", *PLATFORM_ROLES)),
]
KeyAdminDep = Annotated[Principal, Depends(require_role("manage API keys", *KEY_ADMIN_ROLES))]


# --- the caller's task or approval ----------------------------------------------------------


def parse_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def get_owned_task(
    task_id: Annotated[str, Path(description="The task's id, as returned on submit.")],
    principal: PrincipalDep,
    session: SessionDep,
) -> Task:
    """The caller's task; a malformed id, an unknown one and another tenant's all read 404."""
    parsed = parse_uuid(task_id)
    task = await TaskRepository(session).get(principal.tenant_id, parsed) if parsed else None
    if task is None:
        raise ProblemError(404, f"task {task_id} not found", kind="task-not-found")
    return task


OwnedTaskDep = Annotated[Task, Depends(get_owned_task)]


ApprovalIdPath = Annotated[str, Path(description="The approval's id.")]


def approval_not_found(approval_id: object) -> ProblemError:
    return ProblemError(404, f"approval {approval_id} not found", kind="approval-not-found")


async def find_owned_approval(
    session: AsyncSession, tenant_id: uuid.UUID, approval_id: str
) -> Approval:
    """The tenant's approval; a malformed id, an unknown one and another tenant's all read 404."""
    parsed = parse_uuid(approval_id)
    approval = await ApprovalRepository(session).get(tenant_id, parsed) if parsed else None
    if approval is None:
        raise approval_not_found(approval_id)
    return approval


async def get_owned_approval(
    approval_id: ApprovalIdPath, principal: PrincipalDep, session: SessionDep
) -> Approval:
    return await find_owned_approval(session, principal.tenant_id, approval_id)


OwnedApprovalDep = Annotated[Approval, Depends(get_owned_approval)]
