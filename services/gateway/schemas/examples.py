"""Values the schemas' OpenAPI examples share, so the examples agree with each other."""

EXAMPLE_TASK_ID = "0b8f6c1e-4f7a-4c59-9d1e-3a1f2b7c9d10"
EXAMPLE_TIME = "2026-01-01T12:00:00Z"
