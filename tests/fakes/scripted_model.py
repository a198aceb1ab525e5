"""Scripted OpenAI-compatible model server: the deterministic stand-in for SGLang / llama.cpp.

Orchestration tests reach it through a real LiteLLM proxy. A test registers a queue of replies
under a key (``PUT /_scripts/{key}``) and puts ``[script:<key>]`` in the conversation; every chat
completion whose messages carry that marker is answered with the key's next reply. Keys keep many
concurrent tests (pytest-xdist) apart on one server process. Running out of replies or forgetting
the marker is an HTTP error, never a silent default, so a test that calls the model more often
than it scripted fails loudly. ``model_replies`` answer every call naming a given model (say a
summariser) with one fixed reply, outside the queue. Forgetting a key (``DELETE /_scripts/{key}``)
ends the waits of its replies still in flight, so a test that scripted a hang lets it go.

Like llama.cpp it renders prompts with a (fixed, fake) chat template and tokenizes them
(``/apply-template``, ``/tokenize``), so a client counting tokens that way predicts the completion's
``prompt_tokens`` exactly; and like a prefix cache it reports in ``cached_tokens`` how many leading
tokens a prompt shares with the key's previous prompt for the same model.

Run: ``python -m tests.fakes.scripted_model --host 127.0.0.1 --port 18500``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
import zlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

logger = logging.getLogger(__name__)

MARKER = re.compile(r"\[script:([^\]\s]+)\]")
"""The first marker found in the messages, in order, selects the script."""

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}


class ScriptedToolCall(BaseModel):
    """One native tool call; ``arguments`` is sent as a JSON string, as OpenAI does, or
    ``raw_arguments`` verbatim instead (say cut-off JSON, as a model stopped mid-call writes)."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None
    raw_arguments: str | None = None


class Reply(BaseModel):
    """One scripted model answer (or a scripted HTTP error when ``status`` is set)."""

    content: str | None = None
    tool_calls: list[ScriptedToolCall] | None = None
    delay_s: float = 0.0  # sleep before answering, to hold a call in flight
    chunk_delay_s: float = 0.0  # sleep between streamed chunks, to observe tokens arriving
    status: int | None = None
    malformed: bool = False  # a 200 whose body is not JSON, as a broken server might send
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None  # e.g. "length": cut off at max_tokens (default: by reply)


class Script(BaseModel):
    replies: list[Reply] = Field(default_factory=list)
    model_replies: dict[str, Reply] = Field(default_factory=dict)  # by requested model, reused


class TemplateRequest(BaseModel):
    messages: list[Any]
    tools: list[Any] | None = None


class TokenizeRequest(BaseModel):
    """llama.cpp's body; its other fields (add_special, with_pieces, ...) are ignored."""

    content: str


class LoadOverride(BaseModel):
    """Extra load reported by /metrics on top of what is really in flight; server-wide, or for
    one model (``?model=``), whose own /metrics?model= then reports only that model's load."""

    running: int = 0
    queued: int = 0
    token_usage: float | None = None  # None: derived from in-flight prompt tokens


@dataclass
class _KeyState:
    replies: deque[Reply]
    model_replies: dict[str, Reply]
    served: int = 0  # queued replies only: model replies never run out
    requests: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    last_tokens: dict[str, list[int]] = field(default_factory=dict)  # by requested model
    forgotten: asyncio.Event = field(default_factory=asyncio.Event)  # ends replies' delays
    first_tokens: list[float] = field(default_factory=list)  # time.time() of each first token

    def record_prompt(self, model: str, tokens: list[int], prompt_tokens: int) -> int:
        """Record a served prompt; returns its cached tokens: the leading tokens it shares with
        the previous prompt for this model, which a prefix cache would still hold."""
        pairs = zip(self.last_tokens.get(model, []), tokens, strict=False)
        shared = sum(1 for _ in itertools.takewhile(lambda pair: pair[0] == pair[1], pairs))
        self.last_tokens[model] = tokens
        cached = min(shared, prompt_tokens)  # a scripted prompt_tokens may be the smaller
        entry = {"model": model, "prompt_tokens": prompt_tokens, "cached_tokens": cached}
        self.prompts.append(entry)
        return cached


