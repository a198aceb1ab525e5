"""Observations onto the Langfuse SDK. The SDK's observation classes set Langfuse's attributes
(types, input, output, usage, cost, levels) and its span processor batches finished spans and
sends them as OTLP/HTTP to `<host>/api/public/otel/v1/traces` from a background thread: a slow
or unreachable Langfuse costs the sender nothing but the dropped batches (logged).

Two things the SDK's `start_observation` cannot do are done on the tracer provider it is
given (a private one, never the process's global provider): span ids are the derived ones
(ids.py, through the provider's id generator) and spans start and end at the step's own
times, after the fact.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from langfuse import (
    Langfuse,
    LangfuseAgent,
    LangfuseGeneration,
    LangfuseOtelSpanAttributes,
    LangfuseSpan,
    LangfuseTool,
)
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

from activities.langfuse_export.families import Family
from activities.langfuse_export.observations import Observation

TRACER_NAME = "agentry"
# set by the SDK's processor on a span whose parent this process did not export; only a
# task family's own root is one (its other spans' parents were sent by earlier activities)
IS_APP_ROOT = "langfuse.internal.is_app_root"
WRAPPERS: dict[str, type[Any]] = {
    "agent": LangfuseAgent,
    "generation": LangfuseGeneration,
    "tool": LangfuseTool,
    "span": LangfuseSpan,
}

_chosen: ContextVar[tuple[int, int] | None] = ContextVar("chosen_ids", default=None)


class DerivedIds(IdGenerator):
    """The ids chosen for the span being started (random ones when none is chosen)."""

    _random = RandomIdGenerator()

    def generate_trace_id(self) -> int:
        chosen = _chosen.get()
        return chosen[0] if chosen else self._random.generate_trace_id()

    def generate_span_id(self) -> int:
        chosen = _chosen.get()
        return chosen[1] if chosen else self._random.generate_span_id()


class LangfuseEmitter:
    def __init__(
        self, public_key: str, secret_key: str, host: str, flush_seconds: float = 5.0
    ) -> None:
        self._provider = TracerProvider(id_generator=DerivedIds())
        self._client = Langfuse(
            public_key=public_key,
            secret_key=secret_key,
            base_url=host,
            tracer_provider=self._provider,
            # only our spans are on this provider
            should_export_span=_every_span,
            flush_interval=flush_seconds,
        )
        self._tracer = self._provider.get_tracer(TRACER_NAME)

    def emit(self, observation: Observation, family: Family, parent_id: str | None) -> None:
        """Send one finished observation of the family's trace; `parent_id` None makes it the
        trace's root. Every observation carries the trace's name and task (Langfuse v4 reads
        trace attributes from each observation)."""
        trace_id = family.trace_id
        parent = Context()
        if parent_id is not None:
            context = trace.SpanContext(
                int(trace_id, 16),
                int(parent_id, 16),
                is_remote=True,
                trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
            )
            parent = trace.set_span_in_context(trace.NonRecordingSpan(context))
        token = _chosen.set((int(trace_id, 16), int(observation.id, 16)))
        try:
            span = self._tracer.start_span(
                observation.name, context=parent, start_time=observation.start_ns
            )
        finally:
            _chosen.reset(token)
        if parent_id is not None:
            span.set_attribute(IS_APP_ROOT, False)
        span.set_attribute(LangfuseOtelSpanAttributes.TRACE_NAME, family.trace_name)
        span.set_attribute(LangfuseOtelSpanAttributes.TRACE_TAGS, ["agentry", family.trace_name])
        key = f"{LangfuseOtelSpanAttributes.TRACE_METADATA}.task_id"
        span.set_attribute(key, json.dumps(family.root_task_id))
        fields: dict[str, Any] = {
            "input": observation.input,
            "output": observation.output,
            "metadata": observation.metadata or None,
            "level": observation.level,
            "status_message": observation.status_message,
        }
        if observation.kind == "generation":
            fields.update(
                model=observation.model,
                model_parameters=observation.model_parameters,
                usage_details=observation.usage,
                cost_details=observation.cost,
            )
        wrapper = WRAPPERS[observation.kind](otel_span=span, langfuse_client=self._client, **fields)
        wrapper.end(end_time=max(observation.end_ns, observation.start_ns))

    def flush(self) -> None:
        """Blocks until the batch is sent (or its export timed out)."""
        self._client.flush()

    def shutdown(self) -> None:
        self._client.shutdown()
        self._provider.shutdown()


def _every_span(span: ReadableSpan) -> bool:
    return True
