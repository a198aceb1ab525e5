"""The metrics' logic without a stack: what each step adds, who may read /metrics, the admission
holds, and the gateway's Postgres gauges across a cache period and an outage."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from activities.db.live_counts import LiveCounts, OpenApprovals
from activities.model_admission import AdmissionLimits
from activities.model_load import ModelLoad
from services.gateway.app import create_app
from services.gateway.metrics import LiveGauges
from services.metrics_access import metrics_refusal
from services.settings import Settings
from services.worker.metered_admission import MeteredAdmissionGate
from services.worker.metrics import WorkerMetrics
from services.worker.metrics_interceptor import ActivityMetrics
from services.worker.metrics_server import MetricsServer
from workflows.contracts.approvals import (
    ApprovalNeeded,
    ApprovalOutcome,
    ExpireApprovalRequest,
    ExpireApprovalResult,
    RequestApprovalsRequest,
)
from workflows.contracts.lifecycle import FinishTaskRequest
from workflows.contracts.memory import MemoryConfig, SummarizeRequest, SummarizeResult
from workflows.contracts.model_turns import ModelTurnRequest, ModelTurnResult
from workflows.contracts.tasks import TaskStatus
from workflows.contracts.tool_calls import ToolCall, ToolCallRequest, ToolCallResult

QUEUE = "agentry-default"


def samples(text: bytes | str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a page: (name, labels) → value."""
    text = text.decode() if isinstance(text, bytes) else text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    page: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return page.get((name, frozenset(labels.items())), 0.0)


def turn_request(model: str = "agent-default") -> ModelTurnRequest:
    return ModelTurnRequest(
        task_id="t", iteration=0, model=model, message_ids=[1], tools=[], tool_call_format="text"
    )


# --- worker: what a step adds ------------------------------------------------------------------


def test_a_model_turn_adds_its_call_tokens_and_cost() -> None:
    metrics = WorkerMetrics()
    meter = ActivityMetrics(metrics, tools=["calculator"])
    result = ModelTurnResult(
        message_id=1, prompt_tokens=120, completion_tokens=30, cached_tokens=100,
        cost_usd=0.0025, duration_ms=1500,
    )  # fmt: skip
    meter.record(QUEUE, "model_turn", turn_request(), result, "completed", 1.6)
    page = samples(generate_latest(metrics.registry))
    model = {"pool": "default", "model": "agent-default"}
    assert value(page, "agentry_model_call_duration_seconds_count", **model) == 1
    assert value(page, "agentry_model_call_duration_seconds_sum", **model) == 1.5
    turn = {**model, "purpose": "turn"}
    assert value(page, "agentry_model_tokens_total", **turn, kind="prompt") == 120
    assert value(page, "agentry_model_tokens_total", **turn, kind="completion") == 30
    assert value(page, "agentry_model_tokens_total", **turn, kind="cached") == 100
    assert value(page, "agentry_model_cost_usd_total", **turn) == pytest.approx(0.0025)
    step = {"pool": "default", "activity": "model_turn", "outcome": "completed"}
    assert value(page, "agentry_activity_duration_seconds_count", **step) == 1


def test_a_turn_that_asks_for_a_summary_first_is_no_model_call() -> None:
    metrics = WorkerMetrics()
    meter = ActivityMetrics(metrics, tools=[])
    result = ModelTurnResult(message_id=0, needs_summary=True, counted_tokens=9000)
    meter.record(QUEUE, "model_turn", turn_request(), result, "completed", 0.2)
    page = samples(generate_latest(metrics.registry))
    assert not any(name.startswith("agentry_model_") for name, _ in page)


def test_a_summary_counts_its_summariser_s_tokens_and_cost() -> None:
    metrics = WorkerMetrics()
    request = SummarizeRequest(
        task_id="t", iteration=3, model="agent-default", message_ids=[1, 2],
        memory=MemoryConfig(summarize_threshold=100, model="agent-small"), tokens_before=900,
    )  # fmt: skip
    result = SummarizeResult(
        message_ids=[3], prompt_tokens=800, completion_tokens=60, cost_usd=0.001
    )
    ActivityMetrics(metrics, tools=[]).record(QUEUE, "summarize", request, result, "completed", 2.0)
    page = samples(generate_latest(metrics.registry))
    summary = {"pool": "default", "model": "agent-small", "purpose": "summary"}
    assert value(page, "agentry_model_tokens_total", **summary, kind="prompt") == 800
    assert value(page, "agentry_model_cost_usd_total", **summary) == pytest.approx(0.001)


OK, ERROR = ToolCallResult(message_id=1), ToolCallResult(message_id=1, is_error=True)


