"""A bigger model of the operator's own as model group `agent-large` of the embedded stack.

Settings name any OpenAI-compatible endpoint (`large_model_api_base`, `large_model`,
`large_model_api_key`); the stack then runs LiteLLM, the gateway and the workers on a copy of
the LiteLLM config with that group added, so a task, an agent spec or an eval run
(`make eval EVAL_ARGS="--model agent-large"`) can name it like the embedded groups. The key
stays in the environment (`os.environ/`), never in the written file. In production, groups are
added to deploy/litellm/config.yaml itself.
"""

from __future__ import annotations

import logging
from typing import Any

import yaml

from services.settings import Settings

logger = logging.getLogger(__name__)

LARGE_MODEL_GROUP = "agent-large"


def with_large_model(settings: Settings) -> Settings:
    """`settings`, pointing at a LiteLLM config that has the large model group when the
    settings name an endpoint (written under the data dir); unchanged otherwise."""
    if not settings.large_model_api_base:
        return settings
    if not settings.embedded_litellm:  # the group belongs in that LiteLLM's own config
        logger.warning(
            "AGENTRY_LARGE_MODEL_API_BASE is ignored: the stack uses an external LiteLLM "
            "(AGENTRY_EMBEDDED_LITELLM=false); add the group to its config instead"
        )
        return settings
    config: dict[str, Any] = yaml.safe_load(settings.litellm_config.read_text()) or {}
    groups = config.setdefault("model_list", [])
    if any(entry.get("model_name") == LARGE_MODEL_GROUP for entry in groups):
        raise ValueError(
            f"{settings.litellm_config} already has a model group {LARGE_MODEL_GROUP!r}; "
            "unset AGENTRY_LARGE_MODEL_API_BASE or rename that group"
        )
    groups.append(
        {
            "model_name": LARGE_MODEL_GROUP,
            "litellm_params": {
                "model": f"openai/{settings.large_model}",
                "api_base": "os.environ/AGENTRY_LARGE_MODEL_API_BASE",
                "api_key": "os.environ/AGENTRY_LARGE_MODEL_API_KEY",
            },
            "model_info": {
                "max_input_tokens": settings.large_model_context,
                "max_output_tokens": settings.large_model_max_output,
            },
        }
    )
    written = settings.data_dir / "litellm-config.yaml"
    written.parent.mkdir(parents=True, exist_ok=True)
    header = f"# written by the dev stack: {settings.litellm_config} plus {LARGE_MODEL_GROUP}\n"
    written.write_text(header + yaml.safe_dump(config, sort_keys=False))
    return settings.model_copy(update={"litellm_config": written})
