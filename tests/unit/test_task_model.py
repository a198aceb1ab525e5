"""A submit's `model`: the agent's config as if its spec named that group, resolved at submit
(services/gateway/task_model.py), or a 422 on body.model."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.agent_catalog import AgentCatalog
from services.gateway.errors import ProblemError
from services.gateway.submission import request_hash
from services.gateway.task_model import config_on_model
from tests.unit.test_context_budgets import GROUPS, catalog
from workflows.contracts.agents import AgentConfig

SPEC = "name: a\nmodel: big\nmax_tokens: 512\ntools: [calculator]\n"


def test_the_overriding_groups_context_budget_and_memory_apply(tmp_path: Path) -> None:
    agents = catalog(tmp_path, SPEC)
    own = agents.config("a")
    assert own is not None

    small = config_on_model(agents, own, "small")

    assert small.model == "small" and small.context == GROUPS["small"]
    assert small.memory is not None and own.memory is not None
    assert small.memory.summarize_threshold < own.memory.summarize_threshold
    assert small.model_copy(update={"model": "big", "context": own.context, "memory":
                                    own.memory}) == own  # fmt: skip
    assert config_on_model(agents, own, None) is own
    assert config_on_model(agents, own, "big") is own


def test_an_unknown_group_is_refused_naming_body_model_and_the_known_groups(
    tmp_path: Path,
) -> None:
    agents = catalog(tmp_path, SPEC)
    own = agents.config("a")
    assert own is not None

    with pytest.raises(ProblemError) as refused:
        config_on_model(agents, own, "huge")

    problem = refused.value
    assert problem.status == 422 and "body.model" in problem.detail and "'huge'" in problem.detail
    assert problem.extra["model_groups"] == sorted(GROUPS)
    assert [error["field"] for error in problem.extra["errors"]] == ["body.model"]


def test_a_group_whose_reply_reserve_the_spec_exceeds_is_refused(tmp_path: Path) -> None:
    agents = catalog(tmp_path, SPEC.replace("max_tokens: 512", "max_tokens: 1000"))
    own = agents.config("a")
    assert own is not None

    with pytest.raises(ProblemError) as refused:
        config_on_model(agents, own, "small")

    assert refused.value.status == 422 and "max_tokens 1000" in refused.value.detail


def test_a_catalog_without_known_groups_takes_any_name() -> None:
    config = config_on_model(AgentCatalog({}), AgentConfig(name="a"), "other")
    assert config.model == "other" and config.context is None


def test_a_model_is_hashed_only_when_given() -> None:
    plain = request_hash("a", "hi", {})
    assert request_hash("a", "hi", {}, model=None) == plain
    assert request_hash("a", "hi", {}, model="small") != plain
