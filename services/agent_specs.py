"""Agent specs: the YAML files in agents/, each an agent's template at one `version`. A spec is
checked when it loads, never while it runs. A typo in an approval rule must stop the gateway
from starting. Silently running every call unapproved is the worse outcome."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from activities.http_urls import checked_http_url
from activities.skills.library import Skill, with_skills
from services.agent_spec_approvals import ApprovalSpec
from services.agent_spec_calls import unlisted_tools
from services.agent_spec_limits import BudgetsSpec, MemorySpec, RunawaySpec, ShadowSpec
from services.duration import Duration
from workflows.contracts.agents import AgentConfig, PlannedCall, ToolCallFormat, ToolChoice
from workflows.contracts.answer_checks import AnswerCheck
from workflows.contracts.approvals import ApprovalPolicy
from workflows.contracts.memory import ContextBudget
from workflows.contracts.skills import SkillChoice, SkillUse

DELEGATE_TOOL = "delegate"  # offered to agents with sub_agents; runs as a child workflow

AGENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_SUB_AGENTS = 16


class AgentSpecError(ValueError):
    """A spec file that cannot be used; the message names the file and the field."""


class ModelsSpec(BaseModel):
    """`models:` the model groups of an agent's calls, by what each call is for."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = None  # its turns: the same as `model`
    summarize: str | None = None  # its memory's summaries: the same as `memory.model`
    classify: str | None = None  # short yes/no judgements (checked against the groups)


class AgentSpec(BaseModel):
    # unknown keys are errors: a misspelt `approvals:` would otherwise drop every approval
    model_config = ConfigDict(extra="forbid")

    name: str
    # raised with every change: each task records the version it ran with, and a version's
    # content is recorded once (services/gateway/agent_versions.py)
    version: int = Field(default=1, ge=1, le=1_000_000)
    role: str = Field(default="", max_length=200)  # what it is, shown to agents delegating
    description: str = ""
    pool: str = "default"
    model: str = "agent-default"
    models: ModelsSpec | None = None
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
    # its tasks' budgets (#6); `budgets:` is the older name
    lifecycle: BudgetsSpec = Field(
        default_factory=BudgetsSpec, validation_alias=AliasChoices("lifecycle", "budgets")
    )
    runaway: RunawaySpec = Field(default_factory=RunawaySpec)
    answer_check: AnswerCheck | None = None  # a final answer is checked before it is taken
    first_calls: list[str | PlannedCall] = Field(default_factory=list)  # AgentConfig.first_calls
    tool_choice: ToolChoice = ToolChoice.auto  # see AgentConfig.tool_choice
    show_calls: dict[str, str] = Field(default_factory=dict)  # see AgentConfig.show_calls
    fan_out: PlannedCall | None = None  # see AgentConfig.fan_out
    cite_from: list[str] = Field(default_factory=list)  # see AgentConfig.cite_from
    answer_after: list[str] = Field(default_factory=list)  # see AgentConfig.answer_after
    shadow: ShadowSpec | None = None  # another agent a share of its tasks also runs on, dry
    # skills (agents/skills/) in its prompt after the system prompt: `name` (its newest
    # version) or `name@2`; `choose_skills`: more chosen from each task's input at submit
    skills: list[str] = Field(default_factory=list, max_length=8)
    choose_skills: SkillChoice | None = None

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
        return checked_http_url(value, "webhook signing comes from settings")

    @model_validator(mode="after")
    def _models_by_purpose(self) -> AgentSpec:
        """`models.reason`/`summarize` fill `model`/`memory.model`; giving both ways differently
        is an error, not a silent choice."""
        if self.models is None:
            return self
        reason, summarize = self.models.reason, self.models.summarize
        if reason is not None:
            if "model" in self.model_fields_set and self.model != reason:
                raise ValueError(f"model {self.model!r} and models.reason {reason!r} differ")
            self.model = reason
        if summarize is not None:
            if self.memory is None:
                raise ValueError("models.summarize is given but memory is off (memory: null)")
            if self.memory.model not in (None, summarize):
                raise ValueError(
                    f"memory.model {self.memory.model!r} and models.summarize {summarize!r} differ"
                )
            self.memory = self.memory.model_copy(update={"model": summarize})
        return self

    @property
    def classify_model(self) -> str | None:
        return self.models.classify if self.models else None

    @model_validator(mode="after")
    def _model_check_has_a_model(self) -> AgentSpec:
        if self.answer_check is AnswerCheck.model and self.classify_model is None:
            raise ValueError("answer_check: model asks the models.classify group, which is not set")
        return self

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
                 "answer_after": self.answer_after,
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
        skills: Sequence[Skill] = (),
    ) -> AgentConfig:
        """What a task of this agent runs with. `groups`: the model groups' context budgets
        (services/model_groups.py; unknown: nothing is measured); `sub_agents`: name →
        description of the agents this one may delegate to; `side_effect_tools`: the tools
        that declare side effects (unknown: a `side_effects: true` policy takes every tool);
        `skills`: the versions its `skills:` name."""
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
        exclude = {"description", "approvals", "idle_timeout", "webhook_url", "memory",
                   "lifecycle", "runaway", "tools", "system_prompt", "shadow", "first_calls",
                   "role", "models", "skills"}  # fmt: skip
        return AgentConfig(
            **self.model_dump(exclude=exclude),
            first_calls=self.planned_first_calls,
            tools=tools,
            system_prompt=with_skills(prompt, skills),
            skills=[SkillUse(name=skill.name, version=skill.version) for skill in skills],
            classify_model=self.classify_model,
            approvals=self._policies(tools, side_effect_tools),
            idle_timeout_seconds=self.idle_timeout,
            webhook_url=self.webhook_url,
            context=context,
            memory=(
                self.memory.resolve(self.model, context, groups)
                if self.memory is not None
                else None
            ),
            budgets=self.lifecycle.to_budgets(),
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
