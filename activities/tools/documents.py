"""The researcher's tools: search and read the local documents (agents/docs/*.md).

Each document is cut into passages at its headings; a search ranks them with BM25 over words
(case-blind, a plural's "s" dropped, common words ignored) and returns the best with a citation
`[file#section]` that the answer can carry. Only the folder's markdown files are readable: a
name is looked up among them, never joined into a path.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from activities.tools.errors import ToolError

DOCUMENTS_DIR = Path(__file__).resolve().parents[2] / "agents" / "docs"
NOT_A_DOCUMENT = "README.md"
RESULTS = 3
RELEVANT = 0.5  # of the best passage's score: what else a search returns
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from get how i in is it many much my of on or "
    "the their there to what when where which who why with you your".split()
)
_K1, _B = 1.2, 0.75


@dataclass(frozen=True)
class Passage:
    document: str
    section: str  # the heading's slug, "" for the text before the first subheading
    text: str

    @property
    def citation(self) -> str:
        return f"[{self.document}#{self.section}]" if self.section else f"[{self.document}]"


def search_documents(
    query: Annotated[str, Field(description="What to look for, in a few words.")],
) -> str:
    """Search the company documents; returns the best passages, each with its citation
    [file#section] to quote in the answer."""
    terms = _terms(query)
    if not terms:
        raise ToolError("the query has no words to search for; give a few keywords")
    ranked = _ranked(terms)
    if not ranked:
        return f"No passage mentions {' or '.join(sorted(set(terms)))}."
    return "\n\n".join(f"{passage.citation} {passage.text}" for passage in ranked[:RESULTS])


def read_document(
    name: Annotated[str, Field(description="A document's file name, e.g. 'leave-policy.md'.")],
) -> str:
    """Read one whole company document."""
    documents = _documents()
    wanted = name.strip().removeprefix("[").split("#")[0].removesuffix("]")
    if wanted not in documents:
        known = ", ".join(sorted(documents))
        raise ToolError(f"no document {name!r}; the documents are: {known}")
    return documents[wanted]


@cache
def _documents() -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(DOCUMENTS_DIR.glob("*.md"))
        if path.name != NOT_A_DOCUMENT
    }


@cache
def _passages() -> tuple[Passage, ...]:
    passages = []
    for name, text in _documents().items():
        section, lines = "", list[str]()
        for line in [*text.splitlines(), "## "]:
            if line.startswith("## "):
                body = " ".join(" ".join(lines).split())
                if body:
                    passages.append(Passage(name, section, body))
                section = "-".join(_WORD.findall(line.lower()))
                lines = [line.removeprefix("## ") + ":"]
            elif not line.startswith("# "):
                lines.append(line)
    return tuple(passages)


def _terms(text: str) -> list[str]:
    words = (word for word in _WORD.findall(text.lower()) if word not in _STOP)
    return [word[:-1] if len(word) > 3 and word.endswith("s") else word for word in words]


@cache
def _index() -> tuple[list[Counter[str]], Counter[str], float]:
    counts = [Counter(_terms(passage.text)) for passage in _passages()]
    having = Counter(term for count in counts for term in count)
    average = sum(sum(count.values()) for count in counts) / max(len(counts), 1)
    return counts, having, average


def _ranked(terms: list[str]) -> list[Passage]:
    counts, having, average = _index()
    total = len(counts)
    scored = []
    for passage, count in zip(_passages(), counts, strict=True):
        length = sum(count.values())
        score = 0.0
        for term in set(terms):
            if term in count:
                idf = math.log(1 + (total - having[term] + 0.5) / (having[term] + 0.5))
                tf = count[term]
                score += idf * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * length / average))
        if score > 0:
            scored.append((score, passage))
    scored.sort(key=lambda pair: -pair[0])
    # far weaker matches only distract: a small model answers from the last passage it read
    return [passage for score, passage in scored if score >= RELEVANT * scored[0][0]]


DOCUMENT_TOOLS: tuple[Callable[..., Any], ...] = (search_documents, read_document)
