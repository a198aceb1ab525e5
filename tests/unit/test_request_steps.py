"""Requests that name their steps in order, and what the model is told after each result; and
the answer a model gives when it is offered no tools after repeating a call."""

from __future__ import annotations

import uuid

import pytest

from activities.db.models import Message
from activities.model_replies import parse_model_reply
from activities.model_requests import ChatMessage, build_chat_request, final_result_given
from activities.model_turn_records import FromTranscript, turn_record
from activities.request_steps import next_step, steps_of
from activities.tools.registry import default_registry
from workflows.contracts.agents import ToolCallFormat
from workflows.contracts.model_turns import ModelTurnRequest
from workflows.contracts.tool_calls import ToolCall

TEXT = ToolCallFormat.text
REQUEST = "Compute 17*23, then add 1000, then multiply by 3."


@pytest.mark.parametrize(
    ("request_text", "steps"),
    [
        (REQUEST, ["Compute 17*23", "add 1000", "multiply by 3"]),
        ("Multiply 45 by 12 and then subtract 100", ["Multiply 45 by 12", "subtract 100"]),
        ("Write a.txt; then read it back.", ["Write a.txt", "read it back"]),
        ("Sum them. After that, halve it.", ["Sum them", "halve it"]),
        ("What is 2+2?", ["What is 2+2?"]),
        ("Is the theory of thenar muscles sound?", ["Is the theory of thenar muscles sound?"]),
        ("If the file exists then delete it", ["If the file exists then delete it"]),
        ("Since then, what changed?", ["Since then, what changed?"]),
        # sentences are steps unless one is a question (a word problem states, then asks)
        (
            "Read a.md. If it does not exist, create it.",
            ["Read a.md", "If it does not exist, create it"],
        ),
        (
            "I earn $5 an hour. I work 3.5 hours. What do I earn?",
            ["I earn $5 an hour. I work 3.5 hours. What do I earn?"],
        ),
        ("Sum them. Then halve it.", ["Sum them", "halve it"]),
        # a list of steps that ends in "then"; a list of operands is one step
        ("Double it, add 5, then subtract 2", ["Double it", "add 5", "subtract 2"]),
        ("Add 82, 91 and 77, then halve it", ["Add 82, 91 and 77", "halve it"]),
        ("Add 82, 91 and 77", ["Add 82, 91 and 77"]),
        # the value to start from is part of the first step
        ("Start with 10. Double it, then add 5.", ["Start with 10. Double it", "add 5"]),
        # one verb for several files: a step per file, each with the verb
        (
            "Create d/a.txt with 'x' and d/b.txt with 'y'.",
            ["Create d/a.txt with 'x'", "Create d/b.txt with 'y'"],
        ),
        ("Write 'x' to d/a.txt and list your files", ["Write 'x' to d/a.txt and list your files"]),
        # not steps: an abbreviation's full stop, a quotation, a stated fact or a greeting, the
        # operands of an Oxford-comma list, a condition's clause, files without details each
        ("Go to St. Louis. Then buy a hat.", ["Go to St. Louis", "buy a hat"]),
        ("Use e.g. Python. Then run it.", ["Use e.g. Python", "run it"]),
        (
            "Write a.txt with 'Meet at 5. Bring snacks.'",
            ["Write a.txt with 'Meet at 5. Bring snacks.'"],
        ),
        (
            "I earn $5 an hour. I work 3 hours. Compute my pay.",
            ["I earn $5 an hour. I work 3 hours. Compute my pay"],
        ),
        ("Hello! Compute 17*23.", ["Hello! Compute 17*23"]),
        ("Add 3, 4, and 5, then halve it", ["Add 3, 4, and 5", "halve it"]),
        (
            "Double it, add 5, and subtract 2, then halve it",
            ["Double it", "add 5", "subtract 2", "halve it"],
        ),
        ("If ab.txt exists, read it, then delete it", ["If ab.txt exists, read it", "delete it"]),
        ("Compare ab.txt and cd.txt", ["Compare ab.txt and cd.txt"]),
        ("Please create ab.txt and cd.txt", ["Please create ab.txt and cd.txt"]),
    ],
)
def test_a_request_is_split_at_its_order_words(request_text: str, steps: list[str]) -> None:
    assert steps_of(request_text) == steps


def test_a_long_run_of_whitespace_is_read_in_linear_time() -> None:
    # the request is at most 64 KiB; a pattern that backtracks over whitespace would take
    # minutes on this and block the worker's event loop
    for text in ("a" + " " * 60_000 + "x", "," + " " * 60_000 + "x", "and" + "\n" * 60_000,
                 "Read" + " " * 60_000 + "and ab.txt x"):  # fmt: skip
        assert len(steps_of(text)) == 1


def test_the_next_step_is_named_until_none_is_left() -> None:
    assert [next_step(REQUEST, done) for done in range(4)] == [
        "Compute 17*23",
        "add 1000",
        "multiply by 3",
        None,
    ]
    assert next_step("What is 2+2?", 0) is None  # one step: nothing to name


def turns(*results: str) -> list[ChatMessage]:
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content=REQUEST),
    ]
    for n, result in enumerate(results):
        call = ToolCall(id=f"c{n}", name="calculator", arguments={"expression": "x"})
        messages += [
            ChatMessage(role="assistant", tool_calls=[call]),
            ChatMessage(role="tool", content=result, tool_call_id=f"c{n}", name="calculator"),
        ]
    return messages


