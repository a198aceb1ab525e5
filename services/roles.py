"""The roles an API key can have. Kept apart from the key service so that the CLI can offer
them without loading the database layer."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a key may do beyond reading its tenant's tasks and approvals (services/gateway/deps.py
    names the roles each action needs)."""

    submitter = "submitter"
    approver = "approver"
    operator = "operator"
    admin = "admin"  # everything within its tenant, keys included
    # the shared worker pools (all tenants' counts, scaling): never a tenant's by default
    platform_operator = "platform-operator"
