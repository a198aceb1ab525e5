"""Tenants: who owns API keys and tasks; created on first use by name."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import Tenant


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_or_create(self, name: str) -> Tenant:
        """Safe under concurrent callers: the unique name decides who inserts."""
        await self._session.execute(
            insert(Tenant)
            .values(id=uuid.uuid4(), name=name)
            .on_conflict_do_nothing(index_elements=[Tenant.name])
        )
        statement = select(Tenant).where(Tenant.name == name)
        return (await self._session.execute(statement)).scalar_one()
