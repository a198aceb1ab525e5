"""The Langfuse trace exporter the activities are given (activities/trace_export.py): each hook
queues the step and returns; one background task per worker process reads what else the
observation needs from Postgres (the prompt, the task and approval rows, the task's family) and
hands it to the SDK, which sends in batches from its own thread. A failure is logged and
dropped: the task goes on whatever happens here.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.approvals import ApprovalRepository
from activities.db.messages import MessageRepository, NewMessage
from activities.db.models import Task
from activities.langfuse_export import observations
from activities.langfuse_export.emitter import LangfuseEmitter
from activities.langfuse_export.families import TaskFamilies
from activities.langfuse_export.ids import task_observation_id
from activities.langfuse_export.observations import Observation
from activities.prompts import prompt_body
from activities.tools.registry import ToolRegistry
from activities.trace_export import TraceExport
from workflows.contracts.delegation import CloseChildRequest
from workflows.contracts.memory import SummarizeRequest
from workflows.contracts.model_turns import ModelTurnRequest
from workflows.contracts.tool_calls import ToolCallRequest

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 10_000  # steps waiting to be exported; beyond, new ones are dropped (logged)
DRAIN_SECONDS = 10.0  # on close, how long the queued steps get before the final flush

Job = Callable[[], Awaitable[None]]


class LangfuseExport(TraceExport):
    def __init__(
        self,
        emitter: LangfuseEmitter,
        session_factory: async_sessionmaker[AsyncSession],
        registry: ToolRegistry,
    ) -> None:
        """`registry` renders a model call's prompt as it was sent (activities/prompts.py)."""
        self._emitter = emitter
        self._sessions = session_factory
        self._registry = registry
        self._families = TaskFamilies(session_factory)
        self._queue: asyncio.Queue[Job] = asyncio.Queue(QUEUE_LIMIT)
        self._worker: asyncio.Task[None] | None = None
        self._dropped = 0

    # ---- the hooks: queue and return ----

    def task_finished(self, task_id: str) -> None:
        self._submit(lambda: self._task(task_id))

    def model_call(
        self, request: ModelTurnRequest, event: dict[str, Any], reply: NewMessage
    ) -> None:
        ended, data = time.time_ns(), dict(event)
        self._submit(lambda: self._model_call(request, data, reply, ended))

    def tool_call(
        self, request: ToolCallRequest, event: dict[str, Any], result: str, is_error: bool
    ) -> None:
        ended, data = time.time_ns(), dict(event)
        self._submit(
            lambda: self._send(observations.tool_call(request, data, result, is_error, ended))
        )

    def summary(self, request: SummarizeRequest, event: dict[str, Any], content: str) -> None:
        ended, data = time.time_ns(), dict(event)
        self._submit(lambda: self._send(observations.summary(request, data, content, ended)))

    def approval_ended(self, approval_id: str) -> None:
        ended = time.time_ns()
        self._submit(lambda: self._approval(approval_id, ended))

    def delegation(self, request: CloseChildRequest, result: str) -> None:
        ended = time.time_ns()
        self._submit(lambda: self._delegation(request, result, ended))

    async def aclose(self) -> None:
        """Export what is queued (for DRAIN_SECONDS at most), then flush the SDK's batch."""
        if self._worker is not None:
            try:
                await asyncio.wait_for(self._queue.join(), DRAIN_SECONDS)
            except TimeoutError:
                logger.warning("Langfuse export: %d steps not exported", self._queue.qsize())
            self._worker.cancel()
        await asyncio.to_thread(self._emitter.shutdown)

    # ---- the background side ----

    def _submit(self, job: Job) -> None:
        try:
            if self._worker is None:
                self._worker = asyncio.get_running_loop().create_task(self._run())
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                logger.warning("Langfuse export is behind: %d steps dropped", self._dropped)
        except Exception:
            logger.exception("Langfuse export: a step could not be queued")

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await job()
            except Exception:
                logger.warning("Langfuse export: a step was not exported", exc_info=True)
            finally:
                self._queue.task_done()

    async def _send(self, observation: Observation) -> None:
        family = await self._families.of(observation.task_id)
        parent = (
            family.delegated_by if observation.is_task else task_observation_id(observation.task_id)
        )
        self._emitter.emit(observation, family, parent)

    async def _task(self, task_id: str) -> None:
        async with self._sessions() as session:
            row = await session.get(Task, uuid.UUID(task_id))
        if row is not None:
            await self._send(observations.task(row, time.time_ns()))

    async def _model_call(
        self, request: ModelTurnRequest, event: dict[str, Any], reply: NewMessage, ended: int
    ) -> None:
        output: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            output["tool_calls"] = reply.tool_calls
        observation = observations.model_call(request, event, output, ended)
        observation.input = await self._prompt(request)
        observation.metadata["tools"] = request.tools
        await self._send(observation)

    async def _prompt(self, request: ModelTurnRequest) -> list[dict[str, Any]]:
        """The messages the model was sent, rebuilt as the turn built them."""
        async with self._sessions() as session:
            rows = await MessageRepository(session).load(
                uuid.UUID(request.task_id), request.message_ids
            )
        tools = [self._registry.get(name) for name in request.tools if name in self._registry]
        body = prompt_body(request.tool_call_format, rows, tools, request.max_tool_result_chars)
        messages: list[dict[str, Any]] = body["messages"]
        return messages

    async def _approval(self, approval_id: str, ended: int) -> None:
        async with self._sessions() as session:
            row = await ApprovalRepository(session).find(uuid.UUID(approval_id))
        if row is not None:
            await self._send(observations.approval(row, ended))

    async def _delegation(self, request: CloseChildRequest, result: str, ended: int) -> None:
        child = None
        if request.child_task_id is not None:
            async with self._sessions() as session:
                child = await session.get(Task, uuid.UUID(request.child_task_id))
        await self._send(observations.delegation(request, result, child, ended))
