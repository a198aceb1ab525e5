"""Counting a prompt's tokens with the model's own tokenizer, before the prompt is sent.

Where a model group's server is llama.cpp (the embedded stack) the count is exact: the server
renders the request with the model's chat template (`/apply-template`, tools included) and
tokenizes it (`/tokenize`). Elsewhere LiteLLM's `/utils/token_counter` counts with the
tokenizer it knows for the model. Counting costs two round trips, so a prompt whose UTF-8 size
alone proves it small is not counted: a byte-level BPE token always covers at least one byte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

# tokens a chat template may add beyond the request's bytes (role markers, a default system
# prompt); every known template adds far fewer
TEMPLATE_ALLOWANCE = 64


class TokenCountError(RuntimeError):
    """The tokenizer could not be reached or answered nonsense."""


class TokenCounter:
    def __init__(
        self,
        proxy: httpx.AsyncClient,
        servers: httpx.AsyncClient,
        server_urls: Mapping[str, str],
    ) -> None:
        """`proxy` is pointed at the LiteLLM proxy with its key; `servers` carries no key (it
        reaches the model servers directly); `server_urls`: model group → llama.cpp base URL."""
        self._proxy = proxy
        self._servers = servers
        self._server_urls = dict(server_urls)

    @staticmethod
    def upper_bound(body: Mapping[str, Any]) -> int:
        """No tokenizer makes more tokens than this of the request's messages and tools."""
        shown = {key: body[key] for key in ("messages", "tools") if key in body}
        return len(json.dumps(shown, ensure_ascii=False).encode()) + TEMPLATE_ALLOWANCE

    async def count(self, model: str, body: Mapping[str, Any]) -> int:
        """Tokens of the prompt `body` (chat-completions `messages`, optional `tools`) makes."""
        shown = {key: body[key] for key in ("messages", "tools") if key in body}
        base = self._server_urls.get(model)
        if base is None:
            data = await self._post(self._proxy, "/utils/token_counter", {"model": model, **shown})
            return _int(data, "total_tokens")
        rendered = await self._post(self._servers, f"{base}/apply-template", shown)
        prompt = rendered.get("prompt")
        if not isinstance(prompt, str):
            raise TokenCountError(f"{base}/apply-template answered no prompt")
        return await self._tokenize(base, prompt)

    async def count_text(self, model: str, text: str) -> int:
        """Tokens of plain text (no chat template)."""
        base = self._server_urls.get(model)
        if base is None:
            messages = [{"role": "user", "content": text}]
            data = await self._post(
                self._proxy, "/utils/token_counter", {"model": model, "messages": messages}
            )
            return _int(data, "total_tokens")
        return await self._tokenize(base, text)

    async def _tokenize(self, base: str, text: str) -> int:
        data = await self._post(
            self._servers, f"{base}/tokenize", {"content": text, "add_special": True}
        )
        tokens = data.get("tokens")
        if not isinstance(tokens, list):
            raise TokenCountError(f"{base}/tokenize answered no tokens")
        return len(tokens)

    @staticmethod
    async def _post(client: httpx.AsyncClient, url: str, body: Any) -> dict[str, Any]:
        try:
            response = await client.post(url, json=body)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TokenCountError(f"counting tokens at {url} failed: {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise TokenCountError(f"counting tokens at {url}: unexpected answer")
        return data


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int):
        raise TokenCountError(f"token counter answered no {key}")
    return value
