"""The admission gate (activities/model_admission.py), counting the calls it holds.

A held call is what the task's `model_call_held` event reports: how long it waited, why (the
cause of the reading that held it) and whether it was let through or gave its slot back. The
gate's own decisions are untouched; this only watches what `admit` returns.
"""

from __future__ import annotations

from activities.model_admission import Admission, AdmissionGate
from services.worker.metrics import WorkerMetrics


class MeteredAdmissionGate(AdmissionGate):
    metrics: WorkerMetrics | None = None

    def meter(self, metrics: WorkerMetrics, models: list[str]) -> None:
        self.metrics = metrics
        metrics.watch_held_calls(models, self.waiting)

    async def admit(self, model: str, priority: int, max_wait: float | None = None) -> Admission:
        admission = await super().admit(model, priority, max_wait)
        if admission.reason is not None and self.metrics is not None:
            outcome = "timed_out" if admission.timed_out else "admitted"
            self.metrics.admission_hold_seconds.labels(
                model, admission.reason.cause, outcome
            ).observe(admission.held_seconds)
        return admission
