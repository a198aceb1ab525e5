"""Re-sends approval decisions whose workflow was never told.

A decision is committed to Postgres before its signal is sent; if the gateway dies in between,
or Temporal was down, the row keeps `signalled_at` empty. This loop, started in the gateway's
lifespan, finds such rows and signals them again. Rows are claimed with FOR UPDATE SKIP LOCKED,
so several gateway replicas share the work without sending one decision twice at once (a
duplicate would be harmless anyway: the workflow ignores a decision it already has).

A deciding request signals at once (`DecisionOutbox.send_now`) and only notes the approval as
told; the notes are written a moment later, in one UPDATE per burst, so the request and the
workflow task it wakes do not wait for that write. Should the gateway die before writing them,
the outbox re-sends those decisions once: a duplicate, which the workflow ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.db.approvals import ApprovalRepository
from activities.db.decisions import RecordedDecision
from services.gateway.signals import send_decision

logger = logging.getLogger(__name__)

RESEND_AFTER = timedelta(seconds=2)  # leave the deciding request time to signal itself
BATCH_SIZE = 100
MARK_TOLD_DELAY_SECONDS = 0.05  # after the woken workflow task; gathers a burst into one write


async def resend_unsignalled_decisions(
    session_factory: async_sessionmaker[AsyncSession],
    client: Client,
    *,
    older_than: timedelta = RESEND_AFTER,
    limit: int = BATCH_SIZE,
) -> int:
    """One pass: signal the claimed decisions and mark those told; how many were told.

    A failed signal ends the pass early and leaves its row and the rest for the next one.
    """
    async with session_factory() as session, session.begin():
        approvals = ApprovalRepository(session)
        claimed = await approvals.claim_unsignalled(older_than=older_than, limit=limit)
        told = []
        for item in claimed:
            approval = item.approval
            try:
                await send_decision(client, item.workflow_id, approval)
            except Exception as exc:
                # most likely Temporal is unreachable: stop here, the next pass tries again
                logger.warning(
                    "re-sending decision of approval %s to %s failed: %s",
                    approval.id,
                    item.workflow_id,
                    type(exc).__name__,
                )
                break
            told.append(approval.id)
        await approvals.mark_signalled(told)
    if told:
        logger.info("re-sent %d approval decision(s)", len(told))
    return len(told)


async def run_decision_outbox(
    session_factory: async_sessionmaker[AsyncSession], client: Client, interval_seconds: float
) -> None:
    """Pass after pass until cancelled; an error is logged and the next pass tries again."""
    while True:
        try:
            await resend_unsignalled_decisions(session_factory, client)
        except Exception:
            logger.exception("the decision outbox pass failed; retrying in %ss", interval_seconds)
        await asyncio.sleep(interval_seconds)


class DecisionOutbox:
    """The loop as a background task of the gateway, and the writer of `signalled_at` for the
    decisions the gateway's requests told themselves: `start()` in the lifespan, `stop()` at its
    end (cancels the loop, an interrupted pass rolls back and leaves its rows for later; then
    writes the notes still pending)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        client: Client,
        interval_seconds: float,
    ) -> None:
        self._session_factory = session_factory
        self._client = client
        self._interval = interval_seconds
        self._tasks: list[asyncio.Task[None]] = []
        self._told: set[uuid.UUID] = set()
        self._told_noted = asyncio.Event()

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(
                    run_decision_outbox(self._session_factory, self._client, self._interval),
                    name="decision-outbox",
                ),
                asyncio.create_task(self._mark_told_forever(), name="decision-outbox-marks"),
            ]

    async def send_now(
        self, client: Client, decided: RecordedDecision, render: Callable[[], str]
    ) -> tuple[bool, str]:
        """Signal a decision just recorded to its workflow through the request's `client`, and
        render the answer to the deciding request while the signal is on its way. (True,
        answer) once the workflow has it; (False, answer) when the signal failed: the re-send
        loop sends it later."""
        approval = decided.approval
        signal = asyncio.ensure_future(send_decision(client, decided.workflow_id, approval))
        await asyncio.sleep(0)  # the signal's RPC leaves before the answer is rendered
        answer = render()
        try:
            await signal
        except Exception as exc:
            logger.warning(
                "signalling the decision of approval %s failed: %s", approval.id, type(exc).__name__
            )
            return False, answer
        self.told(approval.id)
        return True, answer

    def told(self, approval_id: uuid.UUID) -> None:
        """The workflow has this approval's decision; `signalled_at` is written shortly."""
        self._told.add(approval_id)
        self._told_noted.set()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._mark_told()

    async def _mark_told_forever(self) -> None:
        while True:
            await self._told_noted.wait()
            await asyncio.sleep(MARK_TOLD_DELAY_SECONDS)
            await self._mark_told()

    async def _mark_told(self) -> None:
        self._told_noted.clear()
        told, self._told = self._told, set()
        if not told:
            return
        try:
            async with self._session_factory() as session, session.begin():
                await ApprovalRepository(session).mark_signalled(sorted(told))
        except Exception as exc:
            # kept for the next write; meanwhile the outbox may re-send them (harmless)
            self._told |= told
            logger.warning("recording %d told decision(s) failed: %s", len(told), exc)
