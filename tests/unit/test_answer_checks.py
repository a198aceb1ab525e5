"""The named-files check: which files a request names that no tool call has handled yet."""

from __future__ import annotations

from typing import Any

from activities.answer_checks import named_files_reminder, unhandled_files
from activities.db.models import Message


def user(text: str) -> Message:
    return Message(role="user", content=text)


def called(call_id: str, name: str, **arguments: Any) -> Message:
    return Message(
        role="assistant",
        content=None,
        tool_calls=[{"id": call_id, "name": name, "arguments": arguments}],
    )


def result(call_id: str, text: str) -> Message:
    return Message(role="tool", content=text, tool_call_id=call_id)


def test_a_file_named_but_not_written_is_left() -> None:
    transcript = [
        user("Create drafts/a.txt containing 'one' and drafts/b.txt containing 'two'."),
        called("c1", "write_file", path="drafts/a.txt", content="one"),
        result("c1", "wrote drafts/a.txt (3 bytes)"),
    ]
    assert unhandled_files(transcript) == ["drafts/b.txt"]


def test_a_failed_call_counts_the_model_has_read_why() -> None:
    transcript = [
        user("Read drafts/todo.md, then write secret.txt and drafts/done.md."),
        called("c1", "read_file", path="drafts/todo.md"),
        result("c1", "error: no file 'drafts/todo.md' in the workspace"),
        called("c2", "write_file", path="secret.txt", content="x"),
        result("c2", "error: the approver rejected this call: no"),
    ]
    assert unhandled_files(transcript) == ["drafts/done.md"]
    assert named_files_reminder(transcript) == (
        "Not finished yet: the request also names drafts/done.md, which no tool call has "
        "handled. Do that next, then answer."
    )


def test_a_stray_path_written_for_the_one_named_is_told_apart() -> None:
    """The 0.5B model writes the system prompt's example path for the file asked for."""
    request = "Create report.txt with the text: quarterly numbers are final"
    transcript = [
        user(request),
        called("c1", "write_file", path="drafts/notes.md", content="quarterly numbers"),
        result("c1", "wrote drafts/notes.md (17 bytes)"),
    ]
    assert named_files_reminder(transcript) == (
        f"Not finished yet: the path is report.txt, not drafts/notes.md. {request}"
    )
    # the reminder is no new request: after it, the same file is still the one missing
    reminded = [*transcript, user(named_files_reminder(transcript) or "")]
    assert unhandled_files(reminded) == ["report.txt"]
    written = [*reminded, called("c2", "write_file", path="report.txt", content="q")]
    assert named_files_reminder(written) is None


def test_numbers_and_files_of_earlier_requests_are_not_files_of_this_one() -> None:
    transcript = [
        user("Write old.txt."),
        user("What is 3.75 times 2? Answer in a sentence, e.g. like this."),
    ]
    assert unhandled_files(transcript) == []
