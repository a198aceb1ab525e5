"""Bodies of /v1/tasks/{id}/events: the task's step log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from activities.db.models import TaskEvent
from services.gateway.schemas.examples import EXAMPLE_TIME


class EventOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "type": "status",
                    "data": {"status": "queued"},
                    "created_at": EXAMPLE_TIME,
                }
            ]
        }
    )

    id: int = Field(description="Increasing; pass the last one seen as `after` to resume.")
    type: str = Field(
        description="`status`, `llm_call`, `tool_call`, `approval`, `message`, `memory` (older "
        "turns summarised: tokens before and after, the summary's own usage) or `admission` "
        "(a task waits for, then gets, a slot under its tenant's cap)."
    )
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, event: TaskEvent) -> EventOut:
        return cls(id=event.id, type=event.type, data=event.data, created_at=event.created_at)


class EventList(BaseModel):
    items: list[EventOut] = Field(description="Events in the order they happened.")
