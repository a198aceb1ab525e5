"""API keys, looked up by hash; the plaintext is never stored (services/key_service.py makes
and hashes keys)."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import ApiKey

# built once: every request runs it, and building it costs more than Postgres takes to answer
_FIND_ACTIVE = select(ApiKey).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
)


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_active(self, key_hash: str) -> ApiKey | None:
        found = await self._session.execute(_FIND_ACTIVE, {"key_hash": key_hash})
        return found.scalar_one_or_none()

    async def create(
        self, *, tenant_id: uuid.UUID, name: str, prefix: str, key_hash: str, role: str
    ) -> ApiKey:
        key = ApiKey(tenant_id=tenant_id, name=name, prefix=prefix, key_hash=key_hash, role=role)
        self._session.add(key)
        await self._session.flush()
        return key
