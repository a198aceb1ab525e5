"""The model group a task runs with: its agent's, or the one a submit names instead (`model`),
e.g. to replay saved cases on another model. The override is resolved here, at submit, into the
AgentConfig the workflow receives, as if the spec named that group: its context budget and
memory threshold follow the group, and the workflow needs no branch of its own."""

from __future__ import annotations

from typing import NoReturn

from services.agent_catalog import AgentCatalog
from services.agent_specs import AgentSpec, AgentSpecError
from services.gateway.errors import ProblemError
from workflows.contracts.agents import AgentConfig


def config_on_model(
    catalog: AgentCatalog, agent: AgentConfig, model: str | None, spec: AgentSpec | None = None
) -> AgentConfig:
    """`agent` as it runs on model group `model` (None: its own), rebuilt from `spec`, the
    version it came from (default: the current one); an unknown group, or one the spec does
    not fit (its max_tokens above the group's reply reserve), is a 422 on body.model."""
    if model is None or model == agent.model:
        return agent
    groups = catalog.model_groups
    spec = spec or catalog.get(agent.name)
    if groups and model not in groups:
        known = sorted(groups)
        _refuse(
            f"unknown model group {model!r}; known groups: {', '.join(known)}",
            "unknown_model_group",
            known,
        )
    if spec is None:  # a catalog without specs (tests): only the name changes
        return agent.model_copy(update={"model": model, "context": groups.get(model)})
    try:
        return catalog.config_of(spec.model_copy(update={"model": model}))
    except AgentSpecError as exc:
        _refuse(f"agent {agent.name!r} cannot run on model group {model!r}: {exc}",
                "model_group_unfit", sorted(groups))  # fmt: skip


def _refuse(message: str, kind: str, known: list[str]) -> NoReturn:
    raise ProblemError(
        422,
        f"the request is invalid: body.model: {message}",
        kind="validation",
        extra={
            "errors": [{"field": "body.model", "message": message, "type": kind}],
            "model_groups": known,
        },
    )
