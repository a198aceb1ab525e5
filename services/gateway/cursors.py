"""Opaque list cursors: a task's (created_at, id), so the next page starts right after it.

Opaque so clients pass it back untouched and the encoding can change without an API change.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from activities.db.tasks import TaskKey

_SEPARATOR = "|"


class InvalidCursorError(ValueError):
    """The cursor was not produced by this API (edited, truncated, or from elsewhere)."""


def encode_cursor(key: TaskKey) -> str:
    created_at, task_id = key
    raw = f"{created_at.isoformat()}{_SEPARATOR}{task_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> TaskKey:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        created_text, id_text = raw.split(_SEPARATOR)
        created_at = datetime.fromisoformat(created_text)
        task_id = uuid.UUID(id_text)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidCursorError(
            "cursor is not valid; pass next_cursor from a previous page"
        ) from exc
    if created_at.tzinfo is None:
        raise InvalidCursorError("cursor is not valid; pass next_cursor from a previous page")
    return created_at, task_id
