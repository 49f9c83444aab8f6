"""Mail text from Jinja2 templates: the admin's `config/templates/` first, then the package's.

Each kind has three templates: `KIND.subject.j2` (one line), `KIND.txt.j2` (plain text) and
`KIND.html.j2` (HTML, autoescaped). `StrictUndefined` turns a misspelt variable into an error, and
`cchc check` renders every template against a sample (`check_templates`), so such an error stops
at check time, not at a live send.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    meta,
)
from markupsafe import Markup

from notifications.message import KIND_PATTERN, one_line
from schedules.vocabulary import MailKind
from schedules.yamlsource import ConfigIssue

PARTS = ("subject", "txt", "html")
FRAGMENTS_KEPT = 1024
"""Rendered fragments a renderer keeps (`Renderer.fragment`); a plan needs a few dozen."""
OVERRIDE_FOLDER = "templates"
"""Inside the config folder."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith(".html.j2")


def template_name(kind: MailKind, part: str) -> str:
    return f"{kind}.{part}.j2"


class FrozenLoader(BaseLoader):
    """The templates of the override folders as they were when the set was read (the first
    folder's first): a set keeps its texts whatever is saved on disk afterwards, so a set in
    use stays whole while an edited one is checked (see `notifications.template_sets`)."""

    def __init__(self, folders: list[Path]):
        self.files: dict[str, tuple[bytes, str]] = {}
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                name = path.relative_to(folder).as_posix()
                if name in self.files or not path.is_file():
                    continue
                try:
                    self.files[name] = (path.read_bytes(), str(path))
                except OSError:
                    continue  # removed meanwhile: as if absent

    def get_source(self, environment, template):
        if template not in self.files:
            raise TemplateNotFound(template)
        data, path = self.files[template]
        return data.decode("utf-8"), path, lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self.files)


class Renderer:
    """The template set of a config folder: its `templates/` (a commune's), then its city's,
    over the shipped ones, as read when the renderer is built. `key` names the folders,
    `signature` their state then (see `renderer_for`)."""

    def __init__(self, *override_dirs: Path, key: tuple = (), signature: tuple = ()):
        self.override_dirs = [Path(d) for d in override_dirs]
        self.key, self.signature = key, signature
        self.env = Environment(
            loader=ChoiceLoader(
                [
                    FrozenLoader(self.override_dirs),
                    PackageLoader("notifications", "templates"),
                ]
            ),
            undefined=StrictUndefined,
            autoescape=_autoescape,
            # No stat() per render: `renderer_for` notices an edited override folder instead.
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._templates: dict[str, Template] = {}
        self._personal: dict[str, bool] = {}
        self._undeclared: dict[str, set[str]] = {}
        self._fragments: dict[tuple, str] = {}
        self.env.globals["fragment"] = self.fragment

    def template(self, name: str) -> Template:
        """A compiled template, looked up once per renderer (a renderer is built again when
        the override folder changes, see `renderer_for`)."""
        found = self._templates.get(name)
        if found is None:
            found = self._templates[name] = self.env.get_template(name)
        return found

    def fragment(self, name: str, **values) -> str:
        """Template `name` rendered with `values` (hashable) alone, once per renderer: a part
        that every mail of a unit repeats (a periodic report's task list: a few KB, an eighth of
        the time a mail takes to build) is rendered once, not once per mail. Templates call it
        as `fragment(...)`."""
        key = (name, *sorted(values.items()))
        found = self._fragments.get(key)
        if found is None:
            found = self.template(name).render(values)
            if _autoescape(name):
                found = Markup(found)
            if len(self._fragments) >= FRAGMENTS_KEPT:
                self._fragments.clear()
            self._fragments[key] = found
        return found

    def _source(self, name: str) -> str:
        """A template's text, as the environment's loader finds it."""
        loader = self.env.loader
        assert loader is not None, "the environment is built with its loader"
        return loader.get_source(self.env, name)[0]

    def personal(self, name: str) -> bool:
        """Whether a template's text may depend on the mail's recipient: it, or a template it
        includes or extends, reads `recipient` (or includes a template named at render time)."""
        found = self._personal.get(name)
        if found is None:
            try:
                found = self._reads(name, "recipient", set())
            except Exception:  # noqa: BLE001  (cannot tell: treat it as personal)
                found = True
            self._personal[name] = found
        return found

    def _reads(self, name: str, variable: str, seen: set[str]) -> bool:
        if name in seen:
            return False
        seen.add(name)
        tree = self.env.parse(self._source(name))
        if variable in meta.find_undeclared_variables(tree):
            return True
        return any(
            ref is None or self._reads(ref, variable, seen)
            for ref in meta.find_referenced_templates(tree)
        )

    def render(
        self, kind: MailKind, context: dict, shared: dict[str, str] | None = None
    ) -> Rendered:
        """The subject, text and HTML of a mail. `shared` holds the parts already rendered for
        another recipient of the same mail (same kind, item, step and run), by template name:
        a part that does not depend on the recipient (`personal`) is taken from it, or rendered
        and put in it."""
        if not KIND_PATTERN.fullmatch(kind):
            raise ValueError(f"bad mail kind {kind!r}")
        parts = []
        for part in PARTS:
            name = template_name(kind, part)
            template = self.template(name)
            if shared is None or self.personal(name):
                parts.append(template.render(context))
            else:
                if name not in shared:
                    shared[name] = template.render(context)
                parts.append(shared[name])
        subject, text, html = parts
        return Rendered(one_line(subject), text.strip() + "\n", html)

    def source_path(self, name: str) -> str:
        """Where a template comes from, for error messages."""
        for folder in self.override_dirs:
            if (folder / name).is_file():
                return str(folder / name)
        return str(Path(__file__).parent / "templates" / name)

    @property
    def where(self) -> str:
        """The override folders, for the log ("the shipped templates" without any)."""
        return ", ".join(str(d) for d in self.override_dirs) or "the shipped templates"

    def undeclared(self, name: str) -> set[str]:
        """Top-level variables a template (and what it includes) reads, in any branch (parsed
        once per renderer: a city's communes share one)."""
        found = self._undeclared.get(name)
        if found is None:
            tree = self.env.parse(self._source(name))
            found = set(meta.find_undeclared_variables(tree))
            for ref in meta.find_referenced_templates(tree):
                if ref:
                    found |= self.undeclared(ref)
            self._undeclared[name] = found
        return set(found)


_renderers: dict[tuple[str, ...], Renderer] = {}


def _override_signature(folder: Path) -> tuple:
    """Names, sizes and times of the admin's templates: changes when one is edited."""
    try:
        return tuple(
            sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())
        )
    except OSError:
        return ()


