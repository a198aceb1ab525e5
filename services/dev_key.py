"""The local dev API key: created on the first `make run`, reused by every later one."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from activities.db.engine import create_engine, create_session_factory
from activities.db.models import ApiKey
from services.settings import Settings

DEV_TENANT = "local-dev"


async def ensure_dev_key(settings: Settings) -> str:
    from services.api_keys import create_api_key

    path = settings.data_dir / "dev-api-key"
    engine = create_engine(settings.resolved_database_url, pool_size=1)
    try:
        sessions = create_session_factory(engine)
        if path.exists():
            key = path.read_text().strip()
            digest = hashlib.sha256(key.encode()).hexdigest()
            async with sessions() as session:
                known = await session.scalar(
                    select(ApiKey.id).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
                )
            if known is not None:
                return key
        key = await create_api_key(sessions, DEV_TENANT, role="admin", name="dev")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(key + "\n")
        path.chmod(0o600)
        return key
    finally:
        await engine.dispose()
