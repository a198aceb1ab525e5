"""The agents a worker's tasks may delegate to, configured as the gateway configures them."""

from __future__ import annotations

from collections.abc import Collection

from activities.skills.library import SkillLibrary
from activities.tools.catalog import ToolCatalog
from activities.tools.registry import ToolRegistry
from services.agent_catalog import AgentCatalog
from services.model_groups import load_model_groups
from services.pools.catalog import PoolCatalog
from services.settings import Settings
from workflows.contracts.agents import AgentConfig


def agent_configs(
    settings: Settings, registry: ToolRegistry, unchecked_prefixes: Collection[str] = ()
) -> dict[str, AgentConfig]:
    """Every agent as the gateway reads it, for the sub-agents this worker's tasks start
    (tools named with `unchecked_prefixes`, an unreachable MCP server's, are not checked)."""
    tools = ToolCatalog.of(registry.tools(registry.names()))
    catalog = AgentCatalog.load(
        settings.agents_dir,
        tool_schemas=tools.parameter_schemas(),
        side_effect_tools=tools.side_effect_names(),
        model_groups=load_model_groups(settings.litellm_config),
        skills=SkillLibrary.load(settings.skills_dir),
        unchecked_prefixes=unchecked_prefixes,
        local_turn_pools=PoolCatalog.load(settings.pools_file).local_turn_pools(),
    )
    return {name: config for name in catalog.names() if (config := catalog.config(name))}
