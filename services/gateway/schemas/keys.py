"""Bodies of /v1/keys: a tenant admin's view of its API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from activities.db.models import ApiKey
from services.roles import Role


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "ci", "role": "submitter", "expires_at": "2027-01-31T00:00:00Z"}]
        },
    )

    name: str = Field(min_length=1, max_length=200, description="Who or what uses the key.")
    role: Role = Field(
        description="submitter, approver, operator or admin (platform-operator keys are made "
        "with `agentry keys create` only)."
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working (with a time zone); never if unset."
    )


class KeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    role: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Accurate to about a minute.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(
            id=key.id, name=key.name, prefix=key.prefix, role=key.role,
            created_at=key.created_at, expires_at=key.expires_at,
            last_used_at=key.last_used_at, revoked_at=key.revoked_at,
        )  # fmt: skip


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself. Shown this once: only its hash is stored.")


class KeyList(BaseModel):
    items: list[KeyOut]


class KeyAbilities(BaseModel):
    submit: bool = Field(description="Submit, cancel and message tasks.")
    decide: bool = Field(description="Decide approvals.")
    watch_pools: bool = Field(description="See and scale the shared worker pools.")
    manage_keys: bool = Field(description="List, create and revoke the tenant's keys.")


class KeySelf(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    tenant_id: uuid.UUID
    can: KeyAbilities = Field(
        description="What the role allows, beyond reading the tenant's tasks."
    )
