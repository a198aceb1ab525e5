"""Tool execution: one activity runs one tool call and records its result as a message.

A tool's failure is an answer, not a crash: it goes back to the model as the tool result.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.db.engine import autocommitting
from activities.db.events import NewEvent
from activities.db.messages import NewMessage
from activities.db.models import Message
from activities.db.outages import outlasting_outages
from activities.db.steps import StepRepository
from activities.db.tasks import StepCounters
from activities.db.tool_results import earlier_result
from activities.dry_runs import dry_run_result, is_dry_run
from activities.heartbeat import HeartbeatDetails, heartbeating
from activities.kept_steps import keeper, kept_outcome
from activities.task_workspace import TaskWorkspace, WorkspaceQuota
from activities.tools.context import ToolContext, use_tool_context
from activities.tools.errors import ToolArgumentError, ToolError, UnknownToolError
from activities.tools.processes import ToolCrashed, ToolProcesses
from activities.tools.registry import ToolRegistry
from activities.trace_export import NO_TRACE_EXPORT, TraceExport
from workflows.contracts.tool_calls import ToolCall, ToolCallRequest, ToolCallResult

# characters of a tool result kept in the transcript; what the model sees is cut further, per
# agent (max_tool_result_chars, activities/prompts.py)
RESULT_LIMIT = 1_000_000
ERROR_PREFIX = "error: "


class ToolCallActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        registry: ToolRegistry,
        processes: ToolProcesses | None = None,
        workspace_quota: WorkspaceQuota | None = None,
        trace: TraceExport = NO_TRACE_EXPORT,
    ) -> None:
        """`processes` runs each call in a child process under its limits (default limits when
        not given); the file tools work in the task's workspace in Postgres, within the quota."""
        self._sessions = session_factory
        self._registry = registry
        self._processes = processes or ToolProcesses()
        self._quota = workspace_quota or WorkspaceQuota()
        self._trace = trace  # told of each recorded result

    @activity.defn
    async def run_tool(self, request: ToolCallRequest) -> ToolCallResult:
        """Heartbeats for the whole attempt, so a dead worker is noticed within
        policies.HEARTBEAT_TIMEOUT whatever step it died in."""
        details = HeartbeatDetails()
        return await heartbeating(self._run(request, details), details=details)

    async def _run(self, request: ToolCallRequest, details: HeartbeatDetails) -> ToolCallResult:
        call = request.call
        task_id, step_key = uuid.UUID(request.task_id), f"tool:{request.iteration}:{call.id}"
        workspace = TaskWorkspace(self._sessions, task_id, self._quota)
        kept = kept_outcome(step_key)
        if kept is not None:  # an earlier attempt made the call but could not record it
            made = MadeCall.model_validate(kept)
            workspace.restore(made.changes)
            return await self._record(request, made, workspace, details)

        async def recorded() -> Message | None:
            async with autocommitting(self._sessions) as session:
                return await StepRepository(session).find(task_id, step_key)

        done = await outlasting_outages(recorded, "tool call: reading")
        if done is not None:
            content = done.content or ""
            return ToolCallResult(
                message_id=done.id,
                is_error=content.startswith(ERROR_PREFIX),
                digest=result_digest(call.name, content),
            )

        started = time.monotonic()
        is_error = False
        cost_usd = price = 0.0  # a call that ran (even to an error) costs what its tool says
        ignored: list[str] = []
        dry_run = cached = False
        # the MCP server a call goes to is audited even when the call never reaches it
        mcp_server = (
            self._registry.get(call.name).mcp_server if call.name in self._registry else None
        )
        try:
            if request.rejection is not None:
                raise ToolError(request.rejection)
            tool = self._registry.get(call.name)
            ignored = tool.unknown_arguments(call.arguments)
            if request.dry_run is not None and is_dry_run(request.dry_run, tool.side_effects):
                dry_run = True
                tool.validate(call.arguments)  # wrong arguments fail as they would live
                result = dry_run_result(call.name, call.arguments, request.dry_run)
            elif tool.idempotent and (earlier := await self._earlier(task_id, call)) is not None:
                cached, result = True, earlier  # costs nothing: the tool does not run
            else:
                price = tool.cost_usd
                context = ToolContext(task_id=request.task_id, tenant_id=None, workspace=workspace)
                with use_tool_context(context):
                    result = await tool.invoke(call.arguments, self._processes)
            cost_usd = price
        except (UnknownToolError, ToolArgumentError) as exc:  # never ran: costs nothing
            is_error, result = True, f"{ERROR_PREFIX}{exc}"
        except ToolError as exc:  # the tool's own answer, or a call the approver refused
            is_error, result = True, f"{ERROR_PREFIX}{exc}"
            cost_usd = price  # 0 for a refused call: it fails before its tool is looked up
        except ToolCrashed as exc:  # raised in the tool's own process: only its type came back
            activity.logger.error("tool %s failed in its process: %s", call.name, exc)
            is_error, result = True, f"{ERROR_PREFIX}tool {call.name} failed ({exc})"
            cost_usd = price
        except Exception as exc:  # a tool's bug is reported to the model, and logged for us
            activity.logger.exception("tool %s failed", call.name)
            is_error, result = True, f"{ERROR_PREFIX}tool {call.name} failed ({type(exc).__name__})"
            cost_usd = price
        duration_ms = int((time.monotonic() - started) * 1000)
        if len(result) > RESULT_LIMIT:
            result = result[:RESULT_LIMIT] + f"\n[truncated {len(result) - RESULT_LIMIT} chars]"

        made = MadeCall(
            result=result,
            is_error=is_error,
            cost_usd=cost_usd,
            event={
                "iteration": request.iteration,
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "result": result[:2000],
                "is_error": is_error,
                "ignored_arguments": ignored,
                "duration_ms": duration_ms,
                "cost_usd": cost_usd,
                "attempt": activity.info().attempt,
                **({"dry_run": True} if dry_run else {}),
                **({"cached": True} if cached else {}),
                **({"mcp_server": mcp_server} if mcp_server else {}),
            },
        )
        return await self._record(request, made, workspace, details)

    async def _earlier(self, task_id: uuid.UUID, call: ToolCall) -> str | None:
        """The result this task already has for the same call of an idempotent tool."""

        async def read() -> str | None:
            async with autocommitting(self._sessions) as session:
                return await earlier_result(session, task_id, call.name, call.arguments)

        return await outlasting_outages(read, "tool call: reading an earlier result")

    async def _record(
        self,
        request: ToolCallRequest,
        made: MadeCall,
        workspace: TaskWorkspace,
        details: HeartbeatDetails,
    ) -> ToolCallResult:
        """The call is made: an outage delays its recording (the outcome kept in Temporal
        meanwhile, for a retry elsewhere: kept_steps.py), it never makes the call again."""
        call = request.call
        task_id, step_key = uuid.UUID(request.task_id), f"tool:{request.iteration}:{call.id}"

        async def record() -> tuple[Message, bool, str]:
            event = NewEvent("tool_call", dict(made.event))
            async with self._sessions.begin() as session:
                # the call's file changes are written with its result, or not at all
                refused = None if made.is_error else await workspace.apply(session)
                text, failed = (
                    (made.result, made.is_error)
                    if refused is None
                    else (f"{ERROR_PREFIX}{refused}", True)
                )
                if refused is not None:
                    event.data.update(result=text[:2000], is_error=True)
                row = await StepRepository(session).record(
                    task_id,
                    step_key,
                    NewMessage("tool", text, tool_call_id=call.id, name=call.name),
                    event,
                    StepCounters(tool_calls=1, cost_usd=made.cost_usd),
                )
            return row, failed, text

        def outcome() -> dict[str, Any]:
            kept = made.model_copy(update={"changes": workspace.changes()})
            return kept.model_dump(mode="json")

        keep = keeper(details, step_key, outcome)
        row, is_error, result = await outlasting_outages(record, "tool call: recording", keep)
        self._trace.tool_call(request, made.event, result, is_error)
        return ToolCallResult(
            message_id=row.id, is_error=is_error, digest=result_digest(call.name, result)
        )


class MadeCall(BaseModel):
    """A tool call's outcome before it is recorded (and as a retry finds it kept)."""

    result: str
    is_error: bool
    cost_usd: float
    event: dict[str, Any]  # the tool_call event's data
    changes: dict[str, str | None] = Field(default_factory=dict)  # workspace.changes()


def result_digest(tool: str, result: str) -> str:
    """Short and stable: the workflow keeps recent ones to tell new results from repeats."""
    return hashlib.sha256(f"{tool}\0{result}".encode()).hexdigest()[:16]
