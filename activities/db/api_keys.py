"""API keys, looked up by hash; the plaintext is never stored (services/key_service.py makes
and hashes keys)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import ApiKey, Tenant

# a key's last use is written at most this often (every request would be a write)
LAST_USED_RESOLUTION = timedelta(minutes=1)

# built once: every request runs it, and building it costs more than Postgres takes to answer
_FIND_ACTIVE = select(ApiKey).where(
    ApiKey.key_hash == bindparam("key_hash"),
    ApiKey.revoked_at.is_(None),
    or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()),
)


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_active(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, unless it is revoked or expired."""
        found = await self._session.execute(_FIND_ACTIVE, {"key_hash": key_hash})
        return found.scalar_one_or_none()

    async def create(
        self,
        *,
        tenant_id: uuid.UUID,
        name: str,
        prefix: str,
        key_hash: str,
        role: str,
        expires_at: datetime | None = None,
    ) -> ApiKey:
        key = ApiKey(
            tenant_id=tenant_id, name=name, prefix=prefix, key_hash=key_hash, role=role,
            expires_at=expires_at,
        )  # fmt: skip
        self._session.add(key)
        await self._session.flush()
        return key

    async def list_keys(self, tenant_id: uuid.UUID | None = None) -> list[tuple[ApiKey, str]]:
        """Keys with their tenant's name, newest first; every tenant's when `tenant_id` is None."""
        statement = select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id)
        if tenant_id is not None:
            statement = statement.where(ApiKey.tenant_id == tenant_id)
        rows = await self._session.execute(statement.order_by(ApiKey.created_at.desc()))
        return [(key, tenant) for key, tenant in rows.all()]

    async def revoke(self, key_id: uuid.UUID, tenant_id: uuid.UUID | None = None) -> ApiKey | None:
        """Revoke the key (at once: every request looks its key up); None when there is no such
        key (in that tenant). A key revoked before keeps its first revocation time."""
        statement = select(ApiKey).where(ApiKey.id == key_id).with_for_update()
        if tenant_id is not None:
            statement = statement.where(ApiKey.tenant_id == tenant_id)
        key = (await self._session.execute(statement)).scalar_one_or_none()
        if key is not None and key.revoked_at is None:
            key.revoked_at = datetime.now(UTC)
            await self._session.flush()
        return key

    async def note_use(self, key_id: uuid.UUID) -> None:
        """Record that the key was used now, unless that was recorded less than a minute ago."""
        await self._session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(
                    ApiKey.last_used_at.is_(None),
                    ApiKey.last_used_at < func.now() - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=func.now())
        )
