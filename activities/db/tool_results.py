"""Earlier results of a task's tool calls, for tools whose results depend only on their
arguments (`Tool.idempotent`): the same call again in the same task reuses the first result."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# the call's event (name, exact arguments, no error, not a dry run) and the result its step
# recorded; JSONB `=` compares the arguments exactly, unlike `@>`
_EARLIER_RESULT = text(
    """
    SELECT m.content FROM task_events e
    JOIN messages m ON m.task_id = e.task_id AND m.step_key = e.step_key
    WHERE e.task_id = :task_id AND e.type = 'tool_call' AND e.data->>'name' = :tool
      AND e.data->'arguments' = CAST(:arguments AS jsonb)
      AND e.data->>'is_error' = 'false' AND e.data->'dry_run' IS NULL
    ORDER BY e.id LIMIT 1
    """
)


async def earlier_result(
    session: AsyncSession, task_id: uuid.UUID, tool: str, arguments: dict[str, Any]
) -> str | None:
    """The result of the task's first successful call of `tool` with exactly `arguments`."""
    found = await session.scalar(
        _EARLIER_RESULT,
        {"task_id": task_id, "tool": tool, "arguments": json.dumps(arguments)},
    )
    return None if found is None else str(found)
