"""Postgres access: SQLAlchemy 2 async models and repositories.

Migrations live in deploy/migrations."""
