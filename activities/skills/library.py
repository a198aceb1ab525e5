"""Skill files on disk and the chooser that picks the ones a task's input calls for.

A skill is `<skills_dir>/<name>/<version>.md`: YAML front matter (description, tags, tools,
success_criteria) between `---` lines, then the SOP in markdown. Versions are kept side by side
so an agent can pin one while a newer one is written. A bad file stops the load with its path
and the problem, rather than an agent silently running without the skill.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Protocol

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

logger = logging.getLogger(__name__)

SKILL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
VERSION_FILE = re.compile(r"^([1-9][0-9]{0,8})\.md$")
FRONT_MATTER_FENCE = "---"
# all-MiniLM-L6-v2 cosine between an input and a one-line description: inputs a skill plainly
# covers scored 0.35-0.71, unrelated ones at most 0.26 (tests/unit/test_skill_library.py)
DEFAULT_THRESHOLD = 0.3

NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class SkillError(ValueError):
    """A skill file is malformed; the message names the file and what is wrong."""


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: NonEmptyText
    tags: list[NonEmptyText] = []
    tools: list[NonEmptyText] = []
    success_criteria: list[NonEmptyText] = []


class Skill(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=SKILL_NAME.pattern)
    version: int = Field(ge=1)
    description: NonEmptyText
    tags: list[str] = []
    tools: list[str] = []
    success_criteria: list[str] = []
    body: NonEmptyText

    def prompt_text(self) -> str:
        """The skill as it is loaded into an agent's prompt."""
        text = f"## Skill: {self.name} (v{self.version})\n{self.body}\n"
        if self.success_criteria:
            text += "Done when:\n" + "".join(f"- {item}\n" for item in self.success_criteria)
        return text


def read_skill(path: Path, name: str, version: int) -> Skill:
    """One skill file, or SkillError naming `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SkillError(f"{path}: not UTF-8 text") from None
    lines = text.splitlines()
    if not lines or lines[0].rstrip() != FRONT_MATTER_FENCE:
        raise SkillError(f"{path}: must start with a `---` line opening the front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() == FRONT_MATTER_FENCE)
    except StopIteration:
        raise SkillError(f"{path}: front matter has no closing `---` line") from None
    try:
        fields = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as error:
        raise SkillError(f"{path}: front matter is not YAML: {error}") from None
    if not isinstance(fields, dict):
        raise SkillError(f"{path}: front matter must be a mapping of fields")
    try:
        front = FrontMatter.model_validate(fields)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg'].lower()}"
            for issue in error.errors()
        )
        raise SkillError(f"{path}: front matter: {problems}") from None
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise SkillError(f"{path}: the SOP after the front matter is empty")
    return Skill(name=name, version=version, body=body, **front.model_dump())


class SkillLibrary:
    """Every version of every skill under one directory."""

    def __init__(self, skills: Sequence[Skill]) -> None:
        self._versions: dict[str, dict[int, Skill]] = {}
        for skill in skills:
            self._versions.setdefault(skill.name, {})[skill.version] = skill

    @classmethod
    def load(cls, skills_dir: Path) -> SkillLibrary:
        """All skills under `skills_dir` (none if it does not exist); SkillError on a bad file."""
        if not skills_dir.exists():
            logger.info("no skills directory at %s", skills_dir)
            return cls([])
        skills: list[Skill] = []
        for skill_dir in sorted(skills_dir.iterdir()):
            if skill_dir.name.startswith("."):
                continue
            if not skill_dir.is_dir() or not SKILL_NAME.match(skill_dir.name):
                raise SkillError(
                    f"{skill_dir}: not a skill directory (a name matching {SKILL_NAME.pattern})"
                )
            skills.extend(_read_versions(skill_dir))
        logger.info("loaded %d skill versions from %s", len(skills), skills_dir)
        return cls(skills)

    def names(self) -> list[str]:
        return sorted(self._versions)

    def get(self, name: str, version: int) -> Skill | None:
        return self._versions.get(name, {}).get(version)

    def latest(self, name: str) -> Skill | None:
        versions = self._versions.get(name)
        return versions[max(versions)] if versions else None

    def resolve(self, ref: str) -> Skill | None:
        """`name` (its newest version) or `name@version`, as a spec lists skills."""
        name, _, version = ref.partition("@")
        if not version:
            return self.latest(name)
        return self.get(name, int(version)) if version.isdigit() else None

    def latest_skills(self) -> list[Skill]:
        """The newest version of each skill, by name."""
        return [skill for name in self.names() if (skill := self.latest(name)) is not None]


SKILLS_HEADING = "# Skills"


def with_skills(system_prompt: str, skills: Sequence[Skill]) -> str:
    """The prompt with the skills' SOPs after it, under one heading: the prefix before them
    stays byte-identical, so a server's prefix cache keeps serving it."""
    if not skills:
        return system_prompt
    texts = "\n".join(skill.prompt_text() for skill in skills)
    if f"\n{SKILLS_HEADING}\n" in f"\n{system_prompt}":
        return f"{system_prompt.rstrip()}\n\n{texts}"
    heading = f"{SKILLS_HEADING}\nFollow the procedure of a skill when the request calls for it."
    return f"{system_prompt.rstrip()}\n\n{heading}\n\n{texts}".lstrip()


def _read_versions(skill_dir: Path) -> list[Skill]:
    versions: list[Skill] = []
    for path in sorted(skill_dir.iterdir()):
        if path.name.startswith("."):
            continue
        match = VERSION_FILE.match(path.name)
        if match is None or not path.is_file():
            raise SkillError(f"{path}: not a skill version (expected a file like 1.md, 2.md)")
        versions.append(read_skill(path, skill_dir.name, int(match.group(1))))
    if not versions:
        raise SkillError(f"{skill_dir}: no versions (expected a file like 1.md)")
    return versions


class TextEncoder(Protocol):
    """What the chooser needs of an encoder: unit-length float32 rows, one per text."""

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def matching_text(skill: Skill) -> str:
    """What a skill is matched on: its description and tags, not its (long) SOP."""
    return f"{skill.description} {', '.join(skill.tags)}".strip()


class SkillChooser:
    """Picks the skills whose description is closest in meaning to a task's input."""

    def __init__(self, encoder: TextEncoder, skills: Sequence[Skill]) -> None:
        self._encoder = encoder
        self._skills = list(skills)
        self._vectors = encoder.encode([matching_text(skill) for skill in self._skills])

    def choose(
        self, text: str, limit: int = 2, threshold: float = DEFAULT_THRESHOLD, margin: float = 0.0
    ) -> list[tuple[Skill, float]]:
        """Up to `limit` skills with cosine similarity >= `threshold`, best first (ties by name),
        each at least `margin` more alike than every skill not chosen: a question about
        delivered orders, 0.42 alike to rankings and 0.39 to dates, needs neither."""
        if not self._skills or limit < 1:
            return []
        similarities = self._vectors @ self._encoder.encode([text])[0]
        ranked = sorted(
            (
                (skill, float(score))
                for skill, score in zip(self._skills, similarities, strict=True)
            ),
            key=lambda pair: (-pair[1], pair[0].name, -pair[0].version),
        )
        chosen = [pair for pair in ranked[:limit] if pair[1] >= threshold]
        while chosen and len(ranked) > len(chosen):
            if chosen[-1][1] - ranked[len(chosen)][1] >= margin:
                break
            chosen.pop()
        return chosen
