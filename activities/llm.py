"""Model calls through the LiteLLM proxy: one activity is one turn of the agent loop."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.chat_completions import TextSink, complete_chat
from activities.db.engine import autocommitting
from activities.db.events import EventRepository, NewEvent
from activities.db.outages import outlasting_outages
from activities.db.steps import StepInputs, StepRepository
from activities.heartbeat import HeartbeatDetails, heartbeating
from activities.kept_steps import keeper, kept_outcome
from activities.model_admission import AdmissionGate
from activities.model_turn_records import (
    FromTranscript,
    planned_turn_record,
    result_of_recorded_turn,
    store_turn,
    turn_record,
)
from activities.prompts import prompt_body
from activities.spend_guard import SpendGuard
from activities.token_counts import TokenCounter, TokenCountError
from activities.tool_call_repair import (
    after_a_repeated_refusal,
    ask_to_call_body,
    repeats_refusal,
)
from activities.tools.registry import ToolRegistry
from activities.trace_export import NO_TRACE_EXPORT, TraceExport
from activities.turn_deltas import DeltaPublisher
from activities.turn_rules import joined_answer, must_call_tool, planned_calls
from workflows.contracts.memory import CONTEXT_EXCEEDED
from workflows.contracts.model_turns import (
    MODEL_SERVER_SATURATED,
    MODEL_SERVER_SATURATED_RETRY_DELAY,
    ModelTurnRequest,
    ModelTurnResult,
)


class LlmActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        registry: ToolRegistry,
        model_calls: asyncio.Semaphore | None = None,
        admission: AdmissionGate | None = None,
        tokens: TokenCounter | None = None,
        spend: SpendGuard | None = None,
        trace: TraceExport = NO_TRACE_EXPORT,
        deltas: DeltaPublisher | None = None,
    ) -> None:
        """`http` is already pointed at the LiteLLM proxy and carries its key; `model_calls`
        caps the requests in flight at once (one semaphore per worker pool), None: no cap;
        `admission` holds calls to a saturated model server (one gate per worker process);
        `tokens` measures prompts before they are sent (None: they are not measured);
        `spend` holds calls to their tenant's monthly spend limit (None: not held);
        `trace` is told of each recorded reply (activities/trace_export.py);
        `deltas` publishes each turn's text as it comes while the task is followed live
        (`_streamed`; None: replies are never streamed)."""
        self._sessions = session_factory
        self._http = http
        self._registry = registry
        self._model_calls = model_calls
        self._admission = admission
        self._tokens = tokens
        self._spend = spend
        self._trace = trace
        self._deltas = deltas

    @activity.defn
    async def model_turn(self, request: ModelTurnRequest) -> ModelTurnResult:
        """Heartbeats for the whole attempt, so a dead worker is noticed within
        policies.HEARTBEAT_TIMEOUT whatever step it died in."""
        details = HeartbeatDetails()
        return await heartbeating(self._turn(request, details), details=details)

    async def _turn(self, request: ModelTurnRequest, details: HeartbeatDetails) -> ModelTurnResult:
        task_id, step_key = uuid.UUID(request.task_id), f"model:{request.iteration}"
        kept = kept_outcome(step_key)
        if kept is not None:  # an earlier attempt got the reply but could not record it
            reply, duration_ms, counted = kept["reply"], kept["duration_ms"], kept["counted"]
            facts = FromTranscript.kept(kept)
            return await self._record(request, reply, duration_ms, counted, details, facts)

        async def recorded_or_transcript() -> ModelTurnResult | StepInputs:
            async with autocommitting(self._sessions) as session:
                read = await StepRepository(session).inputs(task_id, step_key, request.message_ids)
                if read.done is not None:  # an earlier attempt got the reply: don't pay twice
                    return await result_of_recorded_turn(session, step_key, read.done)
                return read

        read = await outlasting_outages(recorded_or_transcript, "model turn: reading")
        if isinstance(read, ModelTurnResult):
            return read
        rows = read.transcript
        planned = planned_calls(request.first_calls, request.fan_out, request.iteration, rows)
        joined = joined_answer(rows)
        if planned or joined is not None:  # the loop's own turn: the model is not asked
            turn = planned_turn_record(request, planned, self._registry, joined)
            row = await store_turn(
                self._sessions, request, turn, "model turn: recording first calls"
            )
            return turn.result(row.id)

        tools = [self._registry.get(name) for name in request.tools]
        must_call = must_call_tool(request.tool_choice, rows)
        body = prompt_body(
            request.tool_call_format, rows, tools, request.max_tool_result_chars, must_call
        )
        counted = await self._measure(request, body)
        if counted is not None and request.summarize_threshold is not None:
            if counted > request.summarize_threshold:
                return ModelTurnResult(message_id=0, needs_summary=True, counted_tokens=counted)
        body.update(
            model=request.model, temperature=request.temperature, max_tokens=request.max_tokens
        )
        # before the pool's slot: a held low-priority call must not keep a high one waiting
        await self._wait_for_capacity(request, details)
        # a tenant the read found without a limit reserves nothing (a limit set since then
        # holds from the next turn; this one's cost counts when it is recorded)
        if self._spend is not None and read.spend_limited is not False:
            await self._spend.reserve_call(task_id, step_key, body, counted)
        try:
            deltas = self._turn_deltas(request) if self._streamed(request, read) else None
            reply, duration_ms = await self._complete_in_slot(body, deltas)
        except BaseException:
            if self._spend is not None:
                await self._spend.release(task_id, step_key)
            raise
        facts = FromTranscript.of(request, rows)
        if facts.asked_again and tools and repeats_refusal(reply):  # tool_call_repair.py
            again = ask_to_call_body(request, rows, tools, reply)
            second, second_ms = await self._complete_in_slot(again)
            reply, duration_ms = after_a_repeated_refusal(reply, second), duration_ms + second_ms
        return await self._record(request, reply, duration_ms, counted, details, facts)

    async def _record(
        self,
        request: ModelTurnRequest,
        reply: dict[str, Any],
        duration_ms: int,
        counted: int | None,
        details: HeartbeatDetails,
        facts: FromTranscript,
    ) -> ModelTurnResult:
        """The reply is paid for: an outage delays its recording (the reply kept in Temporal
        meanwhile, for a retry elsewhere: kept_steps.py), it never buys it twice."""
        step_key = f"model:{request.iteration}"
        turn = turn_record(request, reply, duration_ms, counted, self._registry, facts)
        keep = keeper(
            details,
            step_key,
            lambda: {
                "reply": reply,
                "duration_ms": duration_ms,
                "counted": counted,
                **dataclasses.asdict(facts),
            },
        )
        row = await store_turn(
            self._sessions, request, turn, "model turn: recording the reply", keep
        )
        self._trace.model_call(request, turn.event.data, turn.message)
        return turn.result(row.id)

    async def _measure(self, request: ModelTurnRequest, body: dict[str, Any]) -> int | None:
        """The prompt's tokens when they matter (it may pass the summary threshold or the
        context budget); None when it is certainly small enough or nothing is checked. A
        prompt that cannot fit is refused here, before it costs a model call."""
        limits = [request.summarize_threshold]
        if request.context is not None:
            limits.append(request.context.prompt_tokens)
        known = [limit for limit in limits if limit is not None]
        if self._tokens is None or not known or TokenCounter.upper_bound(body) <= min(known):
            return None
        try:
            counted = await self._tokens.count(request.model, body)
        except TokenCountError as exc:  # retried: the server may be back soon
            activity.logger.warning("counting the prompt's tokens failed", exc_info=exc)
            raise ApplicationError(str(exc)) from None  # short: chat_completions.py says why
        budget = request.context
        if (
            budget is not None
            and counted > budget.prompt_tokens
            and (request.summarize_threshold is None or counted <= request.summarize_threshold)
        ):
            raise ApplicationError(
                f"the prompt is {counted} tokens; {request.model} takes at most "
                f"{budget.prompt_tokens} ({budget.context_window} context tokens less "
                f"{budget.output_reserve} kept for the reply)",
                {"prompt_tokens": counted, "limit": budget.prompt_tokens},
                type=CONTEXT_EXCEEDED,
                non_retryable=True,
            )
        return counted

    async def _wait_for_capacity(
        self, request: ModelTurnRequest, details: HeartbeatDetails
    ) -> None:
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

        details.current = progress  # carried by the turn's heartbeats
        admission = await gate.admit(request.model, request.priority)
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

        async def record() -> None:  # once per step, however many attempts
            async with self._sessions.begin() as session:
                step_key = f"model:{request.iteration}:held"
                await EventRepository(session).add(uuid.UUID(request.task_id), step_key, event)

        await outlasting_outages(record, "model turn: recording the time held")

    def _streamed(self, request: ModelTurnRequest, read: StepInputs) -> bool:
        """Whether the turn streams its call and publishes its text: while somebody follows
        the task live (activities/db/followers.py; a call in one piece costs the proxy less),
        and always for the task's first turn, whose stream a client opens right after
        submitting: the turn may start before the stream is open."""
        return self._deltas is not None and (request.iteration == 0 or read.followed)

    def _turn_deltas(self, request: ModelTurnRequest) -> TextSink | None:
        """Where this attempt's text goes as the model writes it (activities/turn_deltas.py)."""
        if self._deltas is None:
            return None
        return self._deltas.turn(request.task_id, request.iteration, activity.info().attempt)

    async def _complete_in_slot(
        self, body: dict[str, Any], deltas: TextSink | None = None
    ) -> tuple[dict[str, Any], int]:
        """The reply, and the call's duration in ms (not counting the wait for a slot)."""
        if self._model_calls is None:
            started = time.monotonic()
            reply = await complete_chat(self._http, body, deltas)
        else:
            async with self._model_calls:
                started = time.monotonic()
                reply = await complete_chat(self._http, body, deltas)
        return reply, int((time.monotonic() - started) * 1000)


def _earlier_hold(details: Any) -> tuple[int, dict[str, Any] | None]:
    """What earlier attempts of this turn spent held, from their last heartbeat."""
    try:
        held_ms, reason = details
        return int(held_ms), reason if isinstance(reason, dict) else None
    except (TypeError, ValueError):
        return 0, None
