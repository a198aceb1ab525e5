"""Opaque list cursors: a row's (created_at, id), so the next page starts right after it.

Tasks and approvals both page newest first on (created_at, id), so one encoding serves both.

Opaque so clients pass it back untouched and the encoding can change without an API change.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from services.gateway.errors import ProblemError

RowKey = tuple[datetime, uuid.UUID]

_SEPARATOR = "|"


class InvalidCursorError(ValueError):
    """The cursor was not produced by this API (edited, truncated, or from elsewhere)."""


def encode_cursor(key: RowKey) -> str:
    created_at, row_id = key
    raw = f"{created_at.isoformat()}{_SEPARATOR}{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> RowKey:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        created_text, id_text = raw.split(_SEPARATOR)
        created_at = datetime.fromisoformat(created_text)
        row_id = uuid.UUID(id_text)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidCursorError(
            "cursor is not valid; pass next_cursor from a previous page"
        ) from exc
    if created_at.tzinfo is None:
        raise InvalidCursorError("cursor is not valid; pass next_cursor from a previous page")
    return created_at, row_id


def page_start(cursor: str | None) -> RowKey | None:
    """The `cursor` query parameter as a key; a cursor not made by this API is a 400."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except InvalidCursorError as exc:
        raise ProblemError(400, str(exc), kind="invalid-cursor") from exc
