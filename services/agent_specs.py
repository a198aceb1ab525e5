"""Agent specs: YAML files in agents/, validated once and looked up by name."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from workflows.contracts import AgentConfig, ToolCallFormat

AGENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class AgentSpecError(ValueError):
    """A spec file that cannot be used; the message names the file and the field."""


class AgentSpec(BaseModel):
    name: str
    description: str = ""
    pool: str = "default"
    model: str = "agent-default"
    system_prompt: str = ""
    tools: list[str] = Field(default_factory=list)
    tool_call_format: ToolCallFormat = ToolCallFormat.text
    max_iterations: int = Field(default=8, ge=1, le=500)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1, le=32768)

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not AGENT_NAME.match(value):
            raise ValueError("must be lowercase letters, digits, '-' or '_'")
        return value

    def to_config(self) -> AgentConfig:
        return AgentConfig(**self.model_dump(exclude={"description"}))


class AgentCatalog:
    def __init__(self, specs: dict[str, AgentSpec]) -> None:
        self._specs = specs

    @classmethod
    def load(cls, directory: Path, known_tools: set[str] | None = None) -> AgentCatalog:
        specs: dict[str, AgentSpec] = {}
        for path in sorted(directory.glob("*.y*ml")):
            try:
                spec = AgentSpec.model_validate(yaml.safe_load(path.read_text()))
            except (ValidationError, yaml.YAMLError) as exc:
                raise AgentSpecError(f"{path}: {exc}") from exc
            if spec.name in specs:
                raise AgentSpecError(f"{path}: agent {spec.name!r} is defined twice")
            unknown = set(spec.tools) - known_tools if known_tools is not None else set()
            if unknown:
                raise AgentSpecError(f"{path}: unknown tools {sorted(unknown)}")
            specs[spec.name] = spec
        return cls(specs)

    def get(self, name: str) -> AgentSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)
