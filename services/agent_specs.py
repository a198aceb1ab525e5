"""Agent specs: YAML files in agents/, validated once and looked up by name. A spec is checked
when it loads, never while it runs. A typo in an approval rule must stop the gateway from
starting. Silently running every call unapproved is the worse outcome."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from services.agent_spec_approvals import ApprovalSpec
from services.agent_spec_calls import call_problems, unlisted_tools
from services.agent_spec_limits import BudgetsSpec, MemorySpec, RunawaySpec, ShadowSpec
from services.duration import Duration
from workflows.contracts.agents import AgentConfig, PlannedCall, ToolCallFormat, ToolChoice
from workflows.contracts.answer_checks import AnswerCheck
from workflows.contracts.approvals import ApprovalPolicy
from workflows.contracts.memory import ContextBudget

DELEGATE_TOOL = "delegate"  # offered to agents with sub_agents; runs as a child workflow

AGENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_SUB_AGENTS = 16


class AgentSpecError(ValueError):
    """A spec file that cannot be used; the message names the file and the field."""


class AgentSpec(BaseModel):
    # unknown keys are errors: a misspelt `approvals:` would otherwise drop every approval
    model_config = ConfigDict(extra="forbid")

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
    approvals: list[ApprovalSpec] = Field(default_factory=list)
    idle_timeout: Duration | None = None
    webhook_url: str | None = None
    memory: MemorySpec | None = Field(default_factory=MemorySpec)
    max_tool_result_chars: int = Field(default=8000, ge=200, le=1_000_000)
    sub_agents: list[str] = Field(default_factory=list, max_length=MAX_SUB_AGENTS)
    budgets: BudgetsSpec = Field(default_factory=BudgetsSpec)
    runaway: RunawaySpec = Field(default_factory=RunawaySpec)
    answer_check: AnswerCheck | None = None  # a final answer is checked before it is taken
    first_calls: list[str | PlannedCall] = Field(default_factory=list)  # AgentConfig.first_calls
    tool_choice: ToolChoice = ToolChoice.auto  # see AgentConfig.tool_choice
    show_calls: dict[str, str] = Field(default_factory=dict)  # see AgentConfig.show_calls
    fan_out: PlannedCall | None = None  # see AgentConfig.fan_out
    cite_from: list[str] = Field(default_factory=list)  # see AgentConfig.cite_from
    shadow: ShadowSpec | None = None  # another agent a share of its tasks also runs on, dry

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not AGENT_NAME.match(value):
            raise ValueError("must be lowercase letters, digits, '-' or '_'")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if parts.username or parts.password:
            # the spec travels in workflow inputs and histories, where secrets must not go
            raise ValueError("must not carry credentials; webhook signing comes from settings")
        return value

    @model_validator(mode="after")
    def _approvals_name_own_tools(self) -> AgentSpec:
        seen: set[str] = set()
        if sum(approval.side_effects for approval in self.approvals) > 1:
            raise ValueError("more than one approval policy sets side_effects: true")
        for approval in self.approvals:
            if approval.tool is None:
                continue
            if approval.tool not in self.tools:
                raise ValueError(
                    f"approval policy for tool {approval.tool!r}, which the agent does not list"
                    f" in tools {self.tools}"
                )
            if approval.tool in seen:
                raise ValueError(f"tool {approval.tool!r} has more than one approval policy")
            seen.add(approval.tool)
        offered = [*self.tools, *([DELEGATE_TOOL] if self.sub_agents else [])]
        calls = {"first_calls": [call.tool for call in self.planned_first_calls],
                 "show_calls": list(self.show_calls), "cite_from": self.cite_from,
                 "fan_out": [self.fan_out.tool] if self.fan_out else []}  # fmt: skip
        problem = unlisted_tools(self.tools, offered, calls)
        if problem is not None:
            raise ValueError(problem)
        return self

    @field_validator("tools")
    @classmethod
    def _delegate_is_not_listed(cls, value: list[str]) -> list[str]:
        if DELEGATE_TOOL in value:
            raise ValueError(f"{DELEGATE_TOOL!r} is offered by listing sub_agents, not in tools")
        return value

    @property
    def planned_first_calls(self) -> list[PlannedCall]:
        """`first_calls` as calls: a bare tool name takes no arguments."""
        return [PlannedCall(tool=c) if isinstance(c, str) else c for c in self.first_calls]

    def to_config(
        self,
        groups: Mapping[str, ContextBudget | None] | None = None,
        sub_agents: Mapping[str, str] | None = None,
        side_effect_tools: Collection[str] | None = None,
    ) -> AgentConfig:
        """What a task of this agent runs with. `groups`: the model groups' context budgets
        (services/model_groups.py; unknown: nothing is measured); `sub_agents`: name →
        description of the agents this one may delegate to; `side_effect_tools`: the tools
        that declare side effects (unknown: a `side_effects: true` policy takes every tool)."""
        groups = groups or {}
        context = groups.get(self.model)
        if context is not None and self.max_tokens > context.output_reserve:
            raise ValueError(
                f"max_tokens {self.max_tokens} is more than the {context.output_reserve} tokens "
                f"model group {self.model!r} keeps for the reply (max_output_tokens)"
            )
        tools, prompt = list(self.tools), self.system_prompt
        if self.sub_agents:
            tools.append(DELEGATE_TOOL)
            listed = "\n".join(f"- {name}: {text}" for name, text in (sub_agents or {}).items())
            prompt = (
                f"{prompt.rstrip()}\n\nYou can hand a piece of work to another agent with the "
                f"{DELEGATE_TOOL} tool; it answers with that agent's result. Agents:\n{listed}"
            )
        exclude = {"description", "approvals", "idle_timeout", "webhook_url", "memory", "budgets",
                   "runaway", "tools", "system_prompt", "shadow", "first_calls"}  # fmt: skip
        return AgentConfig(
            **self.model_dump(exclude=exclude),
            first_calls=self.planned_first_calls,
            tools=tools,
            system_prompt=prompt,
            approvals=self._policies(tools, side_effect_tools),
            idle_timeout_seconds=self.idle_timeout,
            webhook_url=self.webhook_url,
            context=context,
            memory=(
                self.memory.resolve(self.model, context, groups)
                if self.memory is not None
                else None
            ),
            budgets=self.budgets.to_budgets(),
            runaway=self.runaway,
        )

    def _policies(
        self, tools: list[str], side_effect_tools: Collection[str] | None
    ) -> list[ApprovalPolicy]:
        """A policy per tool: the named ones, then the `side_effects: true` one for each other
        tool with side effects (fails safe: when they are not known, for every other tool)."""
        named = {a.tool: a for a in self.approvals if a.tool is not None}
        policies = [approval.to_policy(tool) for tool, approval in named.items()]
        blanket = next((approval for approval in self.approvals if approval.side_effects), None)
        if blanket is not None:
            policies += [
                blanket.to_policy(tool)
                for tool in tools
                if tool not in named and (side_effect_tools is None or tool in side_effect_tools)
            ]
        return policies

    def unknown_rule_arguments(self, tool_schemas: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Rules on arguments their tool does not take (tools without a schema are skipped)."""
        problems = []
        for approval in self.approvals:
            schema = tool_schemas.get(approval.tool) if approval.tool else None
            if schema is None:
                continue
            taken = set(schema.get("properties", {}))
            for rule in approval.when:
                if rule.argument not in taken:
                    problems.append(
                        f"approval rule on {approval.tool}({rule.argument}): the tool takes"
                        f" {sorted(taken)}"
                    )
        return problems