@dataclass
class _ServerState:
    scripts: dict[str, _KeyState] = field(default_factory=dict)
    running: int = 0
    running_tokens: int = 0
    load: LoadOverride = field(default_factory=LoadOverride)
    ids: Iterator[int] = field(default_factory=itertools.count)
    # the same per requested model name, so tests can load one model and leave the rest alone
    running_by_model: Counter[str] = field(default_factory=Counter)
    tokens_by_model: Counter[str] = field(default_factory=Counter)
    load_by_model: dict[str, LoadOverride] = field(default_factory=dict)
    scrapes: Counter[str] = field(default_factory=Counter)  # GET /metrics by ?model= ("": none)


def estimate_tokens(text: str) -> int:
    """Completion tokens of a reply nobody tokenizes: four characters a token, at least one."""
    return max(1, len(text) // 4)


def tokenize(text: str) -> list[int]:
    """Deterministic stand-in for a tokenizer: a stable id per four-character chunk, so equal
    text prefixes give equal token prefixes."""
    return [zlib.crc32(text[i : i + 4].encode()) % 100_000 for i in range(0, len(text), 4)]


def _texts(messages: list[Any]) -> Iterator[str]:
    """Every piece of text the model would be shown, in conversation order."""
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            yield from (p["text"] for p in content if isinstance(p, dict) and "text" in p)
        for call in message.get("tool_calls") or []:
            yield str((call.get("function") or {}).get("arguments", ""))


def render_prompt(messages: list[Any], tools: list[Any] | None = None) -> str:
    """A fixed stand-in chat template: tools first, one block a message, the assistant's turn."""
    text = f"<|tools|>\n{json.dumps(tools, sort_keys=True)}\n" if tools else ""
    for message in messages:
        if isinstance(message, dict):
            content = "\n".join(_texts([message]))
            text += f"<|{message.get('role')}|>\n{content}\n"
    return text + "<|assistant|>\n"


def find_script_key(messages: list[Any]) -> str | None:
    for text in _texts(messages):
        if match := MARKER.search(str(text)):
            return match.group(1)
    return None


def _error(status: int, message: str, code: str | None = None) -> JSONResponse:
    """An OpenAI-style error body, which LiteLLM passes on with the message intact."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


@dataclass
class _Answer:
    """One reply being served: counted in flight until released, rendered as JSON or SSE."""

    reply: Reply
    n: int
    model: str
    prompt_tokens: int
    cached_tokens: int
    state: _ServerState
    first_tokens: list[float] = field(default_factory=list)  # the key's, noted when sent
    released: bool = False

    def __post_init__(self) -> None:
        self.state.running += 1
        self.state.running_tokens += self.prompt_tokens
        self.state.running_by_model[self.model] += 1
        self.state.tokens_by_model[self.model] += self.prompt_tokens

    def release(self) -> None:
        """Idempotent, so the stream's end and the response's background task can both call it."""
        if not self.released:
            self.released = True
            self.state.running -= 1
            self.state.running_tokens -= self.prompt_tokens
            self.state.running_by_model[self.model] -= 1
            self.state.tokens_by_model[self.model] -= self.prompt_tokens

    def calls(self) -> list[dict[str, Any]]:
        return [
            {"id": c.id or f"call_{self.n}_{i}", "type": "function",
             "function": {"name": c.name, "arguments": _arguments(c)}}
            for i, c in enumerate(self.reply.tool_calls or [])
        ]  # fmt: skip

    def usage(self) -> dict[str, Any]:
        arguments = (c["function"]["arguments"] for c in self.calls())
        written = (self.reply.content or "") + "".join(arguments)
        done = self.reply.completion_tokens
        done = estimate_tokens(written) if done is None else done
        prompt = self.prompt_tokens
        return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done,
                "prompt_tokens_details": {"cached_tokens": self.cached_tokens}}  # fmt: skip

    def head(self, kind: str) -> dict[str, Any]:
        created = int(time.time())
        return {"id": f"chatcmpl-scripted-{self.n}", "object": kind, "created": created,
                "model": self.model}  # fmt: skip

    def finish_reason(self) -> str:
        if self.reply.finish_reason:
            return self.reply.finish_reason
        return "tool_calls" if self.reply.tool_calls else "stop"

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.reply.content}
        if calls := self.calls():
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "logprobs": None,
                  "finish_reason": self.finish_reason()}  # fmt: skip
        return {**self.head("chat.completion"), "choices": [choice], "usage": self.usage()}

    async def stream(self, include_usage: bool) -> AsyncIterator[str]:
        """OpenAI SSE chunks: role, content pieces, tool-call deltas, finish, [usage], [DONE]."""
        head = self.head("chat.completion.chunk")
        usage_field = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return f"data: {json.dumps({**head, 'choices': [choice], **usage_field})}\n\n"

        pieces = re.findall(r"\s*\S+\s*", self.reply.content or "")
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": piece} for piece in pieces]
        for i, call in enumerate(self.calls()):
            name, arguments = call["function"]["name"], call["function"]["arguments"]
            opening = {**call, "function": {"name": name, "arguments": ""}}
            deltas.append({"tool_calls": [{"index": i, **opening}]})
            deltas.append({"tool_calls": [{"index": i, "function": {"arguments": arguments}}]})
        try:
            first = True
            for delta in deltas:
                if first and delta.get("content"):  # the first token leaves now
                    first = False
                    self.first_tokens.append(time.time())
                yield chunk(delta)
                await asyncio.sleep(self.reply.chunk_delay_s)
            yield chunk({}, self.finish_reason())
            if include_usage:
                yield f"data: {json.dumps({**head, 'choices': [], 'usage': self.usage()})}\n\n"
            yield "data: [DONE]\n\n"
        finally:
            self.release()


def _arguments(call: ScriptedToolCall) -> str:
    return json.dumps(call.arguments) if call.raw_arguments is None else call.raw_arguments


def _prometheus(gauges: list[tuple[str, str, str, float]]) -> str:
    lines = []
    for name, labels, help_text, value in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name}{labels} {value}"]
    return "\n".join(lines) + "\n"


def create_app(model_names: tuple[str, ...] = ("fake-model",), kv_tokens: int = 8192) -> FastAPI:
    """The server; its state lives in the app, so each in-process app is isolated."""
    app = FastAPI(title="scripted-model")
    state = _ServerState()

    def unknown(key: str) -> JSONResponse:
        return _error(404, f"script '{key}' is not registered", "script_not_registered")

    @app.put("/_scripts/{key}")
    async def put_script(key: str, script: Script) -> dict[str, int]:
        """Register or replace a key's replies; its count, recorded requests and prompts reset."""
        state.scripts[key] = _KeyState(deque(script.replies), script.model_replies)
        return {"remaining": len(script.replies), "served": 0}

    @app.get("/_scripts/{key}", response_model=None)
    async def get_script(key: str) -> dict[str, int] | JSONResponse:
        if (script := state.scripts.get(key)) is None:
            return unknown(key)
        return {"remaining": len(script.replies), "served": script.served}

    @app.get("/_scripts/{key}/requests", response_model=None)
    async def get_requests(key: str) -> list[dict[str, Any]] | JSONResponse:
        script = state.scripts.get(key)
        return unknown(key) if script is None else script.requests

    @app.get("/_scripts/{key}/prompts", response_model=None)
    async def get_prompts(key: str) -> list[dict[str, Any]] | JSONResponse:
        """Per served completion, in order: model, prompt_tokens and cached_tokens."""
        script = state.scripts.get(key)
        return unknown(key) if script is None else script.prompts

    @app.get("/_scripts/{key}/first_tokens", response_model=None)
    async def get_first_tokens(key: str) -> list[float] | JSONResponse:
        """Per streamed reply with text, in order: when its first token was sent (Unix time,
        the wall clock of this machine)."""
        script = state.scripts.get(key)
        return unknown(key) if script is None else script.first_tokens

    @app.delete("/_scripts/{key}", status_code=204)
    async def delete_script(key: str) -> None:
        """Forget the key; its replies still waiting out their delay are answered now."""
        if (script := state.scripts.pop(key, None)) is not None:
            script.forgotten.set()

    @app.put("/_load")
    async def put_load(load: LoadOverride, model: str | None = None) -> LoadOverride:
        if model is None:
            state.load = load
        else:
            state.load_by_model[model] = load
        return load

    @app.get("/_load")
    async def get_load(model: str | None = None) -> dict[str, Any]:
        """The extra load set, and how often /metrics was read (for that model)."""
        load = state.load if model is None else state.load_by_model.get(model, LoadOverride())
        return {**load.model_dump(), "scrapes": state.scrapes[model or ""]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "request body is not JSON")
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list):
            return _error(400, "'messages' must be a list")
        if (key := find_script_key(messages)) is None:
            logger.warning("chat completion without a [script:<key>] marker")
            return _error(400, "no script marker [script:<key>] found in messages", "no_marker")
        if (script := state.scripts.get(key)) is None:
            return _error(409, f"script '{key}' is not registered", "script_not_registered")
        script.requests.append(body)
        model = str(body.get("model") or model_names[0])
        if (reply := script.model_replies.get(model)) is None:
            if not script.replies:
                logger.warning("script %r exhausted after %d replies", key, script.served)
                message = f"script '{key}' is exhausted: all {script.served} replies were served"
                return _error(409, message, "script_exhausted")
            reply = script.replies.popleft()
            script.served += 1
        tokens = tokenize(render_prompt(messages, body.get("tools")))
        prompt_tokens = len(tokens) if reply.prompt_tokens is None else reply.prompt_tokens
        cached_tokens = 0  # a scripted error is no completion: neither recorded nor cached
        if reply.status is None:
            cached_tokens = script.record_prompt(model, tokens, prompt_tokens)
        answer = _Answer(
            reply, next(state.ids), model, prompt_tokens, cached_tokens, state, script.first_tokens
        )
        streaming = False
        try:
            if reply.delay_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(script.forgotten.wait(), reply.delay_s)
            if reply.status is not None:
                message = f"scripted HTTP {reply.status} from script '{key}'"
                return _error(reply.status, message, "scripted_error")
            if reply.malformed:
                return Response('{"choices": [{"message": {"content": "cut o', 200,
                                media_type="application/json")  # fmt: skip
            if not body.get("stream"):
                return JSONResponse(answer.completion())
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            streaming = True  # the stream releases when done; the task covers one never begun
            events, done = answer.stream(include_usage), BackgroundTask(answer.release)
            return StreamingResponse(events, media_type="text/event-stream", background=done)
        finally:
            if not streaming:
                answer.release()

    @app.post("/apply-template")
    async def apply_template(request: TemplateRequest) -> dict[str, str]:
        """llama.cpp's: the prompt a chat completion with these messages and tools is given."""
        return {"prompt": render_prompt(request.messages, request.tools)}

    @app.post("/tokenize")
    async def tokenize_text(request: TokenizeRequest) -> dict[str, list[int]]:
        return {"tokens": tokenize(request.content)}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        entry = {"object": "model", "created": 0, "owned_by": "scripted"}
        return {"object": "list", "data": [{"id": name, **entry} for name in model_names]}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics(model: str | None = None) -> PlainTextResponse:
        """The load gauges llama.cpp and SGLang expose, as admission control reads them:
        the whole server's, or with ``?model=`` only the requests for that model name."""
        state.scrapes[model or ""] += 1
        if model is None:
            load, running, tokens = state.load, state.running, state.running_tokens
        else:
            load = state.load_by_model.get(model, LoadOverride())
            running, tokens = state.running_by_model[model], state.tokens_by_model[model]
        running, queued = running + load.running, load.queued
        usage = load.token_usage
        usage = min(1.0, tokens / kv_tokens) if usage is None else usage
        label = f'{{model_name="{model or model_names[0]}"}}'
        text = _prometheus([
            ("llamacpp:requests_processing", "", "Number of requests processing.", running),
            ("llamacpp:requests_deferred", "", "Number of requests deferred.", queued),
            ("sglang:num_running_reqs", label, "The number of running requests.", running),
            ("sglang:num_queue_reqs", label, "The number of requests in the queue.", queued),
            ("sglang:token_usage", label, "The token usage.", usage),
        ])  # fmt: skip
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18500)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    app = create_app()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
