"""Trajectory replay: finished tasks saved as cases (`agentry eval save`), run again on a new
agent spec or model and compared with what was saved (`agentry eval replay`).

cases.py holds the case file and how one is read from a task's REST records; compare.py the
comparison and its diff, pure functions a test runs without a stack."""
