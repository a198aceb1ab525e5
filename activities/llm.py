"""Model calls through the LiteLLM proxy: one activity is one turn of the agent loop."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.db.events import EventRepository, NewEvent
from activities.db.messages import MessageRepository, NewMessage
from activities.db.models import Message
from activities.db.steps import StepRepository
from activities.db.tasks import StepCounters
from activities.heartbeat import heartbeating
from activities.model_admission import AdmissionGate
from activities.model_replies import parse_model_reply
from activities.model_requests import ChatMessage, build_chat_request
from activities.tools.registry import ToolRegistry
from workflows.contracts.model_turns import (
    MODEL_REQUEST_REJECTED,
    MODEL_SERVER_SATURATED,
    MODEL_SERVER_SATURATED_RETRY_DELAY,
    ModelTurnRequest,
    ModelTurnResult,
)
from workflows.contracts.tool_calls import ToolCall

# Statuses that will not get better by asking again: bad request, auth, unknown model.
REJECTED_STATUSES = {400, 401, 403, 404, 422}


class LlmActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        registry: ToolRegistry,
        model_calls: asyncio.Semaphore | None = None,
        admission: AdmissionGate | None = None,
    ) -> None:
        """`http` is already pointed at the LiteLLM proxy and carries its key; `model_calls`
        caps the requests in flight at once (one semaphore per worker pool), None: no cap;
        `admission` holds calls to a saturated model server (one gate per worker process)."""
        self._sessions = session_factory
        self._http = http
        self._registry = registry
        self._model_calls = model_calls
        self._admission = admission

    @activity.defn
    async def model_turn(self, request: ModelTurnRequest) -> ModelTurnResult:
        task_id, step_key = uuid.UUID(request.task_id), f"model:{request.iteration}"
        async with self._sessions() as session:
            done = await StepRepository(session).find(task_id, step_key)
            if done is not None:  # an earlier attempt got the reply: don't pay for it twice
                return await _result_of_recorded_turn(session, step_key, done)
            rows = await MessageRepository(session).load(task_id, request.message_ids)

        tools = [self._registry.get(name) for name in request.tools]
        body: dict[str, Any] = build_chat_request(
            request.tool_call_format, [_chat_message(row) for row in rows], tools
        )
        body.update(
            model=request.model, temperature=request.temperature, max_tokens=request.max_tokens
        )
        # before the pool's slot: a held low-priority call must not keep a high one waiting
        await self._wait_for_capacity(request)
        # heartbeats go on while the turn waits for a model-call slot, too
        reply, duration_ms = await heartbeating(self._complete_in_slot(body))

        message = reply["choices"][0]["message"]
        usage = reply.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        parsed = parse_model_reply(
            request.tool_call_format,
            message,
            offered_tools=request.tools,
            call_id_prefix=f"call-{request.iteration}",
        )
        event = NewEvent(
            "llm_call",
            {
                "iteration": request.iteration,
                "model": request.model,
                "served_by": reply.get("model"),
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "duration_ms": duration_ms,
                "tool_calls": [call.name for call in parsed.tool_calls],
                "problems": parsed.problems,
                "invalid_calls": parsed.invalid_calls,
                "final_text": parsed.final_text,
            },
        )
        async with self._sessions.begin() as session:
            row = await StepRepository(session).record(
                task_id,
                step_key,
                NewMessage(
                    "assistant",
                    parsed.content,
                    tool_calls=[call.model_dump() for call in parsed.tool_calls] or None,
                ),
                event,
                StepCounters(
                    llm_calls=1,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    iterations=request.iteration + 1,
                ),
            )
        return ModelTurnResult(
            message_id=row.id,
            tool_calls=parsed.tool_calls,
            final_text=parsed.final_text,
            invalid_calls=parsed.invalid_calls,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    async def _wait_for_capacity(self, request: ModelTurnRequest) -> None:
        """Wait while the model's server is saturated (activities/model_admission.py). Held past
        the longest hold, the activity gives its slot back and Temporal retries it; on its last
        attempt the call goes ahead instead: saturation delays a task, it never fails it."""
        gate = self._admission
        if gate is None:
            return
        info = activity.info()
        earlier_ms, earlier_reason = _earlier_hold(info.heartbeat_details)
        started = time.monotonic()

        def progress() -> tuple[int, dict[str, Any] | None]:  # carried over to a retry
            reason = gate.reason(request.model)
            held_ms = earlier_ms + int((time.monotonic() - started) * 1000)
            return held_ms, reason.as_data() if reason else earlier_reason

        admission = await heartbeating(
            gate.admit(request.model, request.priority), details=progress
        )
        policy = info.retry_policy
        last = policy is not None and 0 < policy.maximum_attempts <= info.attempt
        if admission.timed_out and not last:
            raise ApplicationError(
                f"model server of {request.model} saturated: the call waited "
                f"{admission.held_seconds:.0f}s and is retried later",
                type=MODEL_SERVER_SATURATED,
                next_retry_delay=MODEL_SERVER_SATURATED_RETRY_DELAY,
                category=ApplicationErrorCategory.BENIGN,
            )
        if admission.reason is None and not earlier_ms:
            return  # never held
        reason = admission.reason.as_data() if admission.reason else earlier_reason
        held_ms = earlier_ms + int(admission.held_seconds * 1000)
        event = NewEvent(
            "model_call_held",
            {
                "iteration": request.iteration,
                "model": request.model,
                "priority": request.priority,
                "held_ms": held_ms,
                "attempt": info.attempt,
                "admitted_after_timeout": admission.timed_out,
                **(reason or {}),
            },
        )
        async with self._sessions.begin() as session:  # once per step, however many attempts
            step_key = f"model:{request.iteration}:held"
            await EventRepository(session).add(uuid.UUID(request.task_id), step_key, event)

    async def _complete_in_slot(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """The reply, and the call's duration in ms (not counting the wait for a slot)."""
        if self._model_calls is None:
            started = time.monotonic()
            reply = await self._complete(body)
        else:
            async with self._model_calls:
                started = time.monotonic()
                reply = await self._complete(body)
        return reply, int((time.monotonic() - started) * 1000)

    async def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.post("/v1/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise ApplicationError(f"model gateway unreachable: {type(exc).__name__}") from exc
        if response.status_code in REJECTED_STATUSES:
            raise ApplicationError(
                f"model gateway rejected the request ({response.status_code}): "
                f"{_error_text(response)}",
                type=MODEL_REQUEST_REJECTED,
                non_retryable=True,
            )
        if response.status_code >= 400:
            raise ApplicationError(
                f"model gateway failed ({response.status_code}): {_error_text(response)}"
            )
        data: dict[str, Any] = response.json()
        return data


def _earlier_hold(details: Any) -> tuple[int, dict[str, Any] | None]:
    """What earlier attempts of this turn spent held, from their last heartbeat."""
    try:
        held_ms, reason = details
        return int(held_ms), reason if isinstance(reason, dict) else None
    except (TypeError, ValueError):
        return 0, None


def _chat_message(row: Message) -> ChatMessage:
    return ChatMessage(
        role=row.role,
        content=row.content,
        tool_calls=[ToolCall.model_validate(c) for c in row.tool_calls or []],
        tool_call_id=row.tool_call_id,
        name=row.name,
    )


async def _result_of_recorded_turn(
    session: AsyncSession, step_key: str, row: Message
) -> ModelTurnResult:
    """Rebuild a turn's result from what its first attempt recorded."""
    event = await EventRepository(session).find(row.task_id, step_key)
    data = event.data if event is not None else {}
    calls = [ToolCall.model_validate(c) for c in row.tool_calls or []]
    return ModelTurnResult(
        message_id=row.id,
        tool_calls=calls,
        final_text=None if calls else data.get("final_text", row.content or ""),
        invalid_calls=data.get("invalid_calls") or {},
    )


def _error_text(response: httpx.Response) -> str:
    """The proxy's own message, short; never our request (it may hold user data)."""
    try:
        error = response.json().get("error", {})
        text = error.get("message") if isinstance(error, dict) else str(error)
    except ValueError:
        text = response.text
    return (text or "")[:300]
