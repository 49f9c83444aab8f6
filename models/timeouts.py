"""How long the database may keep a command waiting (PostgreSQL), read from the environment.
No SQLAlchemy here: the settings read it at every command's start (`cchc.runtime.settings`)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Timeouts:
    """How long PostgreSQL may keep a command waiting: a database cut or hung makes the command
    fail with the cause instead of hanging (SQLite waits up to 30 s for a writer's lock)."""

    connect: float = 10.0
    """CCHC_DB_CONNECT_TIMEOUT: seconds to open a connection."""
    statement: float = 60.0
    """CCHC_DB_STATEMENT_TIMEOUT: seconds a statement may run (0: no limit); migrations have
    none."""

    @classmethod
    def from_env(cls) -> Timeouts:
        """Read CCHC_DB_*_TIMEOUT; raises ValueError naming the variable when unusable."""
        values = {}
        for name, field, least in (("CONNECT", "connect", 1), ("STATEMENT", "statement", 0)):
            variable, text = f"CCHC_DB_{name}_TIMEOUT", os.environ.get(f"CCHC_DB_{name}_TIMEOUT")
            try:
                values[field] = float(text) if text else getattr(cls, field)
            except ValueError:
                raise ValueError(f"{variable}={text!r}: not a number") from None
            if values[field] < least:
                raise ValueError(f"{variable}={text}: must be at least {least} seconds")
        return cls(**values)

    def postgresql(self) -> dict:
        """psycopg's connect arguments."""
        return {
            "connect_timeout": max(1, round(self.connect)),
            "options": f"-c statement_timeout={round(self.statement * 1000)}",
        }