@pytest.mark.parametrize(
    ("name", "rejection", "result", "tool", "outcome"),
    [
        ("calculator", None, OK, "calculator", "ok"),
        ("calculator", None, ERROR, "calculator", "error"),
        ("calculator", "rejected by alice", ERROR, "calculator", "rejected"),
        ("made_up_tool_7f3a", None, ERROR, "unknown", "error"),
        ("calculator", None, None, "calculator", "failed"),
    ],
)
def test_a_tool_call_is_timed_by_tool_and_outcome_and_made_up_names_add_no_series(
    name: str, rejection: str | None, result: Any, tool: str, outcome: str
) -> None:
    metrics = WorkerMetrics()
    request = ToolCallRequest(
        task_id="t", iteration=1, call=ToolCall(id="c", name=name), rejection=rejection
    )
    ActivityMetrics(metrics, tools=["calculator"]).record(
        QUEUE, "run_tool", request, result, "completed" if result else "failed", 0.3
    )
    page = samples(generate_latest(metrics.registry))
    labels = {"pool": "default", "tool": tool, "outcome": outcome}
    assert value(page, "agentry_tool_call_duration_seconds_count", **labels) == 1
    assert name == tool or not any(("tool", name) in labels_ for _, labels_ in page)


@pytest.mark.parametrize(
    ("code", "label", "stop"),
    [("budget_exceeded", "budget_exceeded", True), ("spend_limit", "spend_limit", True),
     ("runaway_detected", "runaway_detected", True), ("max_iterations", "max_iterations", False),
     ("something_new", "other", False)],
)  # fmt: skip
def test_a_finished_task_is_counted_by_status_and_code_and_guardrail_stops_apart(
    code: str, label: str, stop: bool
) -> None:
    metrics = WorkerMetrics()
    meter = ActivityMetrics(metrics, tools=[])
    failed = FinishTaskRequest(task_id="t", status=TaskStatus.failed, error_code=code)
    meter.record(QUEUE, "finish_task", failed, None, "completed", 0.01)
    done = FinishTaskRequest(task_id="u", status=TaskStatus.succeeded)
    meter.record(QUEUE, "finish_task", done, None, "completed", 0.01)
    meter.record(QUEUE, "finish_task", done, None, "failed", 0.01)  # not recorded: retried later
    page = samples(generate_latest(metrics.registry))
    finished = "agentry_tasks_finished_total"
    assert value(page, finished, pool="default", status="failed", code=label) == 1
    assert value(page, finished, pool="default", status="succeeded", code="") == 1
    assert value(page, "agentry_task_stops_total", pool="default", code=label) == (1 if stop else 0)


def test_approvals_asked_for_and_deadlines_passed_are_counted() -> None:
    metrics = WorkerMetrics()
    meter = ActivityMetrics(metrics, tools=["write_file"])
    deadline = datetime(2030, 1, 1, tzinfo=UTC)
    needed = [
        ApprovalNeeded(call=ToolCall(id=f"c{i}", name=name), reason="rule", deadline_at=deadline,
                       on_timeout="reject", escalation_deadline_seconds=0)
        for i, name in enumerate(["write_file", "write_file", "invented_tool"])
    ]  # fmt: skip
    asked = RequestApprovalsRequest(
        task_id="t", iteration=1, assistant_message_id=1, message_ids=[1], needed=needed
    )
    meter.record(QUEUE, "request_approvals", asked, None, "completed", 0.05)
    expired = ExpireApprovalRequest(approval_id="a", action="reject")
    outcome = ExpireApprovalResult(outcome=ApprovalOutcome.timed_out)
    meter.record(QUEUE, "expire_approval", expired, outcome, "completed", 0.01)
    page = samples(generate_latest(metrics.registry))
    requested = "agentry_approvals_requested_total"
    assert value(page, requested, pool="default", tool="write_file") == 2
    assert value(page, requested, pool="default", tool="unknown") == 1
    assert value(page, "agentry_approvals_expired_total", pool="default", outcome="timed_out") == 1


# --- worker: admission holds -------------------------------------------------------------------


