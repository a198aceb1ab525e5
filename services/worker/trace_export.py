"""The worker's trace exporter: Langfuse when its keys and host are set, else none. Without
them nothing of the Langfuse SDK is imported or started."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.tools.registry import ToolRegistry
from activities.trace_export import NO_TRACE_EXPORT, TraceExport
from services.settings import Settings

logger = logging.getLogger(__name__)


def trace_export(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    registry: ToolRegistry,
) -> TraceExport:
    if not settings.langfuse_enabled:
        return NO_TRACE_EXPORT
    from activities.langfuse_export.emitter import LangfuseEmitter
    from activities.langfuse_export.exporter import LangfuseExport

    assert settings.langfuse_public_key and settings.langfuse_secret_key
    assert settings.langfuse_host
    emitter = LangfuseEmitter(
        settings.langfuse_public_key,
        settings.langfuse_secret_key.get_secret_value(),
        settings.langfuse_host,
        flush_seconds=settings.langfuse_flush_seconds,
    )
    logger.info("tasks are traced to Langfuse at %s", settings.langfuse_host)
    return LangfuseExport(emitter, session_factory, registry)
