"""The LiteLLM proxy of the embedded stack: the one way the workers reach a model, as in
production, here routing the model groups to the embedded llama.cpp servers."""

from __future__ import annotations

import httpx

from services.devstack.processes import VENV_BIN
from services.settings import Settings


def litellm_argv(settings: Settings) -> list[str]:
    port = httpx.URL(settings.litellm_url).port or 4000
    return [
        str(VENV_BIN / "litellm"),
        "--config",
        str(settings.litellm_config),
        "--host",
        "127.0.0.1",  # it binds every interface unless told
        "--port",
        str(port),
    ]


# LiteLLM fetches these catalogues from GitHub unless told to use the copies it ships with;
# nothing of the stack may reach the internet at run time (deploy/ sets the same)
BUNDLED_CATALOGUES = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
}


def litellm_env(settings: Settings) -> dict[str, str]:
    """What the proxy reads besides its config file (deploy/litellm/config.yaml)."""
    return {
        **BUNDLED_CATALOGUES,
        "LITELLM_MASTER_KEY": settings.litellm_key.get_secret_value(),
        "AGENTRY_DEFAULT_MODEL_API_BASE": f"http://127.0.0.1:{settings.default_model_port}/v1",
        "AGENTRY_SMALL_MODEL_API_BASE": f"http://127.0.0.1:{settings.small_model_port}/v1",
        "AGENTRY_MODEL_SERVER_KEY": settings.model_server_key.get_secret_value(),
        "DISABLE_SCHEMA_UPDATE": "True",
    }
