"""Side effects, each activity a class with injected clients: the task lifecycle, model turns,
tool calls and approvals; the tools themselves (`tools/`) and Postgres (`db/`)."""
