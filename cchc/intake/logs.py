"""Request logging without credentials: the signed tokens of a URL (an item's link, an office's
`?t=`) are cut out of what the intake logs and of uvicorn's access log."""

from __future__ import annotations

import logging
import re

_TOKEN_IN_PATH = re.compile(r"(/items/\d+/)[^/?\s]+")
_TOKEN_IN_QUERY = re.compile(r"([?&]t=)[^&\s]+")


def redact(text: str) -> str:
    """A URL with its signed tokens cut out: links are credentials, logs are not the place."""
    return _TOKEN_IN_QUERY.sub(r"\1…", _TOKEN_IN_PATH.sub(r"\1…", text))


class RedactTokens(logging.Filter):
    """For uvicorn's access log (its record args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def log_config() -> dict:
    """uvicorn's logging set-up, with the tokens redacted from the access log."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    config["handlers"]["access"]["filters"] = ["redact_tokens"]
    return config
