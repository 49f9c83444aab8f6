"""Read YAML while remembering the line of every value, so config errors can say `FILE:LINE:`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: about 10x faster


class _PlainLoader(_BaseLoader):
    """SafeLoader with two YAML 1.1 surprises removed:

    - dates stay strings: pydantic parses them and reports `2026-02-30` with its location,
      instead of PyYAML raising with no path;
    - only true/false are booleans (YAML 1.2): `on: "01-31"` is the key "on", not True.
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


@dataclass
class ConfigIssue:
    file: str
    line: int
    message: str

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


def _normal(key: Any) -> Any:
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return key


def read_yaml(path: Path) -> YamlSource:
    """Parse `path`; raise ConfigInvalid with the line of a syntax error."""
    try:
        loader = _PlainLoader(path.read_text(encoding="utf-8"))
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigInvalid(
            [ConfigIssue(str(path), line, f"malformed YAML: {exc.problem or exc}")]
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigInvalid([ConfigIssue(str(path), 1, f"cannot read file: {exc}")]) from exc
    source = YamlSource(path, data, {(): 1})
    if node is not None:
        _collect_lines(node, (), source.lines)
    return source


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
