"""The local dev API key: created on the first `make run`, reused by every later one."""

from __future__ import annotations

from activities.db.api_keys import ApiKeyRepository
from activities.db.engine import opened_sessions
from services.key_service import create_api_key, hash_api_key
from services.roles import Role
from services.settings import Settings

DEV_TENANT = "local-dev"


async def ensure_dev_key(settings: Settings) -> str:
    """The key in `<data_dir>/dev-api-key` while it is still valid, else a new admin key of
    the `local-dev` tenant written there (readable by its owner only)."""
    path = settings.data_dir / "dev-api-key"
    async with opened_sessions(settings.resolved_database_url) as sessions:
        if path.exists():
            key = path.read_text().strip()
            async with sessions() as session:
                if await ApiKeyRepository(session).find_active(hash_api_key(key)) is not None:
                    return key
        key = await create_api_key(sessions, DEV_TENANT, role=Role.admin, name="dev")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key
