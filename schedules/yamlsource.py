"""Read YAML while remembering the line of every value, so config errors can say `FILE:LINE:`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    _BaseLoader = yaml.SafeLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: about 10x faster


class _PlainLoader(_BaseLoader):
    """SafeLoader with three YAML 1.1 surprises removed:

    - dates stay strings: pydantic parses them and reports `2026-02-30` with its location,
      instead of PyYAML raising with no path;
    - only true/false are booleans (YAML 1.2): `on: "01-31"` is the key "on", not True;
    - no base-60 numbers (YAML 1.2): `sweep_time: 7:30` is the clock time, not 450. A plain
      `H:MM` is read as the string "0H:MM", the form pydantic parses as a time.
    """


_BOOL = "tag:yaml.org,2002:bool"
_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
for _first in list("yYnNoO"):
    _PlainLoader.yaml_implicit_resolvers[_first] = [
        (tag, rx)
        for tag, rx in _PlainLoader.yaml_implicit_resolvers.get(_first, [])
        if tag != _BOOL
    ]
_PlainLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

# YAML 1.1 reads `7:30` as 7 * 60 + 30 (and `1:30.5` as a float): refuse those matches.
_NOT_BASE_60 = r"(?![-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$)"
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_PlainLoader.yaml_implicit_resolvers = {
    first: [
        (tag, re.compile(_NOT_BASE_60 + rx.pattern, rx.flags) if tag in _NUMBERS else rx)
        for tag, rx in resolvers
    ]
    for first, resolvers in _PlainLoader.yaml_implicit_resolvers.items()
}
_CLOCK = "tag:cchc,2026:clock"
_PlainLoader.add_implicit_resolver(
    _CLOCK, re.compile(r"^[0-9]:[0-5][0-9](?::[0-5][0-9])?$"), list("0123456789")
)


def _clock(loader: _PlainLoader, node: yaml.ScalarNode) -> str:
    return "0" + loader.construct_scalar(node)


_PlainLoader.add_constructor(_CLOCK, _clock)


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    message: str
    communes: tuple[str, ...] = field(default=(), compare=False)
    """In a city: the communes whose plan this problem breaks (none: the city's own files),
    which `schedules.quarantine` sets aside while the others go on."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigInvalid(Exception):
    """The config folder cannot be used; `issues` says where and why."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = sorted(issues, key=lambda i: (i.file, i.line))
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass
class YamlSource:
    """One parsed file: its data and the line (1-based) of each path inside it."""

    path: Path
    data: Any
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def line_of(self, loc: tuple[Any, ...]) -> int:
        """Line of the deepest known prefix of `loc` (pydantic error locations included)."""
        for end in range(len(loc), -1, -1):
            key = tuple(_normal(k) for k in loc[:end])
            if key in self.lines:
                return self.lines[key]
        return 1

    def issue(self, loc: tuple[Any, ...], message: str) -> ConfigIssue:
        return ConfigIssue(str(self.path), self.line_of(loc), message)

    def describe(self, loc: tuple[Any, ...]) -> str:
        """`loc` as the file's editor counts: list entries from 1, named by their `id` or
        `code` when they have one: ("units", 1, "email") -> "units[2] (VP).email"."""
        text, node = "", self.data
        for key in loc:
            if isinstance(node, list) and isinstance(_normal(key), int):
                index = _normal(key)
                node = node[index] if 0 <= index < len(node) else None
                name = next(
                    (node[k] for k in ("id", "code") if isinstance(node, dict) and k in node), None
                )
                text += f"[{index + 1}]" + (f" ({name})" if isinstance(name, str | int) else "")
                continue
            text += f".{key}" if text else str(key)
            if isinstance(node, dict):
                node = next((node[k] for k in (key, _normal(key)) if k in node), None)
            else:
                node = None
        return text


def _normal(key: Any) -> Any:
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return key


READS: list[set[str]] = []
"""While a compiled config is being made (`schedules.compiled`): the sets that collect the path
of every file read, so that the compiled config knows which files it depends on."""


def read_yaml(path: Path) -> YamlSource:
    """Parse `path`; raise ConfigInvalid with the line of a syntax error or of a byte that is
    not UTF-8."""
    for reads in READS:
        reads.add(os.path.abspath(path))
    try:
        loader = _PlainLoader(_decode(path))
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigInvalid(
            [
                ConfigIssue(
                    str(path),
                    line,
                    f"malformed YAML: {exc.problem or exc} (sai cú pháp YAML: kiểm tra thụt lề, "
                    "dấu ngoặc, dấu nháy và dấu hai chấm)",
                )
            ]
        ) from exc
    except OSError as exc:
        raise ConfigInvalid(
            [ConfigIssue(str(path), 1, f"cannot read file: {exc} (không đọc được tệp)")]
        ) from exc
    source = YamlSource(path, data, {(): 1})
    if node is not None:
        _collect_lines(node, (), source.lines)
    return source


_SAVE_AS_UTF8 = "save the file as UTF-8 (lưu tệp dưới dạng UTF-8)"


def _decode(path: Path) -> str:
    """The text of `path`, UTF-8 with or without a BOM; else ConfigInvalid at the first bad
    byte's line and column (an editor's "ANSI", Windows-1258 or TCVN3, or UTF-16)."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        message = f"the file is in UTF-16 (tệp đang ở dạng UTF-16): {_SAVE_AS_UTF8}"
        raise ConfigInvalid([ConfigIssue(str(path), 1, message)])
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # the BOM of Notepad's "UTF-8 with BOM"
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8")) + 1
        message = (
            f"column {column}: byte 0x{raw[exc.start]:02x} is not UTF-8 "
            f"(ký tự không phải mã UTF-8; tệp có thể đang ở dạng ANSI, Windows-1258 hay TCVN3): "
            f"{_SAVE_AS_UTF8}"
        )
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigInvalid([ConfigIssue(str(path), line, message)]) from exc


def _collect_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]):
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = _normal(key_node.value)
            out[path + (key,)] = key_node.start_mark.line + 1
            _collect_lines(value_node, path + (key,), out)
            out[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, path + (index,), out)
