"""Settings that differ per machine: read from the environment, never from committed YAML."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    data_dir: Path
    database_url: str

    @classmethod
    def from_env(cls, config_dir: str | None = None) -> Settings:
        data_dir = Path(os.environ.get("CCHC_DATA_DIR") or "./var")
        default_db = f"sqlite:///{(data_dir / 'cchc.db').resolve()}"
        return cls(
            config_dir=Path(config_dir or os.environ.get("CCHC_CONFIG") or "./config"),
            data_dir=data_dir,
            database_url=os.environ.get("CCHC_DATABASE_URL") or default_db,
        )
