"""Approval policies decide which calls wait, say why, and wait whenever a rule cannot be
checked."""

from __future__ import annotations

from typing import Any

import pytest

from activities.tools.registry import default_registry
from workflows.approval_policy import approval_needed
from workflows.contracts.approvals import ApprovalPolicy, ArgumentRule
from workflows.contracts.tool_calls import ToolCall


def policy(tool: str, *rules: tuple[str, str, Any]) -> ApprovalPolicy:
    return ApprovalPolicy(
        tool=tool,
        when=[
            ArgumentRule.model_validate({"argument": a, "op": o, "value": v}) for a, o, v in rules
        ],
    )


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id="c1", name=name, arguments=arguments)


def reason(policies: list[ApprovalPolicy], tool_call: ToolCall) -> str | None:
    found = approval_needed(policies, tool_call)
    return None if found is None else found[1]


def test_a_tool_without_a_policy_runs() -> None:
    policies = [policy("delete_file")]
    assert approval_needed(policies, call("read_file", path="x")) is None
    assert approval_needed([], call("delete_file", path="x")) is None


def test_a_policy_without_rules_holds_every_call_and_is_returned() -> None:
    refunds = policy("issue_refund", ("amount", "gt", 100))
    deletes = policy("delete_file")
    found = approval_needed([refunds, deletes], call("delete_file", path="a.txt"))
    assert found == (deletes, "delete_file always needs approval")


@pytest.mark.parametrize(
    ("op", "limit", "amount", "expected"),
    [
        ("gt", 100, 250, "issue_refund needs approval: amount 250 > 100"),
        ("gt", 100, 100, None),
        ("gte", 100, 100, "issue_refund needs approval: amount 100 >= 100"),
        ("gte", 100, 99.5, None),
        ("lt", 0, -1, "issue_refund needs approval: amount -1 < 0"),
        ("lt", 0, 0, None),
        ("lte", 0, 0, "issue_refund needs approval: amount 0 <= 0"),
        ("lte", 0, 0.01, None),
        ("gt", 100, "250", "issue_refund needs approval: amount '250' > 100"),  # as tools coerce
        ("gt", 100.5, "99", None),
    ],
)
def test_number_comparisons(op: str, limit: float, amount: Any, expected: str | None) -> None:
    policies = [policy("issue_refund", ("amount", op, limit))]
    assert reason(policies, call("issue_refund", amount=amount)) == expected


@pytest.mark.parametrize("amount", ["a lot", None, True, [250], {"v": 1}, float("nan"), "inf"])
def test_a_value_that_is_not_a_number_holds_a_comparison(amount: Any) -> None:
    text = reason(
        [policy("issue_refund", ("amount", "lte", 100))], call("issue_refund", amount=amount)
    )
    assert text is not None and "is not a number" in text


def test_a_missing_argument_holds_any_rule() -> None:
    for op, value in [("gt", 1), ("eq", "x"), ("in", ["x"]), ("matches", "x"), ("outside", "d/")]:
        text = reason([policy("t", ("arg", op, value))], call("t", other=1))
        assert text == "t needs approval: arg is missing, so it cannot be checked against the rule"


def test_equality_and_membership() -> None:
    assert reason([policy("t", ("mode", "eq", "force"))], call("t", mode="force")) == (
        "t needs approval: mode 'force' equals 'force'"
    )
    assert reason([policy("t", ("mode", "eq", "force"))], call("t", mode="safe")) is None
    assert reason([policy("t", ("mode", "ne", "safe"))], call("t", mode="force")) == (
        "t needs approval: mode 'force' is not 'safe'"
    )
    assert reason([policy("t", ("mode", "ne", "safe"))], call("t", mode="safe")) is None
    to = ("to", "in", ["ceo@x.com", "all@x.com"])
    assert reason([policy("t", to)], call("t", to="all@x.com")) == (
        "t needs approval: to 'all@x.com' is one of ['ceo@x.com', 'all@x.com']"
    )
    assert reason([policy("t", to)], call("t", to="me@x.com")) is None
    currency = ("currency", "not_in", ["EUR", "USD"])
    assert reason([policy("t", currency)], call("t", currency="BTC")) == (
        "t needs approval: currency 'BTC' is not one of ['EUR', 'USD']"
    )
    assert reason([policy("t", currency)], call("t", currency="EUR")) is None