async def test_a_held_model_call_is_counted_with_its_cause_and_how_it_ended() -> None:
    now = [100.0]
    gate = MeteredAdmissionGate(
        ["agent-default"], AdmissionLimits(queue_limit=2, bypass_priority=1), clock=lambda: now[0]
    )
    metrics = WorkerMetrics()
    gate.meter(metrics, ["agent-default"])
    gate.observe("agent-default", ModelLoad(queued=5, running=4, kv_usage=0.5, sampled_at=100.0))
    assert (await gate.admit("agent-default", priority=1)).reason is None  # bypasses: not held
    waiting = asyncio.create_task(gate.admit("agent-default", priority=3, max_wait=30))
    await asyncio.sleep(0)
    page = samples(generate_latest(metrics.registry))
    assert value(page, "agentry_model_calls_held", model="agent-default") == 1
    gate.observe("agent-default", ModelLoad(queued=0, running=1, kv_usage=0.1, sampled_at=101.0))
    assert (await waiting).reason is not None
    gate.observe("agent-default", ModelLoad(queued=9, running=4, kv_usage=0.5, sampled_at=102.0))
    assert (await gate.admit("agent-default", priority=3, max_wait=0)).timed_out
    page = samples(generate_latest(metrics.registry))
    held = "agentry_model_admission_hold_seconds_count"
    assert value(page, held, model="agent-default", cause="queue", outcome="admitted") == 1
    assert value(page, held, model="agent-default", cause="queue", outcome="timed_out") == 1
    assert value(page, "agentry_model_calls_held", model="agent-default") == 0


# --- who may read /metrics ---------------------------------------------------------------------


def test_without_a_token_only_loopback_callers_read_metrics() -> None:
    assert metrics_refusal(None, None, "127.0.0.1") is None
    assert metrics_refusal(None, None, "::1") is None
    assert metrics_refusal(None, None, "::ffff:127.0.0.1") is None
    proxied = metrics_refusal(None, None, "127.0.0.1", forwarded=True)  # a proxy on this host
    assert proxied is not None and proxied[0] == 403
    refused = metrics_refusal(None, "Bearer anything", "10.1.2.3")
    assert refused is not None and refused[0] == 403
    assert metrics_refusal(None, None, None) is not None


def test_with_a_token_every_caller_must_send_it() -> None:
    token = SecretStr("s3cret-metrics")
    assert metrics_refusal(token, "Bearer s3cret-metrics", "10.1.2.3") is None
    assert metrics_refusal(token, "bearer s3cret-metrics", "127.0.0.1") is None
    for header in (None, "Bearer wrong", "Basic s3cret-metrics", "s3cret-metrics"):
        refused = metrics_refusal(token, header, "127.0.0.1")
        assert refused is not None and refused[0] == 401, header


class _FakeSdk:
    def read(self) -> bytes:
        return b"# TYPE temporal_request_total counter\ntemporal_request_total 3\n"


def _get(
    server: MetricsServer, path: str, remote: str, token: str | None = None
) -> tuple[str, bytes]:
    environ: dict[str, Any] = {"PATH_INFO": path, "REMOTE_ADDR": remote, "wsgi.input": io.BytesIO()}
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    answered: list[str] = []
    body = b"".join(server.app(environ, lambda status, headers: answered.append(status)))
    return answered[0], body


def test_a_worker_page_holds_its_own_metrics_then_the_temporal_sdk_s() -> None:
    metrics = WorkerMetrics()
    metrics.tasks_finished.labels("default", "succeeded", "").inc()
    server = MetricsServer(metrics, _FakeSdk(), SecretStr("tok"))  # type: ignore[arg-type]
    status, body = _get(server, "/metrics", "10.0.0.9", token="tok")
    assert status.startswith("200")
    page = samples(body)
    assert (
        value(page, "agentry_tasks_finished_total", pool="default", status="succeeded", code="")
        == 1
    )
    assert value(page, "temporal_request_total") == 3
    assert _get(server, "/metrics", "10.0.0.9")[0].startswith("401")
    assert _get(server, "/other", "127.0.0.1", token="tok")[0].startswith("404")


# --- gateway: gauges read from Postgres ---------------------------------------------------------


class _Gauges(LiveGauges):
    """LiveGauges reading scripted counts instead of Postgres."""

    def __init__(self, readings: list[LiveCounts | Exception], now: list[float]) -> None:
        super().__init__(cache_seconds=5, clock=lambda: now[0])
        self.readings = readings
        self.reads = 0

    async def _read(self) -> LiveCounts:
        reading = self.readings[min(self.reads, len(self.readings) - 1)]
        self.reads += 1
        if isinstance(reading, Exception):
            raise reading
        return reading


def _page(gauges: LiveGauges) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(gauges)
    return samples(generate_latest(registry))


