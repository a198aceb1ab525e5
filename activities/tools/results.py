"""A tool's return value as the text the model reads."""

from __future__ import annotations

from typing import Any

import pydantic_core


def as_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    return pydantic_core.to_json(result, fallback=str).decode()
