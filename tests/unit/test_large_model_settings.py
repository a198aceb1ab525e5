"""Settings that name a bigger model: what is refused, and the config the stack writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from services.devstack.large_model import with_large_model
from services.settings import Settings
from tests.stack import ROOT

CONFIG = ROOT / "deploy" / "litellm" / "config.yaml"


def test_without_an_endpoint_the_stack_keeps_its_config(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)

    assert with_large_model(settings).litellm_config == CONFIG


def test_with_an_external_litellm_the_settings_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        embedded_litellm=False,
        large_model_api_base="https://models.example/v1",
        large_model="m",
    )

    assert with_large_model(settings).litellm_config == CONFIG
    assert "add the group to its config instead" in caplog.text
    assert not (tmp_path / "litellm-config.yaml").exists()


def test_an_endpoint_without_a_model_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="large_model must name the model"):
        Settings(_env_file=None, large_model_api_base="https://models.example/v1")


def test_a_reply_reserve_as_large_as_the_context_is_refused() -> None:
    with pytest.raises(ValidationError, match="below large_model_context"):
        Settings(_env_file=None, large_model_context=4096, large_model_max_output=4096)


def test_the_group_is_added_with_its_context_and_the_key_left_in_the_environment(
    tmp_path: Path,
) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        large_model_api_base="https://models.example/v1",
        large_model="qwen2.5-7b-instruct",
        large_model_api_key="sk-do-not-write-me",
        large_model_context=16384,
        large_model_max_output=2048,
    )

    written = with_large_model(settings).litellm_config
    groups = {g["model_name"]: g for g in yaml.safe_load(written.read_text())["model_list"]}

    assert set(groups) == {"agent-default", "agent-small", "agent-large"}
    assert groups["agent-large"]["litellm_params"] == {
        "model": "openai/qwen2.5-7b-instruct",
        "api_base": "os.environ/AGENTRY_LARGE_MODEL_API_BASE",
        "api_key": "os.environ/AGENTRY_LARGE_MODEL_API_KEY",
    }
    assert groups["agent-large"]["model_info"] == {
        "max_input_tokens": 16384,
        "max_output_tokens": 2048,
    }
    assert "sk-do-not-write-me" not in written.read_text()


def test_a_config_that_already_has_the_group_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n  - model_name: agent-large\n")
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        litellm_config=config,
        large_model_api_base="https://models.example/v1",
        large_model="m",
    )

    with pytest.raises(ValueError, match="already has a model group 'agent-large'"):
        with_large_model(settings)
