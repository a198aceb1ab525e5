"""The part of an agent spec a running task needs, frozen into the workflow's input at submit
(the YAML form and its validation are services/agent_specs.py)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from workflows.contracts.answer_checks import AnswerCheck
from workflows.contracts.approvals import ApprovalPolicy
from workflows.contracts.budgets import Budgets, RunawayLimits
from workflows.contracts.memory import ContextBudget, MemoryConfig
from workflows.contracts.skills import SkillChoice, SkillUse


class ToolCallFormat(StrEnum):
    """How the model expresses tool calls; the agent spec chooses."""

    native = "native"  # OpenAI `tools` + `tool_calls` (SGLang with a tool-call parser)
    text = "text"  # JSON or <tool_call> blocks written in the reply (small models)
    json_schema = "json_schema"  # constrained decoding of an action object


class ToolChoice(StrEnum):
    """Whether the model may answer before calling a tool (OpenAI's `tool_choice`)."""

    auto = "auto"
    required = "required"  # each request's first turn of the model's own calls a tool


class PlannedCall(BaseModel):
    """A call the loop makes itself (`first_calls`, `fan_out`): in its arguments `{request}`
    is the request's text and `{question}` one question of it."""

    tool: str
    arguments: dict[str, str] = Field(default_factory=dict)


class AgentConfig(BaseModel):
    name: str
    version: int = 1  # of its spec: the task records it, and a submit may pin another
    pool: str = "default"
    # its pool runs model turns as local activities (deploy/pools.yaml `model_turns`)
    local_model_turns: bool = False
    model: str = "agent-default"
    system_prompt: str = ""
    tools: list[str] = Field(default_factory=list)
    tool_call_format: ToolCallFormat = ToolCallFormat.text
    max_iterations: int = 8
    temperature: float = 0.0
    max_tokens: int = 512
    approvals: list[ApprovalPolicy] = Field(default_factory=list)
    # a conversation stays open this long for the next user message after each answer
    idle_timeout_seconds: int | None = None
    webhook_url: str | None = None  # called when an approval is requested (else settings')
    # of `model`, resolved at submit from the model group; None: unknown, nothing is checked
    context: ContextBudget | None = None
    memory: MemoryConfig | None = None  # None: older turns are never summarised
    # a longer tool result goes to the model cut to this many characters (stored whole)
    max_tool_result_chars: int = 8000
    sub_agents: list[str] = Field(default_factory=list)  # agents `delegate` may hand work to
    budgets: Budgets = Field(default_factory=Budgets)
    runaway: RunawayLimits = Field(default_factory=RunawayLimits)
    answer_check: AnswerCheck | None = None  # None: a final answer is taken as it is
    classify_model: str | None = None  # the model group of short judgements (`models.classify`)
    # tools called with no arguments at the start of each request, before the model's first
    # turn: a procedure's fixed first steps, which a small model may skip (activities/llm.py)
    first_calls: list[PlannedCall] = Field(default_factory=list)
    # required: the model's first turn of each request is held to tool calls (after any
    # first calls), for agents that must look something up before any answer
    tool_choice: ToolChoice = ToolChoice.auto
    # tool → a line added to the final answer for each call of it that worked, its arguments
    # filled in ("Query: {sql}"): the answer shows what it rests on, whatever the model wrote
    show_calls: dict[str, str] = Field(default_factory=dict)
    # a request asking several questions starts with this call for each instead of the first
    # calls, and its answer is their results joined (no model turn)
    fan_out: PlannedCall | None = None
    # tools whose results hold passages marked [citation]: an answer without a citation gets
    # "Source:" and the citation of the passage that shares the most words with it
    cite_from: list[str] = Field(default_factory=list)
    # tools whose results are the answer's material: after a turn whose calls all worked and
    # include one of them, the next turn offers no tools and is held to an answer
    answer_after: list[str] = Field(default_factory=list)
    # the skill versions its system prompt carries (listed by the spec, or chosen at submit)
    skills: list[SkillUse] = Field(default_factory=list)
    choose_skills: SkillChoice | None = None  # how more are chosen from a task's input
