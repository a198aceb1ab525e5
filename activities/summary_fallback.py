"""When the summariser's text cannot be trusted, the summary is built from the turns themselves.

Small summariser models (the embedded `agent-small` is a 135M model) sometimes loop on one
phrase until their token limit, copy out the prompt they were given, or return nothing. Such a
text would replace real turns and
the agent would lose what it knew, so it is refused and an extractive summary takes its place:
each replaced message cut to its opening, tool results and numbers included, within the
summary's size.
"""

from __future__ import annotations

import re

NGRAM = 4
MIN_WORDS = 24  # shorter texts cannot loop in a way worth judging
MAX_REPEATED_SHARE = 0.5  # of the text's word 4-grams that are repeats of an earlier one
BYTES_PER_TOKEN = 3  # a summary of `n` tokens is given about `3 n` bytes of extract


def rejection_reason(text: str, prompt_labels: tuple[str, ...] = ()) -> str | None:
    """Why this summary must not replace the turns (None: it may). `prompt_labels` are the
    headings of the summariser's prompt: a text that contains one is a copy of the prompt."""
    words = re.findall(r"\S+", text.lower())
    if not words:
        return "empty"
    if any(label in text for label in prompt_labels):
        return "a copy of its prompt"
    if len(words) < MIN_WORDS:
        return None
    grams = [tuple(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)]
    repeated = 1 - len(set(grams)) / len(grams)
    if repeated > MAX_REPEATED_SHARE:
        return f"repetitive ({repeated:.0%} of its word 4-grams repeat)"
    return None


def extractive_summary(items: list[str], max_tokens: int) -> str:
    """The opening of every item, oldest first, sharing `max_tokens` worth of bytes evenly;
    an item shorter than its share leaves the rest to the others."""
    budget = max_tokens * BYTES_PER_TOKEN
    lines = [" ".join(item.split()) for item in items if item.strip()]
    kept: list[str] = []
    for index, line in enumerate(lines):
        share = max(40, budget // max(1, len(lines) - index))
        if len(line.encode()) > share:
            line = line.encode()[: share - 4].decode(errors="ignore").rstrip() + " …"
        kept.append(line)
        budget -= len(line.encode()) + 1
        if budget <= 0:
            break
    return "\n".join(kept)
