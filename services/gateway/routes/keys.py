"""/v1/keys: a tenant's admins list, create and revoke the tenant's API keys. A revoked or
expired key is refused from its next request on (every request looks its key up)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from activities.db.api_keys import ApiKeyRepository
from services.gateway.deps import (
    APPROVER_ROLES,
    KEY_ADMIN_ROLES,
    PLATFORM_ROLES,
    TASK_WRITER_ROLES,
    KeyAdminDep,
    PrincipalDep,
    SessionDep,
    parse_uuid,
)
from services.gateway.errors import ProblemError, problem_responses
from services.gateway.schemas.keys import (
    KeyAbilities,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    KeySelf,
)
from services.key_service import issue_key
from services.roles import Role

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=problem_responses(401, 403))


@router.get("/self", summary="The calling key")
async def key_self(principal: PrincipalDep) -> KeySelf:
    """The key the request carries: its name, role, tenant and what the role allows; any
    valid key may ask (the console shows what the key may do from this)."""
    role = principal.role
    return KeySelf(
        id=principal.api_key_id,
        name=principal.api_key_name,
        role=role,
        tenant_id=principal.tenant_id,
        can=KeyAbilities(
            submit=role in TASK_WRITER_ROLES,
            decide=role in APPROVER_ROLES,
            watch_pools=role in PLATFORM_ROLES,
            manage_keys=role in KEY_ADMIN_ROLES,
        ),
    )


@router.get("", summary="List the tenant's API keys")
async def list_keys(principal: KeyAdminDep, session: SessionDep) -> KeyList:
    """Every key of the caller's tenant, newest first, revoked ones included; needs `admin`."""
    rows = await ApiKeyRepository(session).list_keys(principal.tenant_id)
    return KeyList(items=[KeyOut.of(key) for key, _ in rows])


@router.post("", status_code=201, summary="Create an API key", responses=problem_responses(422))
async def create_key(body: KeyCreate, principal: KeyAdminDep, session: SessionDep) -> KeyCreated:
    """A new key in the caller's tenant; the answer holds the key itself, once. Needs `admin`."""
    if body.role is Role.platform_operator:
        raise ProblemError(
            403,
            "a tenant admin cannot make platform-operator keys; the platform makes them with "
            "`agentry keys create --role platform-operator`",
            kind="forbidden-role",
        )
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise ProblemError(422, "expires_at is in the past", kind="validation")
    row, plaintext = await issue_key(
        session, principal.tenant_id, body.role, body.name, body.expires_at
    )
    await session.commit()
    return KeyCreated(**KeyOut.of(row).model_dump(), key=plaintext)


@router.delete("/{key_id}", summary="Revoke an API key", responses=problem_responses(404))
async def revoke_key(
    key_id: Annotated[str, Path(description="The key's id (see GET /v1/keys).")],
    principal: KeyAdminDep,
    session: SessionDep,
) -> KeyOut:
    """The key stops working from its next request; revoking it again changes nothing."""
    parsed = parse_uuid(key_id)
    key = await ApiKeyRepository(session).revoke(parsed, principal.tenant_id) if parsed else None
    if key is None:
        raise ProblemError(404, f"key {key_id} not found", kind="key-not-found")
    await session.commit()
    return KeyOut.of(key)
