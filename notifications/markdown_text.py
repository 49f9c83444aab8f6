"""Text from the config (a unit's or a commune's name, an obligation's title) put into the
Markdown the Prefect UI renders: the sweep summaries, the scorecard, artifact descriptions and
table cells (the UI renders Markdown in those too). `md_text` makes such text print as written:
a `|` does not shift a table's columns, `[x](javascript:…)` is no link, `![](https://…)` no
remote image, `<img>` no HTML."""

from __future__ import annotations

import re
from typing import Any

_INLINE = re.compile(r"([\\`*_\[\]()<>|!~&])")
"""Characters that open an inline construct anywhere in a line (links, images, emphasis, code,
HTML, entities, table cells, strikethrough), escaped with a backslash (CommonMark: any ASCII
punctuation may be)."""
_LINE_START = re.compile(r"^(\s*)(\d{1,9})(\.)(?=\s|$)|^(\s*)([-+=#])(?=[-+=#]*\s*$|[-+=#]*\s)")
"""What makes a line a heading, a list item or a setext heading's underline when it starts one:
`# `, `1. `, `- `, `+ `, `===` (a `)` is escaped anywhere)."""


def md_text(value: Any) -> str:
    """`value` as plain text inside Markdown: on one line (a line break would end a table row),
    every character that could start Markdown or HTML escaped."""
    text = " ".join(str(value).split())
    text = _INLINE.sub(r"\\\1", text)
    return _LINE_START.sub(_escape_marker, text)


def _escape_marker(match: re.Match[str]) -> str:
    if match.group(2) is not None:  # an ordered list marker: escape its `.` or `)`
        return f"{match.group(1)}{match.group(2)}\\{match.group(3)}"
    return f"{match.group(4)}\\{match.group(5)}"


def md_cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A table artifact's rows with every text cell made plain (`md_text`); numbers stay
    numbers."""
    return [
        {key: md_text(value) if isinstance(value, str) else value for key, value in row.items()}
        for row in rows
    ]
