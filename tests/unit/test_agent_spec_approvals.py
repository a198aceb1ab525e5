"""Agent specs declare approvals, idle timeouts and webhooks in YAML. Every mistake in them
stops the catalog from loading, and the message names the file."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from activities.tools.registry import default_registry
from services.agent_catalog import AgentCatalog
from services.agent_specs import AgentSpec, AgentSpecError
from services.duration import parse_duration
from workflows.approval_policy import approval_needed
from workflows.contracts.approvals import ApprovalPolicy, ArgumentRule
from workflows.contracts.tool_calls import ToolCall

ROOT = Path(__file__).resolve().parents[2]

SPEC = """\
name: clerk
tools: [write_file, delete_file, calculator]
idle_timeout: 30m
webhook_url: https://hooks.example.com/agentry
approvals:
  - tool: write_file
    when:
      - {argument: path, op: outside, value: drafts/}
      - {argument: content, op: matches, value: "(?i)password"}
    deadline: 24h
    on_timeout: reject
  - tool: delete_file
    deadline: 3600
    on_timeout: escalate
    escalation_deadline: 7d
"""


def tool_schemas() -> dict[str, dict[str, Any]]:
    registry = default_registry()
    return {tool.name: tool.parameters_schema for tool in registry.tools(registry.names())}


def load(tmp_path: Path, text: str, **kwargs: Any) -> AgentCatalog:
    (tmp_path / "agent.yaml").write_text(textwrap.dedent(text))
    return AgentCatalog.load(tmp_path, **kwargs)


def load_error(tmp_path: Path, text: str, **kwargs: Any) -> str:
    with pytest.raises(AgentSpecError) as error:
        load(tmp_path, text, **kwargs)
    message = str(error.value)
    assert str(tmp_path / "agent.yaml") in message
    return message


def test_approvals_idle_timeout_and_webhook_reach_the_agent_config(tmp_path: Path) -> None:
    catalog = load(tmp_path, SPEC, tool_schemas=tool_schemas())
    spec = catalog.get("clerk")
    assert spec is not None
    config = spec.to_config()

    assert config.approvals == [
        ApprovalPolicy(
            tool="write_file",
            when=[
                ArgumentRule(argument="path", op="outside", value="drafts/"),
                ArgumentRule(argument="content", op="matches", value="(?i)password"),
            ],
            deadline_seconds=86_400,
            on_timeout="reject",
            escalation_deadline_seconds=86_400,
        ),
        ApprovalPolicy(
            tool="delete_file",
            deadline_seconds=3_600,
            on_timeout="escalate",
            escalation_deadline_seconds=7 * 86_400,
        ),
    ]
    assert type(config.approvals[0].when[0]) is ArgumentRule  # the plain contract, for Temporal
    assert config.idle_timeout_seconds == 1_800
    assert config.webhook_url == "https://hooks.example.com/agentry"
    assert config.tools == ["write_file", "delete_file", "calculator"]


def test_a_spec_without_approvals_has_none(tmp_path: Path) -> None:
    spec = load(tmp_path, "name: plain\ntools: [calculator]\n").get("plain")
    assert spec is not None
    config = spec.to_config()
    assert (config.approvals, config.idle_timeout_seconds, config.webhook_url) == ([], None, None)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90), ("90", 90), ("90s", 90), ("30m", 1_800), (" 24h ", 86_400), ("7d", 604_800)],
)
def test_durations(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", [0, -5, "0s", "1.5h", "24 hours", "1w", "h", True, 2.5, None, "400d"]
)
def test_bad_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="duration|at most 366 days|more than 0"):
        parse_duration(value)


def test_the_shipped_specs_load_against_the_real_tools() -> None:
    schemas = tool_schemas()
    shipped = AgentCatalog.load(ROOT / "agents", tool_schemas=schemas)
    clerk = shipped.get("file-clerk")
    assert clerk is not None
    [writes, deletes] = clerk.to_config().approvals
    assert (writes.tool, writes.deadline_seconds, writes.on_timeout) == (
        "write_file",
        86_400,
        "reject",
    )
    assert writes.when == [ArgumentRule(argument="path", op="outside", value="drafts/")]
    assert (deletes.tool, deletes.when, deletes.on_timeout) == ("delete_file", [], "escalate")
    assert (deletes.deadline_seconds, deletes.escalation_deadline_seconds) == (3_600, 86_400)

    # the test stack's MCP servers (tests/mcp-servers.yaml) list theirs at start; here by name
    mcp = {"time__convert_time", "time__get_current_time", "notes__add_note", "notes__list_notes"}
    scripted = AgentCatalog.load(
        ROOT / "tests" / "agents", known_tools=set(schemas) | mcp, tool_schemas=schemas
    )
    agent = scripted.get("scripted-approvals")
    assert agent is not None
    policies = {policy.tool: policy for policy in agent.to_config().approvals}
    assert policies["delete_file"].deadline_seconds == 2
    assert policies["delete_file"].on_timeout == "reject"
    assert policies["write_file"].deadline_seconds == 86_400


@pytest.mark.parametrize(
    ("approvals", "words"),
    [
        (
            "- tool: read_file",
            "approval policy for tool 'read_file', which the agent does not list",
        ),
        ("- tool: write_file\n- tool: write_file", "more than one approval policy"),
        (
            "- tool: write_file\n  when: [{argument: path, op: matches, value: '(unclosed'}]",
            "does not compile",
        ),
        ("- tool: write_file\n  deadline: soon", "is not a duration"),
        ("- tool: write_file\n  escalation_deadline: 0", "more than 0"),
        ("- tool: write_file\n  on_timeout: approve", "on_timeout"),
        ("- tool: write_file\n  when: [{argument: path, op: like, value: x}]", "op"),
        ("- tool: write_file\n  when: [{argument: size, op: gt, value: lots}]", "needs a number"),
        ("- tool: write_file\n  when: [{argument: size, op: gt, value: .nan}]", "finite"),
        ("- tool: write_file\n  when: [{argument: path, op: in, value: drafts}]", "needs a list"),
        ("- tool: write_file\n  when: [{argument: path, op: outside, value: ''}]", "folder path"),
        ("- tool: write_file\n  when: [{argument: path, op: matches, value: 5}]", "regular expr"),
        ("- tool: write_file\n  when: [{argument: path, op: eq}]", "value"),
        ("- tool: write_file\n  when: [{argument: path, op: eq, value: x, vlaue: y}]", "vlaue"),
        ("- tool: write_file\n  deadlines: 1h", "deadlines"),
        ("- deadline: 1h", "names a tool, or sets side_effects: true"),
        ("- tool: write_file\n  side_effects: true", "not both"),
        ("- side_effects: true\n- side_effects: true", "more than one approval policy sets"),
        (
            "- side_effects: true\n  when: [{argument: path, op: eq, value: x}]",
            "need a policy that names its tool",
        ),
    ],
)
def test_bad_approval_policies_are_refused(tmp_path: Path, approvals: str, words: str) -> None:
    spec = "name: clerk\ntools: [write_file]\napprovals:\n" + textwrap.indent(approvals, "  ")
    assert words in load_error(tmp_path, spec)


def test_a_rule_on_an_argument_the_tool_does_not_take_is_refused(tmp_path: Path) -> None:
    spec = """\
        name: clerk
        tools: [write_file]
        approvals:
          - tool: write_file
            when: [{argument: filename, op: outside, value: drafts/}]
        """
    message = load_error(tmp_path, spec, tool_schemas=tool_schemas())
    assert "write_file(filename)" in message and "['content', 'path']" in message
    load(tmp_path, spec)  # without schemas nothing can tell


def test_tool_schemas_also_check_tool_names(tmp_path: Path) -> None:
    message = load_error(tmp_path, "name: a\ntools: [teleport]\n", tool_schemas=tool_schemas())
    assert "unknown tools ['teleport']" in message


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("idle_timeout: forever", "is not a duration"),
        ("webhook_url: ftp://example.com/x", "is not an http(s) URL"),
        ("webhook_url: https://user:secret@example.com/x", "must not carry credentials"),
        ("aprovals: []", "aprovals"),  # a misspelt key must not silently drop approvals
    ],
)
def test_bad_agent_fields_are_refused(tmp_path: Path, line: str, words: str) -> None:
    assert words in load_error(tmp_path, f"name: a\ntools: [calculator]\n{line}\n")


def test_rule_values_are_checked_without_yaml_too() -> None:
    spec = AgentSpec.model_validate(
        {
            "name": "a",
            "tools": ["issue_refund"],
            "approvals": [
                {
                    "tool": "issue_refund",
                    "when": [{"argument": "amount", "op": "gte", "value": 100}],
                }
            ],
        }
    )
    [policy] = spec.to_config().approvals
    assert policy.when[0].value == 100 and policy.deadline_seconds == 86_400


SIDE_EFFECTS_SPEC = """\
name: operator
tools: [calculator, write_file, delete_file, read_file]
sub_agents: [helper]
approvals:
  - side_effects: true
    deadline: 1h
    on_timeout: escalate
  - tool: write_file
    when: [{argument: path, op: outside, value: drafts/}]
