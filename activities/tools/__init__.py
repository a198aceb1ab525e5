"""Tools the agents call.

`tool.py` turns a typed function into a tool, `registry.py` holds the tools a worker runs,
`builtin.py` and `workspace.py` are the tools themselves (they import `errors.py` and
`context.py`, never the registry), and `catalog.py` reads their schemas from `schemas.json` for
processes that must not load tool code, such as the gateway.
"""
