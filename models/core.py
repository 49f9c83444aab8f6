"""The columns `cchc items` reads, as SQLAlchemy Core tables: the item list is read without
loading SQLModel nor SQLAlchemy's ORM (their import and mapping are about 0.2 s of a command's
start, more than the query).

`models.tables` stays the schema's one home (its migrations, its constraints): these tables name
only columns of it, with the same types, and tests/test_compiled_config.py checks each one
against it."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, String, Table

metadata = MetaData()

work_item = Table(
    "work_item",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("commune", String),
    Column("obligation", String),
    Column("unit", String),
    Column("period", String),
    Column("title", String),
    Column("window_start", Date),
    Column("window_end", Date),
    Column("due", Date),
    Column("original_due", Date),
    Column("adhoc", Boolean),
    Column("status", String),
    Column("escalation_level", Integer),
    Column("opened_at", DateTime),
    Column("closed_at", DateTime),
    Column("on_time", Boolean),
    Column("waived_reason", String),
    Column("next_action_at", DateTime),
    Column("directive_id", Integer),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer),
    Column("status", String),
)

directive = Table(
    "directive",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String),
)
