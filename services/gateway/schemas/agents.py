"""Bodies of /v1/agents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from activities.db.agent_versions import AgentVersion
from services.agent_specs import AgentSpec
from workflows.contracts.agents import AgentConfig
from workflows.contracts.budgets import Budgets
from workflows.contracts.memory import ContextBudget, MemoryConfig


class AgentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "assistant",
                    "version": 1,
                    "role": "general assistant",
                    "description": "Answers questions.",
                    "tools": ["calculator", "current_time"],
                    "pool": "default",
                    "model": "agent-default",
                }
            ]
        }
    )

    name: str
    version: int = Field(description="The version of its spec new tasks run with.")
    role: str = Field(default="", description="What the agent is, in a line.")
    description: str
    tools: list[str]
    pool: str = Field(description="The worker pool that runs this agent's tasks.")
    model: str = Field(description="Model name routed by the LLM gateway.")
    sub_agents: list[str] = Field(
        default_factory=list, description="Agents this one may hand work to (`delegate`)."
    )
    context: ContextBudget | None = Field(
        default=None,
        description="What one request to its model may hold: the context window and the "
        "tokens kept for the reply. An input that cannot fit is refused at submit.",
    )
    memory: MemoryConfig | None = Field(
        default=None,
        description="When older turns are summarised (prompt tokens), by which model, and how "
        "many recent turns stay verbatim; null: never.",
    )
    budgets: Budgets = Field(
        default_factory=Budgets,
        description="Its tasks' default budgets (null: the tenant's limit applies).",
    )

    @classmethod
    def from_spec(cls, spec: AgentSpec, config: AgentConfig | None = None) -> AgentOut:
        return cls(
            name=spec.name,
            version=spec.version,
            role=spec.role,
            description=spec.description,
            tools=list(spec.tools),
            pool=spec.pool,
            model=spec.model,
            sub_agents=list(spec.sub_agents),
            context=config.context if config else None,
            memory=config.memory if config else None,
            budgets=config.budgets if config else Budgets(),
        )


class AgentList(BaseModel):
    items: list[AgentOut] = Field(description="Agents, by name.")


class AgentVersionOut(BaseModel):
    version: int
    recorded_at: datetime = Field(description="When a gateway first loaded this version.")
    digest: str = Field(description="sha256 of the version's spec as canonical JSON.")
    current: bool = Field(description="Whether new tasks run this version.")

    @classmethod
    def from_row(cls, row: AgentVersion, current: int) -> AgentVersionOut:
        return cls(
            version=row.version,
            recorded_at=row.recorded_at,
            digest=row.digest,
            current=row.version == current,
        )


class AgentDetail(AgentOut):
    spec: dict[str, Any] = Field(
        description="The whole spec of the current version, every field with its value."
    )
    versions: list[AgentVersionOut] = Field(
        description="Every recorded version, newest first; a submit may pin any of them "
        "(`agent_version`)."
    )


class AgentVersionSpec(BaseModel):
    name: str
    version: int
    recorded_at: datetime
    digest: str
    spec: dict[str, Any] = Field(description="The whole spec of this version.")

    @classmethod
    def from_row(cls, row: AgentVersion) -> AgentVersionSpec:
        return cls(
            name=row.agent,
            version=row.version,
            recorded_at=row.recorded_at,
            digest=row.digest,
            spec=row.spec,
        )
