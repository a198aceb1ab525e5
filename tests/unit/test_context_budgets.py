"""Model groups' context budgets, agent specs' memory and budgets resolved against them, and
counting a prompt's tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.token_counts import TokenCounter
from services.agent_catalog import AgentCatalog
from services.agent_specs import AgentSpecError
from services.gateway.errors import ProblemError
from services.gateway.task_limits import effective_budgets
from services.model_groups import ModelGroupError, load_model_groups
from workflows.contracts.budgets import Budgets
from workflows.contracts.memory import ContextBudget

ROOT = Path(__file__).resolve().parents[2]
GROUPS = {
    "big": ContextBudget(context_window=8192, output_reserve=1024),
    "small": ContextBudget(context_window=4096, output_reserve=512),
    "unknown": None,
}


def catalog(tmp_path: Path, spec: str) -> AgentCatalog:
    (tmp_path / "a.yaml").write_text(spec)
    return AgentCatalog.load(tmp_path, known_tools={"calculator"}, model_groups=GROUPS)


def test_the_shipped_litellm_config_declares_each_groups_budget() -> None:
    groups = load_model_groups(ROOT / "deploy" / "litellm" / "config.yaml")
    assert groups["agent-default"] == ContextBudget(context_window=8192, output_reserve=1024)
    assert groups["agent-small"] == ContextBudget(context_window=4096, output_reserve=512)


def test_a_reserve_as_large_as_the_window_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: m\n    model_info: {max_input_tokens: 100, "
        "max_output_tokens: 100}\n"
    )
    with pytest.raises(ModelGroupError, match="'m'"):
        load_model_groups(config)


def test_memory_defaults_to_three_quarters_of_the_prompt_budget(tmp_path: Path) -> None:
    agent = catalog(tmp_path, "name: a\nmodel: big\nmemory: {model: small}\n").config("a")
    assert agent is not None and agent.context == GROUPS["big"]
    assert agent.memory is not None and agent.memory.summarize_threshold == int(7168 * 0.75)
    assert agent.memory.budget == GROUPS["small"]


def test_memory_null_turns_summaries_off(tmp_path: Path) -> None:
    agent = catalog(tmp_path, "name: a\nmodel: big\nmemory: null\n").config("a")
    assert agent is not None and agent.memory is None


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("model: big\nmemory: {summarize_threshold: 7168, model: small}", "below the model's"),
        ("model: big\nmemory: {model: nowhere}", "memory.model 'nowhere'"),
        ("model: nowhere", "model 'nowhere' is not a model group"),
        ("model: small\nmax_tokens: 600", "keeps for the reply"),
        ("sub_agents: [ghost]", "sub_agents ['ghost']"),
        ("tools: [delegate]", "by listing sub_agents"),
        ("budgets: {deadline: 0s}", "deadline"),
    ],
)
def test_a_spec_that_cannot_work_is_refused_naming_the_field(
    tmp_path: Path, spec: str, problem: str
) -> None:
    with pytest.raises(AgentSpecError, match="a.yaml") as raised:
        catalog(tmp_path, f"name: a\n{spec}\n")
    assert problem in str(raised.value)


def test_sub_agents_add_the_delegate_tool_and_name_the_agents(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("name: b\ndescription: Does sums.\nmodel: big\n")
    agent = catalog(tmp_path, "name: a\nmodel: big\nsub_agents: [b]\n").config("a")
    assert agent is not None and agent.tools == ["delegate"] and agent.sub_agents == ["b"]
    assert "- b: Does sums." in agent.system_prompt


def test_budgets_asked_for_stay_within_the_tenants_limits() -> None:
    limits = {"max_model_calls": 100, "max_tokens": 5000}
    chosen = effective_budgets(Budgets(max_model_calls=500), Budgets(max_tokens=10), limits)
    assert chosen == Budgets(max_model_calls=100, max_tokens=10)  # the default is cut
    with pytest.raises(ProblemError) as raised:
        effective_budgets(Budgets(), Budgets(max_model_calls=101), limits)
    assert raised.value.status == 422 and "above this tenant's limit of 100" in raised.value.detail


async def test_a_prompt_is_counted_by_the_model_servers_tokenizer() -> None:
    seen: list[tuple[str, Any]] = []

    def server(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.url.path, body))
        if request.url.path == "/apply-template":
            return httpx.Response(200, json={"prompt": "<s>hello world</s>"})
        return httpx.Response(200, json={"tokens": [1, 2, 3, 4]})

    servers = httpx.AsyncClient(transport=httpx.MockTransport(server))
    proxy = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    counter = TokenCounter(proxy, servers, {"big": "http://m"})
    body = {"messages": [{"role": "user", "content": "hello world"}], "tools": [], "x": 1}
    assert await counter.count("big", body) == 4
    assert seen[0] == ("/apply-template", {"messages": body["messages"], "tools": []})
    assert seen[1] == ("/tokenize", {"content": "<s>hello world</s>", "add_special": True})


def test_no_tokenizer_makes_more_tokens_than_the_bound() -> None:
    body = {"messages": [{"role": "user", "content": "héllo"}]}
    assert TokenCounter.upper_bound(body) >= len(json.dumps(body["messages"]).encode())
