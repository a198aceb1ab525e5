"""Bodies of /v1/agents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.agent_specs import AgentSpec


class AgentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "assistant",
                    "description": "Answers questions.",
                    "tools": ["calculator", "current_time"],
                    "pool": "default",
                    "model": "agent-default",
                }
            ]
        }
    )

    name: str
    description: str
    tools: list[str]
    pool: str = Field(description="The worker pool that runs this agent's tasks.")
    model: str = Field(description="Model name routed by the LLM gateway.")

    @classmethod
    def from_spec(cls, spec: AgentSpec) -> AgentOut:
        return cls(
            name=spec.name,
            description=spec.description,
            tools=list(spec.tools),
            pool=spec.pool,
            model=spec.model,
        )


class AgentList(BaseModel):
    items: list[AgentOut] = Field(description="Agents, by name.")
