"""API keys, the service side: made here, shown once, stored (by activities/db/api_keys.py) only
as a sha256 and a short prefix."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db.api_keys import ApiKeyRepository
from activities.db.models import ApiKey
from activities.db.tenants import TenantRepository
from services.roles import Role

KEY_PREFIX = "agk_"
DISPLAY_PREFIX_LENGTH = 12  # "agk_" and 8 random characters: enough to tell keys apart


@dataclass(frozen=True)
class GeneratedKey:
    plaintext: str
    prefix: str
    key_hash: str


def hash_api_key(key: str) -> str:
    """Keys carry 256 random bits, so a plain sha256 is enough (no need for a slow KDF)."""
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> GeneratedKey:
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    return GeneratedKey(
        plaintext=plaintext,
        prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
        key_hash=hash_api_key(plaintext),
    )


async def create_api_key(
    session_factory: async_sessionmaker[AsyncSession],
    tenant_name: str,
    role: Role | str = Role.admin,
    name: str = "dev",
    expires_at: datetime | None = None,
) -> str:
    """Create a key for the tenant (creating the tenant if missing); returns the plaintext once."""
    async with session_factory() as session, session.begin():
        tenant = await TenantRepository(session).get_or_create(tenant_name)
        _, plaintext = await issue_key(session, tenant.id, Role(role), name, expires_at)
    return plaintext


async def issue_key(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    role: Role,
    name: str,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key row in the tenant, and its plaintext (shown once, never stored)."""
    key = generate_api_key()
    row = await ApiKeyRepository(session).create(
        tenant_id=tenant_id,
        name=name,
        prefix=key.prefix,
        key_hash=key.key_hash,
        role=role.value,
        expires_at=expires_at,
    )
    return row, key.plaintext