async def test_live_gauges_show_every_agent_and_status_and_the_oldest_approval() -> None:
    counts = LiveCounts(
        tasks={("clerk", "waiting_approval"): 2, ("assistant", "running"): 1},
        approvals={"clerk": OpenApprovals(count=3, oldest_age_seconds=42.5)},
    )
    gauges = _Gauges([counts], now=[0.0])
    gauges._agents = ("assistant", "clerk", "researcher")
    await gauges.refresh()
    page = _page(gauges)
    assert value(page, "agentry_metrics_database_up") == 1
    assert value(page, "agentry_live_tasks", agent="clerk", status="waiting_approval") == 2
    assert (
        "agentry_live_tasks",
        frozenset({("agent", "researcher"), ("status", "queued")}),
    ) in page
    assert value(page, "agentry_approvals_waiting", agent="clerk") == 3
    assert value(page, "agentry_approval_oldest_wait_seconds", agent="clerk") == 42.5
    assert value(page, "agentry_approvals_waiting", agent="assistant") == 0


async def test_live_gauges_read_postgres_once_per_cache_period() -> None:
    now = [0.0]
    gauges = _Gauges([LiveCounts()], now)
    await asyncio.gather(*(gauges.refresh() for _ in range(5)))
    now[0] = 4.9
    await gauges.refresh()
    assert gauges.reads == 1
    now[0] = 5.1
    await gauges.refresh()
    assert gauges.reads == 2


async def test_while_postgres_is_away_the_gauges_are_absent_not_zero() -> None:
    now = [0.0]
    running = LiveCounts(tasks={("assistant", "running"): 4})
    gauges = _Gauges([running, ConnectionRefusedError(), running], now)
    await gauges.refresh()
    now[0] = 10
    await gauges.refresh()
    page = _page(gauges)
    assert value(page, "agentry_metrics_database_up") == 0
    assert not any(name == "agentry_live_tasks" for name, _ in page)
    now[0] = 20
    await gauges.refresh()
    page = _page(gauges)
    assert value(page, "agentry_metrics_database_up") == 1
    assert value(page, "agentry_live_tasks", agent="assistant", status="running") == 4


# --- the gateway's /metrics endpoint ------------------------------------------------------------


async def _gateway_get(
    token: str | None, client_host: str, send: str | None, **more: str
) -> httpx.Response:
    """GET /metrics of a gateway whose lifespan never opened a database (as in an outage);
    `more` are headers (`x_forwarded_for=` sends X-Forwarded-For)."""
    headers = {name.replace("_", "-"): value for name, value in more.items()}
    settings = Settings(_env_file=None, metrics_token=token)
    transport = httpx.ASGITransport(app=create_app(settings), client=(client_host, 40000))
    if send:
        headers["Authorization"] = f"Bearer {send}"
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return await http.get("/metrics", headers=headers)


async def test_the_gateway_answers_loopback_refuses_elsewhere_without_a_token() -> None:
    assert (await _gateway_get(None, "127.0.0.1", None)).status_code == 200
    # a reverse proxy on the same host forwards strangers from loopback: refused
    proxied = await _gateway_get(None, "127.0.0.1", None, x_forwarded_for="198.51.100.4")
    assert proxied.status_code == 403
    refused = await _gateway_get(None, "203.0.113.7", None)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "AGENTRY_METRICS_TOKEN" in refused.json()["detail"]


async def test_with_a_token_the_gateway_wants_it_even_from_loopback() -> None:
    assert (await _gateway_get("tok-1", "127.0.0.1", None)).status_code == 401
    assert (await _gateway_get("tok-1", "203.0.113.7", "wrong")).status_code == 401
    answered = await _gateway_get("tok-1", "203.0.113.7", "tok-1")
    assert answered.status_code == 200


async def test_gateway_requests_are_counted_by_route_template_never_by_path() -> None:
    app = create_app(Settings(_env_file=None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        task = "0b8f6c1e-4f7a-4c59-9d1e-3a1f2b7c9d10"
        refused = await http.post(f"/v1/tasks/{task}/cancel", json={})  # no key: the guard's 401
        assert refused.status_code == 401
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get(f"/no/such/{task}")).status_code == 404
        page = samples(await app.state.metrics.page())
    counted = "agentry_http_requests_total"
    assert value(page, counted, method="POST", route="request_guard", status="401") == 1
    assert value(page, counted, method="GET", route="/healthz", status="200") == 1
    assert value(page, counted, method="GET", route="unmatched", status="404") == 1
    assert not any(task in str(labels) for _, labels in page)


async def test_without_its_database_the_gateway_still_serves_its_metrics() -> None:
    answered = await _gateway_get(None, "127.0.0.1", None)
    assert answered.status_code == 200
    page = samples(answered.text)
    assert value(page, "agentry_metrics_database_up") == 0
    assert not any(name == "agentry_live_tasks" for name, _ in page)
