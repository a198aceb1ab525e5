"""The agent catalog: every spec in agents/, checked against what the deployment has (tools,
pools, model groups, the other agents) and turned into the config its tasks run with. The
same checks let an older recorded version of a spec run again when a submit pins it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from activities.skills.library import SkillLibrary
from services.agent_spec_calls import call_problems
from services.agent_specs import AgentSpec, AgentSpecError
from workflows.contracts.agents import AgentConfig
from workflows.contracts.memory import ContextBudget


@dataclass(frozen=True)
class Deployment:
    """What specs are checked against; a None field is not known, and not checked."""

    tool_schemas: Mapping[str, Mapping[str, Any]]
    known_tools: set[str] | None = None
    pools: Collection[str] | None = None
    local_turn_pools: Collection[str] = ()  # pools whose model turns are local activities
    model_groups: Mapping[str, ContextBudget | None] | None = None
    side_effect_tools: Collection[str] | None = None
    skills: SkillLibrary | None = None
    # `<server>__` of MCP servers that did not answer at start: their tools cannot be checked
    unchecked_prefixes: tuple[str, ...] = ()

    def spec_problems(self, spec: AgentSpec) -> list[str]:
        """What stops this spec on its own (tools, pool, skills, rules, planned calls)."""
        unknown = set(spec.tools) - self.known_tools if self.known_tools is not None else set()
        unknown = {name for name in unknown if not name.startswith(self.unchecked_prefixes)}
        if unknown:
            return [f"unknown tools {sorted(unknown)}"]
        problems = self._skill_problems(spec)
        if problems:
            return problems
        if self.pools is not None and spec.pool not in self.pools:
            return [f"pool {spec.pool!r} is not declared; declared pools: {sorted(self.pools)}"]
        problems = spec.unknown_rule_arguments(self.tool_schemas)
        planned = [*spec.planned_first_calls, *([spec.fan_out] if spec.fan_out else [])]
        return problems + call_problems(planned, spec.show_calls, self.tool_schemas)

    def configure(self, spec: AgentSpec, others: Mapping[str, AgentSpec]) -> AgentConfig:
        """The config of `spec` among the agents `others` (by name); ValueError says why not."""
        strangers = [name for name in spec.sub_agents if name not in others]
        if strangers:
            raise ValueError(f"sub_agents {strangers} are not agents")
        if spec.shadow and spec.shadow.agent not in set(others) - {spec.name}:
            raise ValueError(
                f"shadow.agent {spec.shadow.agent!r} is not another agent; agents: {sorted(others)}"
            )
        groups = self.model_groups
        named = {"model": spec.model, "models.classify": spec.classify_model}
        for field, group in named.items():
            if groups and group is not None and group not in groups:
                raise ValueError(
                    f"{field} {group!r} is not a model group of the LiteLLM config; "
                    f"groups: {sorted(groups)}"
                )
        described = {name: _described(others[name]) for name in spec.sub_agents}
        skills = [
            skill for ref in spec.skills if self.skills and (skill := self.skills.resolve(ref))
        ]
        config = spec.to_config(groups, described, self.side_effect_tools, skills)
        if spec.pool in self.local_turn_pools:
            config = config.model_copy(update={"local_model_turns": True})
        return config

    def _skill_problems(self, spec: AgentSpec) -> list[str]:
        """Skills that are not in the library, or that need tools the agent lacks."""
        if self.skills is None:
            return []
        library, problems = self.skills, []
        among = spec.choose_skills.among or [] if spec.choose_skills else []
        problems += [f"choose_skills.among names skills, not versions: {ref!r}"
                     for ref in among if "@" in ref]  # fmt: skip
        for ref in [*spec.skills, *among]:
            skill = library.resolve(ref)
            if skill is None:
                problems.append(f"unknown skill {ref!r}; skills: {library.names()}")
            elif ref in spec.skills and not set(skill.tools) <= set(spec.tools):
                lacking = sorted(set(skill.tools) - set(spec.tools))
                problems.append(f"skill {ref!r} needs tools {lacking}, which the agent lacks")
        return problems


def _described(spec: AgentSpec) -> str:
    return f"({spec.role}) {spec.description}".strip() if spec.role else spec.description


class AgentCatalog:
    def __init__(
        self,
        specs: dict[str, AgentSpec],
        configs: dict[str, AgentConfig] | None = None,
        deployment: Deployment | None = None,
        paths: dict[str, Path] | None = None,
    ) -> None:
        self._specs = specs
        self._paths = paths or {}
        self._configs = (
            configs if configs is not None else {n: s.to_config() for n, s in specs.items()}
        )
        self._deployment = deployment or Deployment(tool_schemas={})

    @classmethod
    def load(
        cls,
        directory: Path,
        known_tools: set[str] | None = None,
        tool_schemas: Mapping[str, Mapping[str, Any]] | None = None,
        pools: Collection[str] | None = None,
        model_groups: Mapping[str, ContextBudget | None] | None = None,
        side_effect_tools: Collection[str] | None = None,
        skills: SkillLibrary | None = None,
        unchecked_prefixes: Collection[str] = (),
        local_turn_pools: Collection[str] = (),
    ) -> AgentCatalog:
        """Every spec in directory, checked against the tools (names, and argument schemas
        by tool name, e.g. `Tool.parameters_schema`), the declared worker pools and the model
        groups (name → context budget) when the caller knows them; `side_effect_tools` name
        the tools a `side_effects: true` approval policy holds; `skills` the library the specs'
        skills come from (None: skills are not checked, and none is loaded); the tasks of
        agents on `local_turn_pools` run their model turns as local activities."""
        if known_tools is None and tool_schemas is not None:
            known_tools = set(tool_schemas)
        deployment = Deployment(
            tool_schemas=tool_schemas or {},
            known_tools=known_tools,
            pools=pools,
            local_turn_pools=tuple(local_turn_pools),
            model_groups=model_groups,
            side_effect_tools=side_effect_tools,
            skills=skills,
            unchecked_prefixes=tuple(unchecked_prefixes),
        )
        specs: dict[str, AgentSpec] = {}
        paths: dict[str, Path] = {}
        for path in sorted(directory.glob("*.y*ml")):
            spec = read_spec(path)
            if spec.name in specs:
                raise AgentSpecError(f"{path}: agent {spec.name!r} is defined twice")
            problems = deployment.spec_problems(spec)
            if problems:
                raise AgentSpecError(f"{path}: " + "; ".join(problems))
            specs[spec.name], paths[spec.name] = spec, path
        configs: dict[str, AgentConfig] = {}
        for spec in specs.values():
            try:
                configs[spec.name] = deployment.configure(spec, specs)
            except ValueError as exc:
                raise AgentSpecError(f"{paths[spec.name]}: {exc}") from exc
        return cls(specs, configs, deployment, paths)

    def config(self, name: str) -> AgentConfig | None:
        """What a task of the agent runs with (its model's context budget resolved)."""
        return self._configs.get(name)

    def config_of(self, spec: AgentSpec) -> AgentConfig:
        """The config of another version of one of these agents, checked as if it were in
        agents/ today (its sub-agents are today's); AgentSpecError says why it cannot run."""
        problems = self._deployment.spec_problems(spec)
        if problems:
            raise AgentSpecError("; ".join(problems))
        try:
            return self._deployment.configure(spec, {**self._specs, spec.name: spec})
        except ValueError as exc:
            raise AgentSpecError(str(exc)) from exc

    @property
    def model_groups(self) -> Mapping[str, ContextBudget | None]:
        # group → context budget; empty: not known, nothing is checked
        return self._deployment.model_groups or {}

    def path_of(self, name: str) -> Path | str:
        """The file the agent's spec came from (its name when it came from no file)."""
        return self._paths.get(name, name)

    def get(self, name: str) -> AgentSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def specs(self) -> list[AgentSpec]:
        return [self._specs[name] for name in self.names()]

    def agents_by_pool(self) -> dict[str, list[str]]:
        """Agent names grouped by the pool they run on."""
        grouped: dict[str, list[str]] = {}
        for name in self.names():
            grouped.setdefault(self._specs[name].pool, []).append(name)
        return grouped


def read_spec(path: Path) -> AgentSpec:
    """One spec file, validated; AgentSpecError names the file and the field."""
    try:
        return AgentSpec.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as exc:
        raise AgentSpecError(f"{path}: {exc}") from exc
