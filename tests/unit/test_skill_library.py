"""Skill files load with every version or fail naming the file; the chooser finds the right one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from activities.skills.embeddings import SentenceEncoder
from activities.skills.library import (
    Skill,
    SkillChooser,
    SkillError,
    SkillLibrary,
    matching_text,
)
from services.settings import Settings

SQL_SOP = "1. Find the tables.\n2. Write one query.\n3. Show the result as a table."


def _write(skills_dir: Path, relative: str, text: str) -> Path:
    path = skills_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _skill_file(description: str = "Write SQL reports", extra: str = "", body: str = "SOP") -> str:
    return f"---\ndescription: {description}\n{extra}---\n{body}\n"


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder.load(Settings(_env_file=None).packages_dir)


def test_every_version_of_every_skill_is_loaded(tmp_path: Path) -> None:
    _write(tmp_path, "sql-reports/1.md", _skill_file("Old SQL reports"))
    _write(
        tmp_path,
        "sql-reports/2.md",
        _skill_file(
            "Write SQL queries that aggregate sales",
            "tags: [sql, reporting]\ntools: [run_sql]\n"
            "success_criteria:\n  - the query ran\n  - totals are shown\n",
            f"\n{SQL_SOP}\n\n",
        ),
    )
    _write(tmp_path, "code_review/10.md", _skill_file("Review Python code"))
    _write(tmp_path, "code_review/9.md", _skill_file("Review code"))
    library = SkillLibrary.load(tmp_path)

    assert library.names() == ["code_review", "sql-reports"]
    latest = library.latest("sql-reports")
    assert latest is not None and latest.version == 2
    assert latest.tags == ["sql", "reporting"] and latest.tools == ["run_sql"]
    assert latest.success_criteria == ["the query ran", "totals are shown"]
    assert latest.body == SQL_SOP
    old = library.get("sql-reports", 1)
    assert old is not None and old.description == "Old SQL reports" and old.tags == []
    assert [(s.name, s.version) for s in library.latest_skills()] == [
        ("code_review", 10),
        ("sql-reports", 2),
    ]
    assert library.get("sql-reports", 3) is None
    assert library.latest("nope") is None and library.get("nope", 1) is None


def test_prompt_text_carries_the_sop_and_its_done_criteria(tmp_path: Path) -> None:
    _write(tmp_path, "sql/1.md", _skill_file(extra="success_criteria: [the query ran]\n"))
    _write(tmp_path, "plain/1.md", _skill_file(body="Just do it."))
    library = SkillLibrary.load(tmp_path)
    with_criteria = library.latest("sql")
    plain = library.latest("plain")
    assert with_criteria is not None and plain is not None
    assert with_criteria.prompt_text() == "## Skill: sql (v1)\nSOP\nDone when:\n- the query ran\n"
    assert plain.prompt_text() == "## Skill: plain (v1)\nJust do it.\n"


def test_a_missing_skills_directory_is_an_empty_library(tmp_path: Path) -> None:
    library = SkillLibrary.load(tmp_path / "skills")
    assert library.names() == [] and library.latest_skills() == []


@pytest.mark.parametrize(
    ("relative", "text", "problem"),
    [
        ("x/1.md", "---\ntags: [a]\n---\nSOP\n", "front matter: description: field required"),
        ("x/1.md", _skill_file(description="'  '"), "front matter: description: string should"),
        ("x/1.md", _skill_file(extra="owner: me\n"), "front matter: owner: extra inputs"),
        ("x/1.md", _skill_file(extra="tags: sql\n"), "front matter: tags: input should be"),
        ("x/1.md", _skill_file(extra="tools: [1]\n"), "front matter: tools.0: input should be"),
        ("x/1.md", "description: no fences\n\nSOP\n", "must start with a `---` line"),
        ("x/1.md", "---\ndescription: never closed\nSOP\n", "no closing `---` line"),
        ("x/1.md", "---\ndescription: [unclosed\n---\nSOP\n", "front matter is not YAML"),
        ("x/1.md", "---\n- a list\n---\nSOP\n", "front matter must be a mapping"),
        ("x/1.md", _skill_file(body="  \n"), "the SOP after the front matter is empty"),
        ("x/v1.md", _skill_file(), "not a skill version"),
        ("x/01.md", _skill_file(), "not a skill version"),
        ("x/1.txt", _skill_file(), "not a skill version"),
    ],
)
def test_a_bad_skill_file_is_refused_naming_the_file(
    tmp_path: Path, relative: str, text: str, problem: str
) -> None:
    _write(tmp_path, "good/1.md", _skill_file())
    path = _write(tmp_path, relative, text)
    with pytest.raises(SkillError) as error:
        SkillLibrary.load(tmp_path)
    assert str(error.value).startswith(f"{path}: ")
    assert problem.lower() in str(error.value).lower()


@pytest.mark.parametrize("name", ["Sql", "1sql", "sql reports", "a" * 65])
def test_a_badly_named_skill_directory_is_refused(tmp_path: Path, name: str) -> None:
    _write(tmp_path, f"{name}/1.md", _skill_file())
    with pytest.raises(SkillError, match="not a skill directory") as error:
        SkillLibrary.load(tmp_path)
    assert str(tmp_path / name) in str(error.value)


def test_a_skill_without_versions_or_a_stray_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SkillError, match="no versions"):
        SkillLibrary.load(tmp_path)
    (tmp_path / "empty").rmdir()
    _write(tmp_path, "notes.md", "stray")
    with pytest.raises(SkillError, match="notes.md: not a skill directory"):
        SkillLibrary.load(tmp_path)


def _skill(name: str, description: str, tags: Sequence[str] = ()) -> Skill:
    return Skill(name=name, version=1, description=description, tags=list(tags), body="SOP")


EXAMPLE_SKILLS = [
    _skill("sql-reports", "Write SQL queries that aggregate sales by month or customer"),
    _skill("code-review", "Review Python code changes for bugs"),
    _skill("travel-policy", "Answer questions about business travel and expense rules"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How much revenue did we make each month?", ["sql-reports"]),  # 0.47
        ("Show me total sales per customer for 2024", ["sql-reports"]),  # 0.58
        ("Can I book business class on a 7-hour flight?", ["travel-policy"]),  # 0.35
        ("Can you check this Python function for bugs?", ["code-review"]),  # 0.71
        ("What's 2+2?", []),  # best 0.05
        ("Book me a table for dinner", []),  # sql-reports 0.26
        ("Write a haiku about autumn", []),  # code-review 0.15
    ],
)
def test_the_chooser_picks_the_skill_an_input_calls_for(
    encoder: SentenceEncoder, text: str, expected: list[str]
) -> None:
    chosen = SkillChooser(encoder, EXAMPLE_SKILLS).choose(text)
    assert [skill.name for skill, _ in chosen] == expected


def test_choices_are_best_first_and_at_most_limit(encoder: SentenceEncoder) -> None:
    chooser = SkillChooser(encoder, EXAMPLE_SKILLS)
    ranked = chooser.choose("Which customers spent the most last quarter?", limit=3, threshold=0)
    scores = [score for _, score in ranked]
    assert ranked[0][0].name == "sql-reports" and scores == sorted(scores, reverse=True)
    assert len(chooser.choose("How much revenue did we make?", limit=1, threshold=-1)) == 1
    assert chooser.choose("How much revenue did we make?", limit=0) == []
    assert SkillChooser(encoder, []).choose("How much revenue did we make?") == []


class _TableEncoder:
    """Fixed unit vectors per text, so ties and the threshold's edge are exact."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self._vectors = vectors

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.array([self._vectors[text] for text in texts], dtype=np.float32)


