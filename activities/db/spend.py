"""Tenants' monthly spend and its limit.

A model call of a tenant with a limit first reserves its worst-case cost (`reserve`); the
reservation is taken only while the month's spend plus every reservation in flight plus this one
stays within the limit, in one UPDATE on the tenant's month row, so however many calls race for
the last dollars, they never promise more than the limit. When the reply is recorded, the same
transaction settles the call (`settle`): the reservation goes, what the call cost is added to
the month. A call that fails gives its reservation back (`release`); a worker that dies leaves
it for the retry of the same step, which takes it over, and a task's end releases what is left.
Every tenant's calls are settled, with a limit or without, so a limit set mid-month starts from
what the month has really cost. A shadow task's calls (README, Shadow runs) neither reserve nor
settle: they never take room a live task could need; their cost stays on the shadow task.
Months are calendar months in UTC. Methods never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.models import SpendReservation, Task, Tenant, TenantSpend


@dataclass(frozen=True)
class TokenPrices:
    """A model group's prices, US dollars per token (from the LiteLLM config)."""

    input_usd: Decimal
    output_usd: Decimal


@dataclass(frozen=True)
class MonthSpend:
    month: date
    limit_usd: Decimal | None  # None: the tenant has no limit
    spent_usd: Decimal
    reserved_usd: Decimal  # promised to model calls in flight

    @property
    def reached(self) -> bool:
        """Nothing more may start: what is spent and promised already fills the limit."""
        return self.limit_usd is not None and self.spent_usd + self.reserved_usd >= self.limit_usd


@dataclass(frozen=True)
class Refusal:
    """A reservation that did not fit: the month as it stood, and what the call needed."""

    spend: MonthSpend
    needed_usd: Decimal


_RELEASE = """
    DELETE FROM spend_reservations
    WHERE task_id = :task_id AND step_key = :step_key{only_if}
    RETURNING month, amount_usd"""
_ADD = """
    INSERT INTO tenant_spend AS spend (tenant_id, month, spent_usd, reserved_usd)
    SELECT tasks.tenant_id, coalesce((SELECT month FROM released), :month), :cost, 0
    FROM tasks WHERE tasks.id = :task_id AND tasks.shadow_of IS NULL{only_if}
    ON CONFLICT (tenant_id, month) DO UPDATE SET
        spent_usd = spend.spent_usd + excluded.spent_usd,
        reserved_usd = greatest(
            spend.reserved_usd - coalesce((SELECT amount_usd FROM released), 0), 0
        )"""
_SETTLE = text(f"WITH released AS ({_RELEASE.format(only_if='')}) {_ADD.format(only_if='')}")


def settling(only_if: str) -> str:
    """The settlement as two CTEs (`released`, `settled`) of a larger statement, each
    guarded by the SQL condition `only_if` (e.g. "AND EXISTS (...)")."""
    release, add = _RELEASE.format(only_if=only_if), _ADD.format(only_if=only_if)
    return f"\n    released AS ({release}),\n    settled AS ({add})"


def current_month() -> date:
    """The first day of this calendar month in UTC: the key of a month's spend."""
    return datetime.now(UTC).date().replace(day=1)


class SpendRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def reserve(
        self, task_id: uuid.UUID, step_key: str, amount_usd: Decimal, month: date
    ) -> Refusal | None:
        """Reserve `amount_usd` for the step's model call; None when it may go ahead (also when
        the tenant has no limit, or the step already holds a reservation from an attempt that
        died), a Refusal when the month has no room for it."""
        found = (
            await self._session.execute(
                select(Task.tenant_id, Tenant.monthly_spend_limit_usd, Task.shadow_of)
                .join(Tenant, Tenant.id == Task.tenant_id)
                .where(Task.id == task_id)
            )
        ).one_or_none()
        if found is None or found.monthly_spend_limit_usd is None or found.shadow_of is not None:
            return None  # a shadow task's calls stay outside the ledger
        tenant_id, limit = found.tenant_id, found.monthly_spend_limit_usd
        taken = await self._session.execute(
            insert(SpendReservation)
            .values(
                task_id=task_id,
                step_key=step_key,
                tenant_id=tenant_id,
                month=month,
                amount_usd=amount_usd,
            )
            .on_conflict_do_nothing()
            .returning(SpendReservation.task_id)
        )
        if taken.scalar_one_or_none() is None:
            return None  # an earlier attempt of this step reserved already
        await self._session.execute(
            insert(TenantSpend).values(tenant_id=tenant_id, month=month).on_conflict_do_nothing()
        )
        room = await self._session.execute(
            update(TenantSpend)
            .where(
                TenantSpend.tenant_id == tenant_id,
                TenantSpend.month == month,
                TenantSpend.spent_usd + TenantSpend.reserved_usd + amount_usd <= limit,
            )
            .values(reserved_usd=TenantSpend.reserved_usd + amount_usd)
            .returning(TenantSpend.month)
        )
        if room.scalar_one_or_none() is not None:
            return None
        await self._forget(task_id, step_key)
        return Refusal(await self.month(tenant_id, month), amount_usd)

    async def settle(
        self, task_id: uuid.UUID, step_key: str, cost_usd: float | None, month: date
    ) -> None:
        """The step's reply is recorded: its reservation (if any) goes and its cost counts, in
        the reservation's month (`month` when it had none). Call in the recording transaction."""
        await self._session.execute(
            _SETTLE,
            {
                "task_id": task_id,
                "step_key": step_key,
                "month": month,
                "cost": Decimal(str(cost_usd or 0)),
            },
        )

    async def release(self, task_id: uuid.UUID, step_key: str | None = None) -> None:
        """Give back the step's reservation (None: every one the task still holds)."""
        statement = delete(SpendReservation).where(SpendReservation.task_id == task_id)
        if step_key is not None:
            statement = statement.where(SpendReservation.step_key == step_key)
        released = await self._session.execute(
            statement.returning(
                SpendReservation.tenant_id, SpendReservation.month, SpendReservation.amount_usd
            )
        )
        for tenant_id, month, amount in released.all():
            await self._session.execute(
                update(TenantSpend)
                .where(TenantSpend.tenant_id == tenant_id, TenantSpend.month == month)
                .values(reserved_usd=TenantSpend.reserved_usd - amount)
            )

    async def month(self, tenant_id: uuid.UUID, month: date) -> MonthSpend:
        """The tenant's limit and its month's spend, in one query."""
        row = (
            await self._session.execute(
                select(
                    Tenant.monthly_spend_limit_usd, TenantSpend.spent_usd, TenantSpend.reserved_usd
                )
                .outerjoin(
                    TenantSpend,
                    (TenantSpend.tenant_id == Tenant.id) & (TenantSpend.month == month),
                )
                .where(Tenant.id == tenant_id)
            )
        ).one_or_none()
        if row is None:  # no such tenant
            return MonthSpend(month, None, Decimal(0), Decimal(0))
        spent, reserved = row.spent_usd or Decimal(0), row.reserved_usd or Decimal(0)
        return MonthSpend(month, row.monthly_spend_limit_usd, spent, reserved)

    async def set_limit(self, tenant_name: str, limit_usd: Decimal | None) -> bool:
        """Set (None: clear) a tenant's monthly limit; False when there is no such tenant."""
        changed = await self._session.execute(
            update(Tenant)
            .where(Tenant.name == tenant_name)
            .values(monthly_spend_limit_usd=limit_usd)
            .returning(Tenant.id)
        )
        return changed.scalar_one_or_none() is not None

    async def _forget(self, task_id: uuid.UUID, step_key: str) -> None:
        await self._session.execute(
            delete(SpendReservation).where(
                SpendReservation.task_id == task_id, SpendReservation.step_key == step_key
            )
        )
