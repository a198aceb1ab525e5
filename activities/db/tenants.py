"""Tenants: who owns API keys and tasks; created on first use by name."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
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

    async def find(self, name: str) -> Tenant | None:
        return (
            await self._session.execute(select(Tenant).where(Tenant.name == name))
        ).scalar_one_or_none()

    async def name_of(self, tenant_id: uuid.UUID) -> str:
        return (await self._session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))) or ""

    async def budget_limits(self, tenant_id: uuid.UUID) -> dict[str, Any]:
        """The highest budgets the tenant's submits may ask for; empty: the settings'."""
        limits = await self._session.scalar(
            select(Tenant.budget_limits).where(Tenant.id == tenant_id)
        )
        return dict(limits or {})

    async def set_budget_limits(self, name: str, limits: dict[str, Any] | None) -> bool:
        """Set (None: clear) a tenant's budget limits; False when there is no such tenant."""
        changed = await self._session.execute(
            update(Tenant)
            .where(Tenant.name == name)
            .values(budget_limits=limits)
            .returning(Tenant.id)
        )
        return changed.scalar_one_or_none() is not None
