"""One import point for the repositories; each lives in the module of its concept."""

from __future__ import annotations

from activities.db.api_keys import ApiKeyRepository, TenantRepository
from activities.db.events import EventRepository, MessageRepository
from activities.db.tasks import FINAL_STATUSES, NewTask, TaskKey, TaskPage, TaskRepository

__all__ = [
    "FINAL_STATUSES",
    "ApiKeyRepository",
    "EventRepository",
    "MessageRepository",
    "NewTask",
    "TaskKey",
    "TaskPage",
    "TaskRepository",
    "TenantRepository",
]
