"""The embedded model servers: one llama.cpp process (model_server.py) per model group,
serving a pinned model file (model_files.py) on its loopback port.

Each server runs `settings.model_parallel` requests at once, and each of those slots holds one
whole request of the model group's advertised context (`max_input_tokens` in the LiteLLM
config's `model_info`): the server's KV cache is context x parallel tokens, split per slot.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from services.devstack.model_files import QWEN_CODER_05B, SMOLLM2_135M, ModelFile
from services.settings import Settings


@dataclass(frozen=True)
class EmbeddedModel:
    alias: str  # the model group LiteLLM routes to it
    file: ModelFile
    port: int
    context: int  # tokens one request may hold, prompt + output (LiteLLM's max_input_tokens)


def embedded_models(settings: Settings) -> list[EmbeddedModel]:
    return [
        EmbeddedModel(
            settings.default_model,
            QWEN_CODER_05B,
            settings.default_model_port,
            settings.default_model_context,
        ),
        EmbeddedModel(
            settings.small_model,
            SMOLLM2_135M,
            settings.small_model_port,
            settings.small_model_context,
        ),
    ]


def model_server_argv(settings: Settings, model: EmbeddedModel, path: Path) -> list[str]:
    parallel = settings.model_parallel
    return [
        sys.executable,
        "-m",
        "services.devstack.model_server",
        "--model",
        str(path),
        "--alias",
        model.alias,
        "--port",
        str(model.port),
        "--threads",
        str(settings.model_threads),
        # the whole KV cache: one request of the advertised context per slot
        "--context",
        str(model.context * parallel),
        "--parallel",
        str(parallel),
    ]
