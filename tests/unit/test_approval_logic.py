"""The gateway's approval logic that needs no server: decision bodies, status filters,
argument diffs, edit checks and the signal payload of a decided row."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from activities.db.models import Approval
from activities.tools.catalog import ToolCatalog
from activities.tools.registry import ToolRegistry
from services.gateway.approval_decisions import check_edited_arguments
from services.gateway.errors import ProblemError
from services.gateway.schemas.approvals import ApprovalStatusFilter, DecisionCreate, argument_diff
from services.gateway.signals import decision_signal
from workflows.contracts.approvals import ApprovalDecided


def test_arguments_come_only_with_an_edit() -> None:
    assert DecisionCreate(decision="edit", arguments={}).arguments == {}
    assert DecisionCreate(decision="approve").arguments is None
    with pytest.raises(ValidationError, match="an edit needs `arguments`"):
        DecisionCreate(decision="edit")
    with pytest.raises(ValidationError, match="only accepted with `edit`, not `reject`"):
        DecisionCreate(decision="reject", arguments={"a": 1})
    with pytest.raises(ValidationError, match="4000"):
        DecisionCreate(decision="reject", comment="x" * 4001)
    with pytest.raises(ValidationError, match="Extra inputs"):
        DecisionCreate.model_validate({"decision": "approve", "by": "me"})


def test_open_means_pending_or_escalated() -> None:
    assert ApprovalStatusFilter.open.statuses() == ["pending", "escalated"]
    assert ApprovalStatusFilter.timed_out.statuses() == ["timed_out"]


@pytest.mark.parametrize(
    ("proposed", "decided", "expected"),
    [
        ({"a": 1}, {"a": 1}, {"changed": {}, "added": {}, "removed": []}),
        (
            {"a": 1, "b": [1], "c": "x"},
            {"a": 2, "b": [1], "d": None},
            {"changed": {"a": {"from": 1, "to": 2}}, "added": {"d": None}, "removed": ["c"]},
        ),
        ({}, {"z": {"k": 1}}, {"changed": {}, "added": {"z": {"k": 1}}, "removed": []}),
    ],
)
def test_argument_diff_says_what_changed(
    proposed: dict[str, Any], decided: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert argument_diff(proposed, decided).model_dump(by_alias=True) == expected


def test_edits_must_fit_the_tool() -> None:
    registry = ToolRegistry()

    @registry.tool
    def transfer(account: str, amount: float) -> str:
        """Move money."""
        return "ok"

    tools = ToolCatalog.of(registry.tools(registry.names()))  # the gateway's view of them
    check_edited_arguments(tools, "transfer", {"account": "A-1", "amount": 5})
    cases = [
        ("transfer", {"account": "A-1", "amount": "lots"}, "amount: 'lots' is not of type"),
        ("transfer", {"amount": 5}, "account: missing required argument"),
        ("transfer", {"account": "A-1", "amount": 5, "currency": "EUR"}, "currency"),
        ("wire", {"x": 1}, "tool 'wire' is unknown"),
    ]
    for tool, arguments, words in cases:
        with pytest.raises(ProblemError) as raised:
            check_edited_arguments(tools, tool, arguments)
        assert raised.value.status == 422
        assert words in raised.value.detail


def test_the_signal_carries_edited_arguments_only_for_edits() -> None:
    def row(decision: str | None, arguments: dict[str, Any] | None) -> Approval:
        return Approval(
            id=uuid.UUID(int=7), decision=decision, decided_arguments=arguments, comment="c"
        )

    approval_id = str(uuid.UUID(int=7))
    assert decision_signal(row("edit", {"a": 1})) == ApprovalDecided(
        approval_id=approval_id, decision="edit", arguments={"a": 1}, comment="c"
    )
    assert decision_signal(row("approve", {"a": 1})).arguments is None
    with pytest.raises(ValueError, match="no decision"):
        decision_signal(row(None, None))
