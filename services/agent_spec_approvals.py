"""The approval rules of an agent spec in their YAML form: each rule's value is checked against
its op when the spec loads (services/agent_specs.py), so a typo stops the gateway instead of
letting every call run unapproved."""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.duration import Duration
from workflows.contracts.approvals import ApprovalPolicy, ArgumentRule


class ArgumentRuleSpec(ArgumentRule):
    """An `ArgumentRule` whose value is checked against its op when the spec loads."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _value_fits_op(self) -> ArgumentRuleSpec:
        op, value = self.op, self.value
        if op in ("gt", "gte", "lt", "lte"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"op {op!r} needs a number as value, not {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"op {op!r} needs a finite number as value")
        elif op in ("in", "not_in") and not isinstance(value, list):
            raise ValueError(f"op {op!r} needs a list as value, not {value!r}")
        elif op == "matches":
            if not isinstance(value, str):
                raise ValueError(f"op 'matches' needs a regular expression, not {value!r}")
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"regular expression {value!r} does not compile: {exc}") from None
        elif op in ("outside", "inside") and not (isinstance(value, str) and value.strip()):
            raise ValueError(f"op {op!r} needs a folder path as value, not {value!r}")
        return self


class ApprovalSpec(BaseModel):
    """YAML form of an `ApprovalPolicy`, with readable durations. It names one `tool`, or says
    `side_effects: true`: every call of each of the agent's tools that declares side effects
    waits (a tool with a policy of its own keeps that one)."""

    model_config = ConfigDict(extra="forbid")

    tool: str | None = None
    side_effects: bool = False
    when: list[ArgumentRuleSpec] = Field(default_factory=list)
    deadline: Duration = 86_400
    on_timeout: Literal["reject", "escalate"] = "reject"
    escalation_deadline: Duration = 86_400

    @model_validator(mode="after")
    def _names_its_calls(self) -> ApprovalSpec:
        if self.tool is None and not self.side_effects:
            raise ValueError("an approval policy names a tool, or sets side_effects: true")
        if self.tool is not None and self.side_effects:
            raise ValueError("an approval policy names a tool or sets side_effects: true, not both")
        if self.side_effects and self.when:
            raise ValueError(
                "side_effects: true covers every call of those tools; rules on arguments "
                "(when) need a policy that names its tool"
            )
        return self

    def to_policy(self, tool: str) -> ApprovalPolicy:
        return ApprovalPolicy(
            tool=tool,
            when=[ArgumentRule.model_validate(rule.model_dump()) for rule in self.when],
            deadline_seconds=self.deadline,
            on_timeout=self.on_timeout,
            escalation_deadline_seconds=self.escalation_deadline,
        )
