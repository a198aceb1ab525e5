"""Bodies of the OpenAI-shaped doors: POST /v1/responses and POST /v1/chat/completions. Other
OpenAI parameters (tools, temperature, store, …) are accepted and ignored: the agent's spec
decides its tools and sampling."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class InputText(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["input_text", "output_text", "text"] = "input_text"
    text: str


class InputMessage(BaseModel):
    """A message of the conversation: the user's request, system or developer instructions."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[InputText]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class ApprovalResponse(BaseModel):
    """A person's answer to an `mcp_approval_request` of the previous response."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["mcp_approval_response"]
    approval_request_id: str = Field(min_length=1, max_length=100)
    approve: bool
    reason: str | None = Field(default=None, max_length=2000)


class ResponseCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(
        min_length=1, max_length=220, description="The agent: `agentry/<agent>` or its name."
    )
    input: str | list[InputMessage | ApprovalResponse] = Field(
        description="The request as text, or message items (and `mcp_approval_response` items "
        "answering the previous response's approval requests)."
    )
    instructions: str | None = Field(
        default=None,
        max_length=32_000,
        description="Added after the agent's system prompt as the user's instructions; the "
        "agent's own prompt always stays.",
    )
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    max_output_tokens: int | None = Field(
        default=None, ge=1, description="The task's `max_tokens` budget (prompt + completion)."
    )
    max_tool_calls: int | None = Field(
        default=None, ge=1, description="The task's `max_tool_calls` budget, all turns together."
    )
    background: bool = Field(default=False, description="Answer at once, `queued`.")
    stream: bool = False
    previous_response_id: str | None = Field(
        default=None,
        max_length=100,
        description="Continue that response's task: a user message is the conversation's next "
        "turn, `mcp_approval_response` items decide its approval requests.",
    )

    @field_validator("input")
    @classmethod
    def _has_input(
        cls, value: str | list[InputMessage | ApprovalResponse]
    ) -> str | list[InputMessage | ApprovalResponse]:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must contain more than whitespace")
        if isinstance(value, list) and not value:
            raise ValueError("give at least one item")
        return value


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "system", "developer", "assistant", "tool"]
    content: str | list[InputText] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class ChatCompletionCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=220)
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)


def conversation_input(messages: list[Any]) -> tuple[str, str | None]:
    """(the task's input, the caller's instructions) from messages: system and developer
    messages are instructions; the last user message is the request, and any earlier turns
    come before it as the conversation so far."""
    instructions = [m.text() for m in messages if m.role in ("system", "developer")]
    turns = [m for m in messages if m.role in ("user", "assistant") and m.text().strip()]
    if not turns or turns[-1].role != "user":
        raise ValueError("the messages must end with a user message")
    request = turns[-1].text()
    if len(turns) > 1:
        history = "\n".join(f"{m.role}: {m.text()}" for m in turns[:-1])
        request = f"The conversation so far:\n{history}\n\nThe user now says:\n{request}"
    return request, "\n\n".join(instructions) or None
