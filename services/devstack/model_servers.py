"""The embedded model servers: one llama.cpp process (model_server.py) per model group,
serving a pinned model file (model_files.py) on its loopback port."""

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


def embedded_models(settings: Settings) -> list[EmbeddedModel]:
    return [
        EmbeddedModel(settings.default_model, QWEN_CODER_05B, settings.default_model_port),
        EmbeddedModel(settings.small_model, SMOLLM2_135M, settings.small_model_port),
    ]


def model_server_argv(settings: Settings, model: EmbeddedModel, path: Path) -> list[str]:
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
        "--context",
        str(settings.model_context),
    ]
