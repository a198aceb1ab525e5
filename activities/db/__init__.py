"""Postgres: the tables (`models.py`) and one repository class per aggregate, each module named
for what it holds. Everything that reads or writes the database goes through these; nothing
else writes SQL. The migration scripts live in deploy/migrations, run by `migrations.py`."""

# these tables join the others in models.Base.metadata whatever is imported
from activities.db import agent_versions as agent_versions  # noqa: E402
from activities.db import pool_samples as pool_samples  # noqa: E402
from activities.db import shadow_tables as shadow_tables  # noqa: E402
