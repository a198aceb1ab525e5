"""What a model call reserves of its tenant's month: its worst case at its group's prices,
read from the LiteLLM config the proxy runs with."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from activities.db.spend import TokenPrices
from activities.spend_guard import SpendGuard
from activities.token_counts import TokenCounter
from services.model_groups import ModelGroupError, load_model_prices

CONFIG = """
model_list:
  - model_name: priced
    litellm_params:
      {model: openai/a, input_cost_per_token: 0.000002, output_cost_per_token: 0.000008}
  - model_name: priced
    litellm_params:
      {model: openai/b, input_cost_per_token: 0.000003, output_cost_per_token: 0.000004}
  - model_name: in-model-info
    litellm_params: {model: openai/c}
    model_info: {input_cost_per_token: 1.0e-7, output_cost_per_token: 2.0e-7}
  - model_name: unpriced
    litellm_params: {model: openai/d, input_cost_per_token: 0.1}
"""


def prices(tmp_path: Path, text: str = CONFIG) -> dict[str, TokenPrices]:
    path = tmp_path / "litellm.yaml"
    path.write_text(text)
    return load_model_prices(path)


def test_prices_come_from_the_config_and_a_group_reserves_at_its_dearest(tmp_path: Path) -> None:
    found = prices(tmp_path)
    assert found == {
        "priced": TokenPrices(Decimal("0.000003"), Decimal("0.000008")),
        "in-model-info": TokenPrices(Decimal("1.0E-7"), Decimal("2.0E-7")),
    }


def test_a_price_that_is_not_a_number_names_the_group(tmp_path: Path) -> None:
    bad = (
        "model_list:\n  - model_name: g\n"
        "    litellm_params: {input_cost_per_token: cheap, output_cost_per_token: 1}\n"
    )
    with pytest.raises(ModelGroupError, match="'g'"):
        prices(tmp_path, bad)


def test_the_shipped_config_prices_every_group() -> None:
    """A group without prices would reserve nothing against a tenant's limit."""
    config = Path(__file__).resolve().parents[2] / "deploy/litellm/config.yaml"
    groups = {entry["model_name"] for entry in yaml.safe_load(config.read_text())["model_list"]}
    assert set(load_model_prices(config)) == groups


def test_the_worst_case_is_the_whole_prompt_and_max_tokens_at_their_prices() -> None:
    guard = SpendGuard(None, {"m": TokenPrices(Decimal("0.000002"), Decimal("0.000008"))})  # type: ignore[arg-type]
    assert guard.worst_case("m", 1000, 500) == Decimal("0.006")
    assert guard.worst_case("unpriced", 1000, 500) == 0
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    assert TokenCounter.upper_bound(body) > 2  # never fewer tokens than the text could make