def test_matches_searches_anywhere_and_needs_text() -> None:
    pattern = r"@(?!example\.com$)"
    external = [policy("send", ("to", "matches", pattern))]
    assert reason(external, call("send", to="a@evil.org")) == (
        f"send needs approval: to 'a@evil.org' matches {pattern!r}"
    )
    assert reason(external, call("send", to="a@example.com")) is None
    text = reason(external, call("send", to=42))
    assert text is not None and "is not text" in text


@pytest.mark.parametrize(
    ("path", "outside"),
    [
        ("drafts/a.md", False),
        ("./drafts/sub/../a.md", False),
        ("drafts//a.md", False),
        ("etc/passwd", True),
        ("drafts/../x", True),
        ("drafts/../../x", True),
        ("/etc/x", True),
        ("/drafts/a.md", True),  # absolute: outside any relative folder
        ("x", True),
        ("drafts", True),  # the folder itself is no place inside it
        ("draftsX/a.md", True),
        ("", True),
        ("../drafts/a.md", True),
    ],
)
def test_outside_a_folder(path: str, outside: bool) -> None:
    policies = [policy("write_file", ("path", "outside", "drafts/"))]
    text = reason(policies, call("write_file", path=path, content="hi"))
    if outside:
        assert text == f"write_file needs approval: path {path!r} is outside 'drafts/'"
    else:
        assert text is None


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        ("secrets/key", True),
        ("secrets", True),  # the folder itself counts: fail safe either way
        ("a/../secrets/key", True),
        ("secrets/../key", False),
        ("secretsX", False),
        ("/secrets/key", False),
    ],
)
def test_inside_a_folder(path: str, inside: bool) -> None:
    policies = [policy("read_file", ("path", "inside", "secrets"))]
    text = reason(policies, call("read_file", path=path))
    assert (text == f"read_file needs approval: path {path!r} is inside 'secrets'") is inside
    assert (text is None) is not inside


def test_absolute_and_root_folders() -> None:
    absolute = [policy("w", ("path", "outside", "/srv/data"))]
    assert reason(absolute, call("w", path="/srv/data/a")) is None
    assert reason(absolute, call("w", path="/srv/data/../etc")) is not None
    assert reason(absolute, call("w", path="srv/data/a")) is not None  # relative: unknown place
    root = [policy("w", ("path", "outside", "."))]
    assert reason(root, call("w", path="a/b")) is None
    assert reason(root, call("w", path="a/../../b")) is not None
    assert reason(root, call("w", path="/a")) is not None


def test_a_path_that_is_not_text_holds() -> None:
    text = reason([policy("w", ("path", "outside", "d/"))], call("w", path=["d/a"]))
    assert (
        text == "w needs approval: path ['d/a'] is not text, so it cannot be checked against 'd/'"
    )


def test_any_rule_holding_makes_the_call_wait_and_every_reason_is_given() -> None:
    policies = [policy("refund", ("amount", "gt", 100), ("currency", "not_in", ["EUR"]))]
    assert reason(policies, call("refund", amount=10, currency="EUR")) is None
    assert reason(policies, call("refund", amount=500, currency="EUR")) == (
        "refund needs approval: amount 500 > 100"
    )
    assert reason(policies, call("refund", amount=500, currency="USD")) == (
        "refund needs approval: amount 500 > 100; currency 'USD' is not one of ['EUR']"
    )


def test_long_values_are_cut_in_the_reason() -> None:
    text = reason(
        [policy("w", ("content", "matches", "secret"))], call("w", content="x" * 500 + "secret")
    )
    assert text is not None and len(text) < 200 and "..." in text


def test_the_same_inputs_give_the_same_answer() -> None:
    policies = [policy("write_file", ("path", "outside", "drafts/"))]
    answers = [approval_needed(policies, call("write_file", path="etc/x")) for _ in range(3)]
    assert answers[0] is not None and answers == [answers[0]] * 3


@pytest.mark.parametrize(
    "path", [" secrets/k", "secrets//k", "./secrets/k", "secrets/./k ", "notes/../secrets/k"]
)
def test_the_policy_judges_the_path_the_tool_will_write(path: str) -> None:
    """The model's arguments are normalised once, in the model turn; the rule and the tool
    both see the result (a rule on the raw text was escaped by a leading space)."""
    write_file = default_registry().get("write_file")
    arguments = write_file.normalised({"path": path, "content": "x"})
    held = reason(
        [policy("write_file", ("path", "inside", "secrets/"))], call("write_file", **arguments)
    )
    assert (
        arguments["path"] == "secrets/k"
        and held == "write_file needs approval: path 'secrets/k' is inside 'secrets/'"
    )
