"""Bodies of a task's transcript (GET /v1/tasks/{id}/messages) and of a follow-up message
(POST /v1/tasks/{id}/messages)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from activities.db.models import Message


class MessageOut(BaseModel):
    id: int
    role: str = Field(description="`system`, `user`, `assistant` or `tool`.")
    content: str | None
    tool_calls: list[dict[str, Any]] | None = Field(
        description="Tool calls the assistant asked for in this message."
    )
    tool_call_id: str | None = Field(description="For `tool` messages: the call answered.")
    name: str | None = Field(description="For `tool` messages: the tool's name.")
    kind: Literal["message", "summary"] = Field(
        default="message",
        description="`summary`: made by the memory step; from then on the model sees it in "
        "place of the messages in `summary_of` (which stay here, whole).",
    )
    summary_of: list[int] | None = Field(
        default=None, description="For a summary: the ids of the messages it replaced."
    )
    created_at: datetime

    @classmethod
    def from_row(cls, message: Message) -> MessageOut:
        return cls(
            id=message.id,
            role=message.role,
            content=message.content,
            tool_calls=message.tool_calls,
            tool_call_id=message.tool_call_id,
            name=message.name,
            kind="summary" if message.summary_of else "message",
            summary_of=message.summary_of,
            created_at=message.created_at,
        )


class MessageList(BaseModel):
    items: list[MessageOut] = Field(description="The transcript, in order.")


class MessageCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"content": "Use metric units, please."}]},
    )

    content: str = Field(
        min_length=1,
        description="The follow-up, as text. Limited to the gateway's `max_input_bytes` "
        "(UTF-8 bytes; 64 KiB by default).",
    )

    @field_validator("content")
    @classmethod
    def _content_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain more than whitespace")
        return value


class MessageAccepted(BaseModel):
    message_id: int = Field(description="The stored message's id (see the transcript).")
    task_id: uuid.UUID
