"""Persistence: SQLAlchemy models, repositories, alembic migrations, column encryption, FSM storage.

Imports nothing from services, handlers or bot; creates nothing at import time.
"""
