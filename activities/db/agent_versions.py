"""Agent spec versions: the content of each version of each agent's spec, recorded the first
time a gateway loads it. A version's content never changes after that, so a task pinned to a
version runs what that version said, and `GET /v1/agents/{name}` can list them all.
In models.Base's metadata (activities/db/__init__.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from activities.db.models import Base


class AgentVersion(Base):
    __tablename__ = "agent_versions"

    agent: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the validated spec, as JSON
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of its canonical JSON
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AgentVersionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self, agent: str, version: int, spec: dict[str, Any], digest: str
    ) -> AgentVersion:
        """The stored row of (agent, version): this content when it is new, else what was
        recorded first (two gateways starting at once agree on one row)."""
        statement = (
            insert(AgentVersion)
            .values(agent=agent, version=version, spec=spec, digest=digest)
            .on_conflict_do_nothing(index_elements=["agent", "version"])
        )
        await self._session.execute(statement)
        row = await self.get(agent, version)
        assert row is not None  # inserted above, or already there
        return row

    async def get(self, agent: str, version: int) -> AgentVersion | None:
        return await self._session.get(AgentVersion, (agent, version), populate_existing=True)

    async def versions(self, agent: str) -> list[AgentVersion]:
        """Every recorded version of the agent, newest first."""
        statement = (
            select(AgentVersion)
            .where(AgentVersion.agent == agent)
            .order_by(AgentVersion.version.desc())
        )
        return list((await self._session.scalars(statement)).all())
