"""What the activities tell a trace exporter, one call per step once the step is recorded, so
an exported trace shows what Postgres holds. This default exports nothing (no exporter set);
activities/langfuse_export/ sends to Langfuse.

A hook returns at once and never raises: exporting must not fail, slow or retry a step.
"""

from __future__ import annotations

from typing import Any

from activities.db.messages import NewMessage
from workflows.contracts.delegation import CloseChildRequest
from workflows.contracts.memory import SummarizeRequest
from workflows.contracts.model_turns import ModelTurnRequest
from workflows.contracts.tool_calls import ToolCallRequest


class TraceExport:
    """The hooks, each doing nothing; an exporter overrides them."""

    def task_finished(self, task_id: str) -> None:
        """The task's final status is stored: its own observation is sent now, once (Langfuse
        v4 keeps every copy of an id sent twice)."""

    def model_call(
        self, request: ModelTurnRequest, event: dict[str, Any], reply: NewMessage
    ) -> None:
        """A model reply is recorded: its `llm_call` event's data and the assistant message."""

    def tool_call(
        self, request: ToolCallRequest, event: dict[str, Any], result: str, is_error: bool
    ) -> None:
        """A tool call's result is recorded: its `tool_call` event's data and the result."""

    def summary(self, request: SummarizeRequest, event: dict[str, Any], content: str) -> None:
        """A summary replaced older turns: its `memory` event's data and the summary text."""

    def approval_ended(self, approval_id: str) -> None:
        """An approval's wait ended: decided, or timed out."""

    def delegation(self, request: CloseChildRequest, result: str) -> None:
        """A `delegate` call's result is recorded (the sub-agent ended, or was refused)."""

    async def aclose(self) -> None:
        """Send what is pending (the worker is stopping)."""


NO_TRACE_EXPORT = TraceExport()