def renderer_for(*config_dirs: Path | None) -> Renderer:
    """The renderer of a config folder (a commune's, then its city's: the first template found
    wins), built again when a templates/ folder has changed (checked once per call: a delivery
    run, a check, a preview). Communes without templates of their own share their city's."""
    folders = [Path(d) / OVERRIDE_FOLDER for d in config_dirs if d is not None]
    found = [f for f in folders if f.is_dir()]
    key = tuple(str(f.resolve()) for f in found)
    signature = tuple(_override_signature(f) for f in found)
    renderer = _renderers.get(key)
    if renderer is None or renderer.signature != signature:
        renderer = _renderers[key] = Renderer(*found, key=key, signature=signature)
    return renderer


TemplateIssue = ConfigIssue
"""A template's problem, stated as a config file's is (`file:line: message`): `cchc check`
lists both alike."""


def error_location(renderer: Renderer, exc: Exception, fallback: str) -> tuple[str, int]:
    """The template file and line an error comes from (Jinja puts template frames in the
    traceback)."""
    if isinstance(exc, TemplateSyntaxError) and exc.name:
        return renderer.source_path(exc.name), exc.lineno or 1
    path, line = renderer.source_path(fallback), 1
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2"):
            path, line = frame.filename, frame.lineno or 1
    return path, line


def check_renders(renderer: Renderer, samples: list[tuple[MailKind, dict]]) -> list[TemplateIssue]:
    """Render each (kind, context) sample; also flag any variable that no context provides,
    even in a branch the samples do not take."""
    issues: list[TemplateIssue] = []
    known = set().union(*(ctx.keys() for _, ctx in samples)) | set(renderer.env.globals)
    seen: set[tuple[str, int, str]] = set()

    def add(path: str, line: int, message: str) -> None:
        if (path, line, message) not in seen:
            seen.add((path, line, message))
            issues.append(TemplateIssue(path, line, message))

    for kind in MailKind:
        for part in PARTS:
            name = template_name(kind, part)
            try:
                unknown = renderer.undeclared(name) - known
            except TemplateError as exc:
                add(*error_location(renderer, exc, name), f"template error: {exc}")
                continue
            for var in sorted(unknown):
                add(renderer.source_path(name), 1, f"unknown variable '{var}'")
    for kind, context in samples:
        for part in PARTS:
            name = template_name(kind, part)
            try:
                renderer.env.get_template(name).render(context)
            except TemplateError as exc:
                add(*error_location(renderer, exc, name), f"{kind} mail: {exc}")
    return issues