class AgentCatalog:
    def __init__(
        self,
        specs: dict[str, AgentSpec],
        configs: dict[str, AgentConfig] | None = None,
        model_groups: Mapping[str, ContextBudget | None] | None = None,
    ) -> None:
        self._specs = specs
        self._configs = (
            configs if configs is not None else {n: s.to_config() for n, s in specs.items()}
        )
        self._groups = dict(model_groups or {})

    @classmethod
    def load(
        cls,
        directory: Path,
        known_tools: set[str] | None = None,
        tool_schemas: Mapping[str, Mapping[str, Any]] | None = None,
        pools: Collection[str] | None = None,
        model_groups: Mapping[str, ContextBudget | None] | None = None,
        side_effect_tools: Collection[str] | None = None,
    ) -> AgentCatalog:
        """Every spec in directory, checked against the tools (names, and argument schemas
        by tool name, e.g. `Tool.parameters_schema`), the declared worker pools and the model
        groups (name → context budget) when the caller knows them; `side_effect_tools` name
        the tools a `side_effects: true` approval policy holds."""
        if known_tools is None and tool_schemas is not None:
            known_tools = set(tool_schemas)
        specs: dict[str, AgentSpec] = {}
        paths: dict[str, Path] = {}
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
            if pools is not None and spec.pool not in pools:
                raise AgentSpecError(
                    f"{path}: pool {spec.pool!r} is not declared; declared pools: {sorted(pools)}"
                )
            problems = spec.unknown_rule_arguments(tool_schemas or {})
            planned = [*spec.planned_first_calls, *([spec.fan_out] if spec.fan_out else [])]
            problems += call_problems(planned, spec.show_calls, tool_schemas or {})
            if problems:
                raise AgentSpecError(f"{path}: " + "; ".join(problems))
            specs[spec.name], paths[spec.name] = spec, path
        configs: dict[str, AgentConfig] = {}
        for spec in specs.values():
            path = paths[spec.name]
            strangers = [name for name in spec.sub_agents if name not in specs]
            if strangers:
                raise AgentSpecError(f"{path}: sub_agents {strangers} are not agents")
            if spec.shadow and spec.shadow.agent not in set(specs) - {spec.name}:
                raise AgentSpecError(f"{path}: shadow.agent {spec.shadow.agent!r} is not another"
                                     f" agent; agents: {sorted(specs)}")  # fmt: skip
            if model_groups and spec.model not in model_groups:
                raise AgentSpecError(
                    f"{path}: model {spec.model!r} is not a model group of the LiteLLM config; "
                    f"groups: {sorted(model_groups)}"
                )
            described = {name: specs[name].description for name in spec.sub_agents}
            try:
                configs[spec.name] = spec.to_config(model_groups, described, side_effect_tools)
            except ValueError as exc:
                raise AgentSpecError(f"{path}: {exc}") from exc
        return cls(specs, configs, model_groups)

    def config(self, name: str) -> AgentConfig | None:
        """What a task of the agent runs with (its model's context budget resolved)."""
        return self._configs.get(name)

    @property
    def model_groups(self) -> Mapping[str, ContextBudget | None]:
        return self._groups  # group → context budget; empty: not known, nothing is checked

    def get(self, name: str) -> AgentSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def agents_by_pool(self) -> dict[str, list[str]]:
        """Agent names grouped by the pool they run on."""
        grouped: dict[str, list[str]] = {}
        for name in self.names():
            grouped.setdefault(self._specs[name].pool, []).append(name)
        return grouped