def test_the_model_is_told_the_first_step_then_each_next_one_with_the_result() -> None:
    tools = default_registry().tools(["calculator"])

    rendered = build_chat_request(TEXT, turns("391", "1391", "4173", "4173"), tools)["messages"]

    assert rendered[1]["content"] == f"{REQUEST}\nStep 1: Compute 17*23."
    results = [m["content"].split("</tool_response>\n")[1] for m in rendered[3::2]]
    assert results == [
        "Step 1 gave 391. Step 2: from 391, add 1000.",
        "Step 2 gave 1391. Step 3: from 1391, multiply by 3.",
        "Step 3 gave 4173, the final result. Answer with it.",
        "Use this result to answer in plain text.",  # a call beyond the steps
    ]
    assert "response_format" not in build_chat_request(TEXT, turns("391"), tools)


def test_a_status_line_is_not_named_as_a_value_to_build_on() -> None:
    messages = [
        ChatMessage(role="user", content="Write 'temp' to drafts/tmp.txt, then delete it."),
        ChatMessage(role="assistant", tool_calls=[ToolCall(id="w", name="write_file")]),
        ChatMessage(role="tool", content="wrote drafts/tmp.txt (4 bytes)", tool_call_id="w"),
    ]
    tools = default_registry().tools(["write_file", "delete_file"])

    rendered = build_chat_request(TEXT, messages, tools)["messages"]

    assert rendered[-1]["content"].endswith("\nStep 1 is done. Step 2: delete it.")


def test_a_summary_or_a_reminder_of_the_loop_is_no_new_request() -> None:
    tools = default_registry().tools(["calculator"])
    messages = turns("391")
    summary = "[Summary of the earlier work: 17*23 is 391, then nothing else.]"
    messages.append(ChatMessage(role="user", content=summary, from_loop=True))
    messages += turns("1391")[2:]

    rendered = build_chat_request(TEXT, messages, tools)["messages"]

    assert rendered[-3]["content"] == summary  # no "Step 1" of its own
    assert rendered[-1]["content"].endswith("Step 2 gave 1391. Step 3: from 1391, multiply by 3.")


def test_the_prompt_of_a_stepped_request_keeps_its_prefix_from_turn_to_turn() -> None:
    tools = default_registry().tools(["calculator"])
    first = build_chat_request(TEXT, turns("391"), tools)["messages"]
    second = build_chat_request(TEXT, turns("391", "1391"), tools)["messages"]

    assert second[: len(first)] == first


def test_offered_no_tools_after_results_the_reply_is_held_to_an_answer() -> None:
    body = build_chat_request(TEXT, turns("391", "391"), [])

    assert "<tools>" not in body["messages"][0]["content"]
    assert body["messages"][-1]["content"].endswith(
        "You already have this result. Answer the user now."
    )
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["final_answer"] and schema["additionalProperties"] is False


def test_an_agent_without_tools_asks_as_before() -> None:
    messages = [ChatMessage(role="user", content="Hi")]

    assert "response_format" not in build_chat_request(TEXT, messages, [])


def test_a_held_answer_is_taken_and_a_call_written_anyway_is_refused() -> None:
    held = parse_model_reply(TEXT, {"content": '{"final_answer": "It is 4173."}'}, [], "c")
    ignored = parse_model_reply(
        TEXT, {"content": '{"name": "calculator", "arguments": {"expression": "1"}}'}, [], "c"
    )

    assert held.final_text == "It is 4173." and not held.tool_calls
    assert ignored.final_text is None
    assert [call.name for call in ignored.tool_calls] == ["calculator"]
    assert "not available" in ignored.invalid_calls[ignored.tool_calls[0].id]


def test_after_the_last_steps_number_the_reply_is_held_to_an_answer() -> None:
    """Left free, the model asked the calculator for "4173" again before it answered."""
    tools = default_registry().tools(["calculator"])
    before = build_chat_request(TEXT, turns("391", "1391"), tools)
    body = build_chat_request(TEXT, turns("391", "1391", "4173"), tools)

    assert final_result_given(TEXT, turns("391", "1391", "4173"))
    last = body["messages"][-1]["content"]
    assert last.endswith("Step 3 gave 4173, the final result. Answer with it.")
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["final_answer"]
    # the tools stay in the prompt: its prefix is the one the server has cached
    assert body["messages"][: len(before["messages"]) - 1] == before["messages"][:-1]
    assert "<tools>" in body["messages"][0]["content"]


@pytest.mark.parametrize(
    "messages",
    [
        turns("391", "1391"),  # a step is left
        turns("391", "1391", "4173", "4173"),  # a call beyond the steps
        turns("391", "1391", "error: division by zero"),  # the last step failed
        turns("391", "1391", "4173")[:-1],  # the model's turn, not a result, is the last
        [ChatMessage(role="user", content="What is 2+2?"), *turns("4")[2:]],  # one step
    ],
)
def test_the_reply_is_left_free_unless_the_last_steps_number_came(
    messages: list[ChatMessage],
) -> None:
    tools = default_registry().tools(["calculator"])
    assert not final_result_given(TEXT, messages)
    assert "response_format" not in build_chat_request(TEXT, messages, tools)


def test_a_turn_after_the_last_steps_number_reads_the_held_answer() -> None:
    rows = [
        Message(id=n, task_id=uuid.UUID(int=1), role=m.role, content=m.content,
                tool_calls=[c.model_dump() for c in m.tool_calls], tool_call_id=m.tool_call_id,
                name=m.name)
        for n, m in enumerate(turns("391", "1391", "4173"))
    ]  # fmt: skip
    request = ModelTurnRequest(
        task_id=str(uuid.UUID(int=1)),
        iteration=4,
        model="m",
        message_ids=[],
        tools=["calculator"],
        tool_call_format=TEXT,
    )
    reply = {"choices": [{"message": {"content": '{"final_answer": "4173"}'}}]}

    facts = FromTranscript.of(request, rows)
    result = turn_record(request, reply, 1, None, default_registry(), facts).result(9)

    assert facts.answer_held and result.final_text == "4173" and not result.tool_calls