def test_ties_go_by_name_and_the_threshold_is_inclusive() -> None:
    skills = [_skill("b-skill", "b"), _skill("a-skill", "a"), _skill("c-skill", "c")]
    encoder = _TableEncoder(
        {"a": [0.5, 0.0], "b": [0.5, 0.0], "c": [0.25, 0.0], "input": [1.0, 0.0]}
    )
    chosen = SkillChooser(encoder, skills).choose("input", limit=3, threshold=0.25)
    assert [(skill.name, score) for skill, score in chosen] == [
        ("a-skill", 0.5),
        ("b-skill", 0.5),
        ("c-skill", 0.25),
    ]


def test_a_close_call_chooses_none_when_a_margin_is_asked() -> None:
    skills = [_skill("rankings", "r"), _skill("dates", "d"), _skill("joins", "j")]
    encoder = _TableEncoder(
        {"r": [1.0, 0.0], "d": [0.0, 1.0], "j": [0.6, 0.8], "close": [0.42, 0.39],
         "clear": [0.55, 0.1], "mid": [0.5, 0.43]}
    )  # fmt: skip
    chooser = SkillChooser(encoder, skills)
    names = lambda text, **kw: [s.name for s, _ in chooser.choose(text, limit=1, **kw)]  # noqa: E731
    assert names("close") == ["joins"]  # 0.564 against rankings' 0.42: a clear winner
    assert names("close", margin=0.2) == []  # ... but not by 0.2
    assert names("clear", margin=0.05) == ["rankings"]  # 0.55 against joins' 0.41
    # with two to choose, each must clear every skill left out: rankings (0.5) is too close
    # to dates (0.43), joins (0.644) is not
    assert [s.name for s, _ in chooser.choose("mid", limit=2, margin=0.1)] == ["joins"]
    assert len(chooser.choose("mid", limit=2, margin=0.05)) == 2


def test_tags_are_matched_with_the_description() -> None:
    skill = _skill("travel-policy", "Answer travel questions", ["flights", "hotels"])
    assert matching_text(skill) == "Answer travel questions flights, hotels"
    assert matching_text(_skill("plain", "Answer travel questions")) == "Answer travel questions"
