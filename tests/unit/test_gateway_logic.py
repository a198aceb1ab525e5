"""Pure pieces of the gateway: cursors, problem bodies, request hashes, API keys, URLs."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from activities.db.migrations import sync_database_url
from services.gateway.cursors import InvalidCursorError, decode_cursor, encode_cursor
from services.gateway.errors import describe_validation_errors, is_malformed_json, problem_body
from services.gateway.submission import request_hash
from services.key_service import KEY_PREFIX, generate_api_key, hash_api_key

SOME_ID = "6f1c2b0e-8f55-4b8e-9a65-3c1d7e2f4a90"


def test_cursor_round_trips_created_at_and_id() -> None:
    key = (datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), uuid.uuid4())
    cursor = encode_cursor(key)
    assert "=" not in cursor and "|" not in cursor
    assert decode_cursor(cursor) == key


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "!!!!",
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|not-a-uuid").decode(),
        base64.urlsafe_b64encode(f"yesterday|{SOME_ID}".encode()).decode(),
        base64.urlsafe_b64encode(f"2026-01-01T00:00:00|{SOME_ID}".encode()).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "é",
    ],
)
def test_a_cursor_not_made_by_the_api_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError, match="cursor is not valid"):
        decode_cursor(cursor)


def test_problem_body_has_the_rfc_9457_fields() -> None:
    body = problem_body(404, "task x not found", instance="/v1/tasks/x")
    assert body == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "task x not found",
        "instance": "/v1/tasks/x",
    }
    typed = problem_body(422, "bad", kind="unknown-agent", extra={"available_agents": ["a"]})
    assert typed["type"] == "urn:agentry:problem:unknown-agent"
    assert typed["available_agents"] == ["a"]


def test_validation_errors_name_each_field() -> None:
    errors = [
        {"loc": ("body", "input"), "msg": "Field required", "type": "missing"},
        {"loc": ("query", "limit"), "msg": "Input should be less than or equal to 100"},
    ]
    assert describe_validation_errors(errors) == [
        {"field": "body.input", "message": "Field required", "type": "missing"},
        {
            "field": "query.limit",
            "message": "Input should be less than or equal to 100",
            "type": "value_error",
        },
    ]
    assert not is_malformed_json(errors)
    assert is_malformed_json([{"loc": ("body", 1), "type": "json_invalid"}])


def test_request_hash_ignores_key_order_but_not_content() -> None:
    one = request_hash("assistant", "hi", {"a": 1, "b": [1, 2]})
    assert one == request_hash("assistant", "hi", {"b": [1, 2], "a": 1})
    assert one != request_hash("assistant", "hi ", {"a": 1, "b": [1, 2]})
    assert one != request_hash("other", "hi", {"a": 1, "b": [1, 2]})
    assert one != request_hash("assistant", "hi", {})
    assert len(one) == 64


def test_api_keys_are_random_and_only_their_hash_is_kept() -> None:
    first, second = generate_api_key(), generate_api_key()
    assert first.plaintext != second.plaintext
    assert first.plaintext.startswith(KEY_PREFIX)
    assert len(first.plaintext) == len(KEY_PREFIX) + 43  # 32 bytes, url-safe base64
    assert first.prefix == first.plaintext[:12]
    assert first.key_hash == hash_api_key(first.plaintext)
    assert first.plaintext not in first.key_hash


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+asyncpg://postgres@/agentry?host=/tmp/pg",
            "postgresql+psycopg://postgres@/agentry?host=%2Ftmp%2Fpg",
        ),
        (
            "postgresql+asyncpg://u:p%40ss@db.example:5432/agentry",
            "postgresql+psycopg://u:p%40ss@db.example:5432/agentry",
        ),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_migrations_use_psycopg_with_the_same_url(url: str, expected: str) -> None:
    assert sync_database_url(url) == expected
