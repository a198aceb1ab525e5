"""The model servers are started with the context LiteLLM advertises (issue 10).

Each model group's `model_info` in the LiteLLM config says how many tokens one request may hold
(`max_input_tokens`, prompt + output) and how many of them are kept for the answer
(`max_output_tokens`); Agentry budgets prompts from them. The embedded llama.cpp servers split
their KV cache (`--context`) evenly over `--parallel` slots, so every slot must hold one whole
request of the advertised size; SGLang's `--context-length` is the per-request limit itself.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.devstack import model_server
from services.devstack.model_servers import embedded_models, model_server_argv
from services.settings import PROJECT_ROOT, Settings

DEPLOY_CONFIG = PROJECT_ROOT / "deploy" / "litellm" / "config.yaml"
TEST_CONFIG = PROJECT_ROOT / "tests" / "litellm-test-config.yaml"  # the test stack's LiteLLM
SGLANG_DIR = PROJECT_ROOT / "deploy" / "sglang"
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"


def model_info(config: Path) -> dict[str, dict[str, Any]]:
    """model group -> its model_info, from a LiteLLM config."""
    groups = yaml.safe_load(config.read_text())["model_list"]
    return {group["model_name"]: group.get("model_info") or {} for group in groups}


def flag(argv: list[str], name: str) -> int:
    assert argv.count(name) == 1, f"{name} given {argv.count(name)} times in {argv}"
    return int(argv[argv.index(name) + 1])


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The shipped defaults, whatever the environment of the test run says."""
    for field in Settings.model_fields:
        monkeypatch.delenv(f"AGENTRY_{field.upper()}", raising=False)
    return Settings(_env_file=None)


@pytest.mark.parametrize("config", [DEPLOY_CONFIG, TEST_CONFIG], ids=["deploy", "tests"])
def test_every_model_group_advertises_a_context_and_a_smaller_output_reserve(
    config: Path,
) -> None:
    infos = model_info(config)
    assert infos
    for alias, info in infos.items():
        context, reserve = info.get("max_input_tokens"), info.get("max_output_tokens")
        assert isinstance(context, int) and isinstance(reserve, int), (alias, info)
        assert 0 < reserve < context, alias


@pytest.mark.parametrize("config", [DEPLOY_CONFIG, TEST_CONFIG], ids=["deploy", "tests"])
def test_embedded_servers_hold_one_advertised_request_per_slot(
    config: Path, settings: Settings
) -> None:
    infos = model_info(config)
    models = embedded_models(settings)
    assert {m.alias for m in models} == {settings.default_model, settings.small_model}
    for model in models:
        info = infos[model.alias]
        argv = model_server_argv(settings, model, Path("/models/model.gguf"))
        context, parallel = flag(argv, "--context"), flag(argv, "--parallel")
        assert parallel == settings.model_parallel >= 1
        assert context == info["max_input_tokens"] * parallel, model.alias
        assert info["max_output_tokens"] < context // parallel

        # what the server process makes of that argv: llama.cpp's n_ctx split over the slots
        args = model_server.parse_args(argv[argv.index("services.devstack.model_server") + 1 :])
        params = model_server.server_params(
            args.model, args.host, args.port, args.alias, args.threads, args.context, args.parallel
        )
        assert params.n_parallel == parallel
        assert params.n_ctx // params.n_parallel == info["max_input_tokens"]
        assert params.kv_unified is False  # a unified cache would not reserve a slot's share
        assert params.cache_prompt is True  # prefix cache: an agent's turns share their prompt


def test_the_server_refuses_a_context_that_does_not_split_into_its_slots() -> None:
    with pytest.raises(ValueError):
        model_server.server_params("m.gguf", "127.0.0.1", 1, "a", 1, 8190, 4)


def _sglang_launches() -> dict[str, list[str]]:
    launches: dict[str, list[str]] = {}
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    launches["docker-compose.yml"] = [str(p) for p in compose["services"]["sglang"]["command"]]
    for doc in yaml.safe_load_all((SGLANG_DIR / "sglang.yaml").read_text()):
        if doc and doc.get("kind") == "Deployment":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                command = [str(p) for p in c.get("command", []) + c.get("args", [])]
                if "sglang.launch_server" in command:
                    launches[f"sglang.yaml {doc['metadata']['name']}"] = command
    script = (SGLANG_DIR / "launch.sh").read_text().replace("\\\n", " ")
    for line in script.splitlines():
        if "sglang.launch_server" in line:
            launches["launch.sh"] = shlex.split(re.sub(r"&\s*$", "", line.strip()))
    return launches


def test_sglang_context_length_is_what_litellm_advertises(settings: Settings) -> None:
    """Both groups go to the one SGLang server in production: its per-request limit is
    agent-default's window, and no group may advertise more than it."""
    infos = model_info(DEPLOY_CONFIG)
    launches = _sglang_launches()
    assert set(launches) == {"docker-compose.yml", "sglang.yaml sglang", "launch.sh"}
    for where, command in launches.items():
        length = flag(command, "--context-length")
        assert length == infos[settings.default_model]["max_input_tokens"], where
        assert all(info["max_input_tokens"] <= length for info in infos.values()), where
