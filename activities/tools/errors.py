"""Errors tools raise on purpose: their message goes back to the model as the tool's result.

Tools import this module, never the registry, so registering a tool never imports itself back.
"""

from __future__ import annotations


class ToolError(Exception):
    """An error a tool raises on purpose: its message goes back to the model as the result."""


class ToolArgumentError(ToolError):
    """The model's arguments do not fit the tool's parameters."""


class UnknownToolError(ToolError, LookupError):
    """No tool has that name; the message lists the ones that exist so the model can retry."""
