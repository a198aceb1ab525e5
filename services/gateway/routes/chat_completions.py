"""POST /v1/chat/completions with `model` = an agent: the simple, synchronous door for clients
that only speak chat completions. It runs the agent as a task and answers with the agent's
final answer as the assistant message, usage included; `stream: true` sends it as chunks.
A task that needs a person's approval, or outlasts `AGENTRY_RESPONSES_WAIT_SECONDS`, cannot
answer here: the error names the task, to follow on /v1/tasks or /v1/responses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from services.gateway.deps import TaskFeedDep, TaskWriterDep
from services.gateway.errors import ProblemError, invalid_field
from services.gateway.openai_errors import openai_error_responses
from services.gateway.response_objects import MODEL_PREFIX, ResponseRef
from services.gateway.response_stream import ResponseState, wait_settled
from services.gateway.schemas.responses import ChatCompletionCreate, conversation_input
from services.gateway.schemas.tasks import BudgetsIn, TaskCreate
from services.gateway.task_intake import IntakeDep, accept_task

router = APIRouter(
    prefix="/v1/chat/completions",
    tags=["openai"],
    responses=openai_error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
)


@router.post("", summary="Run an agent as a chat completion")
async def create_chat_completion(
    body: ChatCompletionCreate, principal: TaskWriterDep, intake: IntakeDep, feed: TaskFeedDep
) -> Any:
    """System and developer messages become the caller's instructions (after the agent's own
    prompt); the last user message is the request, earlier turns its context. Needs role
    `submitter`, `operator` or `admin`."""
    try:
        text, instructions = conversation_input(body.messages)
    except ValueError as exc:
        raise invalid_field("messages", str(exc)) from None
    limit = body.max_completion_tokens or body.max_tokens
    try:
        create = TaskCreate(
            agent=body.model.removeprefix(MODEL_PREFIX),
            input=text,
            metadata=body.metadata,
            budgets=BudgetsIn(max_tokens=limit) if limit else None,
        )
    except ValidationError as exc:
        raise invalid_field("messages", exc.errors()[0]["msg"]) from None
    task, _ = await accept_task(intake, principal.tenant_id, create, instructions=instructions)
    wait = intake.settings.responses_wait_seconds
    ref = ResponseRef(task.id, None)
    state = await wait_settled(intake.sessions, feed, ref, principal.tenant_id, wait)
    assert state is not None  # the task was stored just now, in this tenant
    answer = _answer(state)
    if body.stream:
        return StreamingResponse(_chunks(answer), media_type="text/event-stream")
    return JSONResponse(answer)


def _answer(state: ResponseState) -> dict[str, Any]:
    """The completion, or the ProblemError that says why the agent gave no answer."""
    task, status = state.task, state.status
    if status != "completed":
        if state.turn.waiting_for:
            why = "it waits for a person to approve a tool call"
        elif status in ("queued", "in_progress"):
            why = "it is still running"
        else:
            why = f"it ended {status}: {task.error or task.cancel_reason or 'no answer'}"
        raise ProblemError(
            409,
            f"task {task.id} gave no answer: {why}; follow it at /v1/tasks/{task.id}",
            kind="no-answer",
            extra={"task_id": str(task.id)},
        )
    usage = state.turn.usage()
    cached = usage["input_tokens_details"]["cached_tokens"]
    return {
        "id": f"chatcmpl-{task.id}",
        "object": "chat.completion",
        "created": int(task.created_at.timestamp()),
        "model": MODEL_PREFIX + task.agent,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _answer_text(state)},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": usage["input_tokens"],
            "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["total_tokens"],
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def _answer_text(state: ResponseState) -> str:
    """The turn's last message (a conversation's task holds no result while it stays open)."""
    texts = [i["content"][0]["text"] for i in state.turn.items if i["type"] == "message"]
    return texts[-1] if texts else state.task.output or ""


async def _chunks(answer: dict[str, Any]) -> AsyncIterator[str]:
    """The answer as `chat.completion.chunk`s: the role, the text, the finish, the usage."""
    base = {k: answer[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    text = answer["choices"][0]["message"]["content"]
    for delta, finish in (
        ({"role": "assistant", "content": ""}, None),
        ({"content": text}, None),
        ({}, "stop"),
    ):
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        yield f"data: {json.dumps(base | {'choices': [choice]})}\n\n"
    yield f"data: {json.dumps(base | {'choices': [], 'usage': answer['usage']})}\n\n"
    yield "data: [DONE]\n\n"
