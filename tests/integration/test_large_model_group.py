"""A bigger model of the operator's own, named in settings (AGENTRY_LARGE_MODEL_API_BASE, …),
is model group `agent-large`: the eval set runs on it unchanged with `--model agent-large`,
and its calls reach that endpoint under the model name the settings give."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import run_module
from tests.stack import RunningStack


async def test_the_eval_set_runs_unchanged_on_the_model_group_settings_add(
    stack: RunningStack, tmp_path: Path
) -> None:
    key = unique_key("large")
    marker = await stack.scripted.script(
        key,
        [reply_tool_calls([("calculator", {"expression": "6*7"})]), reply_text("It is 42.")],
    )
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "sums.yaml").write_text(
        "category: sums\nagent: scripted-native\ncases:\n"
        f"  - {{id: right, input: 'six times seven {marker}', number: 42, tools: [calculator],"
        " shortest: 2}\n"
    )

    code, out, err = await run_module(
        stack, "evals", "--cases", str(cases), "--model", "agent-large", "--no-write"
    )

    assert code == 0, err
    assert "ok   sums/right" in err
    assert "| sums | 1 | 1 (100 %) |" in out
    calls = await stack.scripted.requests(key)
    assert [call["model"] for call in calls] == ["scripted-large", "scripted-large"]


def test_the_stack_writes_the_group_beside_the_configured_ones_without_its_key(
    stack: RunningStack,
) -> None:
    written = stack.settings.litellm_config
    text = written.read_text()
    groups = {g["model_name"]: g for g in yaml.safe_load(text)["model_list"]}

    assert written.parent == stack.settings.data_dir
    assert {"scripted", "agent-default", "agent-large"} <= set(groups)
    assert groups["agent-large"]["litellm_params"]["model"] == "openai/scripted-large"
    assert stack.settings.large_model_api_key.get_secret_value() not in text
