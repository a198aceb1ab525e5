"""Request and response bodies of the REST API, a module per resource; their descriptions
and examples are the /docs page. The pool status a pool route answers with is
services/pools/status.py, shared with `agentry pools`."""
