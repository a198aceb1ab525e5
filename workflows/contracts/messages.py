"""Follow-up messages: a user writes to a task while it runs or waits."""

from __future__ import annotations

from pydantic import BaseModel

USER_MESSAGE_ADDED = "user_message_added"
"""Signal name: the gateway stored a follow-up message for the task."""


class UserMessageAdded(BaseModel):
    """Signal `user_message_added`: a follow-up the gateway already stored as a message."""

    message_id: int
