"""The files of a task's workspace, as clients list them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class WorkspaceFileOut(BaseModel):
    path: str = Field(description="Relative to the task's workspace.", examples=["drafts/a.md"])
    size: int = Field(description="In bytes.")
    updated_at: datetime


class WorkspaceFileList(BaseModel):
    items: list[WorkspaceFileOut] = Field(description="Every file, by path.")
    total_bytes: int
