"""A summariser's text that loops or is empty is refused; the extract that replaces it keeps
every replaced message's opening within the summary's size."""

from activities.summary_fallback import BYTES_PER_TOKEN, extractive_summary, rejection_reason


def test_a_text_looping_on_one_phrase_is_refused() -> None:
    reason = rejection_reason("The task: " * 120)
    assert reason is not None and reason.startswith("repetitive")
    looping = "The agent also provides a retries feature that allows it to retry the task. " * 9
    assert rejection_reason(looping) is not None


def test_an_empty_text_is_refused_and_a_real_summary_is_kept() -> None:
    assert rejection_reason("  \n") == "empty"
    summary = (
        "The user asked for the total of the March invoices. The calculator gave 7006743 for "
        "1234 * 5678 + 91; invoices.csv has 14 rows, of which 3 are unpaid (ids 7, 9 and 12). "
        "Left to do: email the unpaid list to finance and report the total."
    )
    assert rejection_reason(summary) is None
    assert rejection_reason("ok ok ok ok") is None  # too short to judge


def test_the_extract_keeps_each_messages_opening_within_the_summary_size() -> None:
    items = [
        "User: " + "please add these numbers " * 40,
        "Assistant called calculator({'expression': '1234*5678+91'})",
        "Result of calculator: 7006743",
        "Assistant: " + "the answer is below " * 60,
    ]
    text = extractive_summary(items, max_tokens=100)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[1] == items[1] and lines[2] == items[2]  # short items are kept whole
    assert lines[0].startswith("User: please add") and lines[0].endswith("…")
    assert len(text.encode()) <= 100 * BYTES_PER_TOKEN + 8


def test_a_copy_of_the_prompt_is_refused() -> None:
    copied = "The task:\nMigrate billing.\n\nWork to summarise:\nUser: the host is pg-billing-7"
    assert rejection_reason(copied, ("Work to summarise:",)) == "a copy of its prompt"
    assert rejection_reason("The task: migrate billing to pg 16.", ("Work to summarise:",)) is None
