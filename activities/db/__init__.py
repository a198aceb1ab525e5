"""Postgres: the tables (`models.py`) and one repository class per aggregate, each module named
for what it holds; the gateway and the activities use these, nothing else writes SQL. The
migration scripts live in deploy/migrations, run by `migrations.py`."""
