"""Agent specs as templates: `version`, `role`, `models` by purpose, `lifecycle`; a spec stored
as JSON reads back as the same spec (a pinned version runs what was recorded); formatting is
not a change; an older version is checked against today's deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.skills.library import SkillLibrary
from services.agent_catalog import AgentCatalog, read_spec
from services.agent_specs import AgentSpec, AgentSpecError
from services.gateway.agent_versions import spec_content
from workflows.contracts.memory import ContextBudget

ROOT = Path(__file__).resolve().parents[2]
GROUPS = {
    "big": ContextBudget(context_window=8192, output_reserve=1024),
    "small": ContextBudget(context_window=4096, output_reserve=512),
}


def load(tmp_path: Path, spec: str) -> AgentCatalog:
    (tmp_path / "a.yaml").write_text(spec)
    return AgentCatalog.load(tmp_path, known_tools={"calculator"}, model_groups=GROUPS)


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "agents").glob("*.yaml"), *(ROOT / "tests" / "agents").glob("*.yaml")]),
    ids=lambda path: path.stem,
)
def test_every_shipped_spec_reads_back_from_its_stored_json(path: Path) -> None:
    spec = read_spec(path)
    content, digest = spec_content(spec)
    again = AgentSpec.model_validate(content)
    assert again == spec and spec_content(again)[1] == digest


def test_comments_and_formatting_are_not_a_change() -> None:
    one = AgentSpec.model_validate({"name": "a", "tools": ["calculator"], "version": 2})
    other = AgentSpec.model_validate({"version": 2, "tools": ["calculator"], "name": "a"})
    changed = AgentSpec.model_validate({"name": "a", "tools": [], "version": 2})
    assert spec_content(one)[1] == spec_content(other)[1] != spec_content(changed)[1]


def test_models_name_the_groups_of_each_purpose(tmp_path: Path) -> None:
    catalog = load(
        tmp_path,
        "name: a\nversion: 3\nrole: helper\n"
        "models: {reason: big, summarize: small, classify: small}\n",
    )
    config = catalog.config("a")
    assert config is not None
    assert config.version == 3 and config.model == "big"
    assert config.memory is not None and config.memory.model == "small"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("models: {reason: big}\nmodel: small\n", "model 'small' and models.reason 'big' differ"),
        ("model: big\nmodels: {summarize: small}\nmemory: null\n", "memory is off"),
        ("models: {reason: big, classify: huge}\n", "models.classify 'huge' is not a model group"),
        ("models: {reason: big, guess: small}\n", "models.guess"),
        ("model: big\nversion: 0\n", "version"),
        ("model: big\nlifecycle: {max_model_calls: 0}\n", "lifecycle.max_model_calls"),
        ("model: big\nanswer_check: model\n", "asks the models.classify group, which is not set"),
    ],
)
def test_a_bad_template_field_is_named_with_its_file(
    tmp_path: Path, spec: str, message: str
) -> None:
    with pytest.raises(AgentSpecError) as caught:
        load(tmp_path, f"name: a\n{spec}")
    assert str(tmp_path / "a.yaml") in str(caught.value)
    assert message in str(caught.value)


def test_budgets_is_the_older_name_of_lifecycle(tmp_path: Path) -> None:
    old = load(tmp_path, "name: a\nmodel: big\nbudgets: {max_model_calls: 5}\n").config("a")
    new = load(tmp_path, "name: a\nmodel: big\nlifecycle: {max_model_calls: 5}\n").config("a")
    assert old is not None and new is not None
    assert old.budgets.max_model_calls == new.budgets.max_model_calls == 5


def test_an_older_version_is_checked_against_todays_deployment(tmp_path: Path) -> None:
    catalog = load(tmp_path, "name: a\nmodel: big\nversion: 2\ntools: [calculator]\n")
    older = AgentSpec.model_validate(
        {"name": "a", "version": 1, "model": "big", "tools": ["calculator"]}
    )
    assert catalog.config_of(older).version == 1
    gone = AgentSpec.model_validate(
        {"name": "a", "version": 1, "model": "big", "tools": ["teleport"]}
    )
    with pytest.raises(AgentSpecError, match=r"unknown tools \['teleport'\]"):
        catalog.config_of(gone)
    elsewhere = AgentSpec.model_validate({"name": "a", "version": 1, "model": "gone"})
    with pytest.raises(AgentSpecError, match="model 'gone' is not a model group"):
        catalog.config_of(elsewhere)


def test_a_sub_agent_is_described_to_its_caller_with_its_role(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(
        "name: b\nmodel: big\nrole: researcher\ndescription: Finds things.\n"
    )
    catalog = load(tmp_path, "name: a\nmodel: big\nsub_agents: [b]\n")
    config = catalog.config("a")
    assert config is not None and "- b: (researcher) Finds things." in config.system_prompt


def skill_library(tmp_path: Path) -> SkillLibrary:
    for name, version, tools in (("tidy", 1, "[]"), ("tidy", 2, "[]"), ("sums", 1, "[calculator]")):
        folder = tmp_path / "skills" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{version}.md").write_text(
            f"---\ndescription: {name} v{version}\ntools: {tools}\n---\nDo {name} {version}.\n"
        )
    return SkillLibrary.load(tmp_path / "skills")


def test_listed_skills_follow_the_system_prompt_at_their_versions(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.yaml").write_text(
        "name: a\nmodel: big\ntools: [calculator]\nsystem_prompt: Be brief.\n"
        "skills: [tidy@1, sums]\n"
    )
    catalog = AgentCatalog.load(
        tmp_path / "agents", known_tools={"calculator"}, model_groups=GROUPS,
        skills=skill_library(tmp_path),
    )  # fmt: skip
    config = catalog.config("a")
    assert config is not None
    assert [(use.name, use.version) for use in config.skills] == [("tidy", 1), ("sums", 1)]
    assert config.system_prompt.startswith("Be brief.\n\n# Skills\n")
    assert "Do tidy 1." in config.system_prompt and "Do tidy 2." not in config.system_prompt


@pytest.mark.parametrize(
    ("skills", "message"),
    [
        ("skills: [nope]\n", "unknown skill 'nope'; skills: ['sums', 'tidy']"),
        ("skills: [tidy@3]\n", "unknown skill 'tidy@3'"),
        ("skills: [sums]\n", "skill 'sums' needs tools ['calculator'], which the agent lacks"),
        ("choose_skills: {among: [nope]}\n", "unknown skill 'nope'"),
        ("choose_skills: {limit: 9}\n", "choose_skills.limit"),
        ("choose_skills: {among: [tidy@1]}\n", "names skills, not versions: 'tidy@1'"),
    ],
)
def test_a_bad_skill_reference_is_named_with_its_file(
    tmp_path: Path, skills: str, message: str
) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.yaml").write_text(f"name: a\nmodel: big\n{skills}")
    with pytest.raises(AgentSpecError) as caught:
        AgentCatalog.load(tmp_path / "agents", model_groups=GROUPS, skills=skill_library(tmp_path))
    assert str(tmp_path / "agents" / "a.yaml") in str(caught.value)
    assert message in str(caught.value)