"""


def test_side_effects_true_holds_every_side_effecting_tool_not_named_on_its_own(
    tmp_path: Path,
) -> None:
    (tmp_path / "helper.yaml").write_text("name: helper\ntools: [calculator]\n")
    registry = default_registry()
    side_effects = [name for name in registry.names() if registry.get(name).side_effects]
    catalog = load(
        tmp_path, SIDE_EFFECTS_SPEC, tool_schemas=tool_schemas(), side_effect_tools=side_effects
    )
    config = catalog.config("operator")
    assert config is not None
    policies = {policy.tool: policy for policy in config.approvals}

    # delete_file and delegate (a sub-agent's task) have side effects; calculator and
    # read_file none; write_file keeps its own rule
    assert sorted(policies) == ["delegate", "delete_file", "write_file"]
    assert policies["delete_file"].when == [] and policies["delete_file"].deadline_seconds == 3600
    assert policies["delete_file"].on_timeout == "escalate"
    assert policies["write_file"].when == [
        ArgumentRule(argument="path", op="outside", value="drafts/")
    ]
    assert approval_needed(config.approvals, ToolCall(id="a", name="delete_file")) is not None
    assert approval_needed(config.approvals, ToolCall(id="b", name="read_file")) is None


def test_side_effects_true_holds_every_tool_when_the_tools_are_not_known(tmp_path: Path) -> None:
    (tmp_path / "helper.yaml").write_text("name: helper\ntools: [calculator]\n")
    config = load(tmp_path, SIDE_EFFECTS_SPEC).config("operator")  # fails safe: all wait
    assert config is not None
    assert sorted(p.tool for p in config.approvals) == [
        "calculator", "delegate", "delete_file", "read_file", "write_file"
    ]  # fmt: skip
