"""Agent spec versions at the gateway: each loaded spec's version recorded at start (a
version's content never changes once recorded), and the config of the version a submit pins.
A pinned older version is checked against today's tools, pools and model groups, and its
sub-agents are today's."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from activities.db.agent_versions import AgentVersionRepository
from services.agent_catalog import AgentCatalog
from services.agent_specs import AgentSpec, AgentSpecError
from services.gateway.errors import ProblemError
from services.gateway.submission import canonical_json
from workflows.contracts.agents import AgentConfig


def spec_content(spec: AgentSpec) -> tuple[dict[str, Any], str]:
    """The spec as stored (JSON, the fields its file sets) and its digest: the sha256 of its
    canonical JSON, so comments, formatting and the defaults of fields it leaves out (a new
    release may add some) are not changes."""
    content = spec.model_dump(mode="json", exclude_unset=True)
    return content, hashlib.sha256(canonical_json(content).encode()).hexdigest()


async def record_versions(session: AsyncSession, catalog: AgentCatalog) -> None:
    """Record each spec's version when new. AgentSpecError when a recorded version now says
    something else: the spec was changed without raising its version, and tasks pinned to that
    version would silently run the new content."""
    versions = AgentVersionRepository(session)
    for spec in catalog.specs():
        content, digest = spec_content(spec)
        row = await versions.record(spec.name, spec.version, content, digest)
        if row.digest != digest:
            changed = sorted(
                key
                for key in content.keys() | row.spec.keys()
                if content.get(key) != row.spec.get(key)
            )
            raise AgentSpecError(
                f"{catalog.path_of(spec.name)}: version {spec.version} of agent {spec.name!r} "
                f"was recorded on {row.recorded_at:%Y-%m-%d %H:%M} UTC with other content "
                f"({', '.join(changed)} differ); raise `version` to publish a change"
            )
    await session.commit()


async def pinned_config(
    session: AsyncSession, catalog: AgentCatalog, name: str, version: int
) -> tuple[AgentSpec, AgentConfig]:
    """The spec of `name` at `version` and what a task pinned to it runs with; ProblemError
    422 when that version was never recorded or can no longer run here."""
    current = catalog.get(name)
    config = catalog.config(name)
    if current is not None and config is not None and current.version == version:
        return current, config
    versions = AgentVersionRepository(session)
    row = await versions.get(name, version)
    if row is None:
        recorded = [row.version for row in await versions.versions(name)]
        raise ProblemError(
            422,
            f"agent {name!r} has no version {version}; recorded versions: "
            f"{', '.join(map(str, recorded)) or '(none)'}",
            kind="unknown-agent-version",
            extra={"versions": recorded},
        )
    try:
        spec = AgentSpec.model_validate(row.spec)
        return spec, catalog.config_of(spec)
    except (ValidationError, AgentSpecError) as exc:
        raise ProblemError(
            422,
            f"version {version} of agent {name!r} cannot run on this deployment: {exc}",
            kind="agent-version-unusable",
        ) from exc
