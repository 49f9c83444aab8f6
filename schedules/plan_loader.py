"""Reading a config folder: its files parsed, layered and made into a checked `Plan`.

`load_plan` either returns a `Plan` that every other part can trust, or raises `ConfigInvalid`
listing each problem as `FILE:LINE: message`. Nothing else reads config files: the rules that
span more than one value are `schedules.plan_checks`', the layers `schedules.plan_merge`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

from schedules.config import ConfigFile
from schedules.config_messages import pydantic_issue
from schedules.config_policy import Policy
from schedules.plan import Plan
from schedules.plan_checks import check_plan
from schedules.plan_merge import OWN, SHARED, TEMPLATE, Parsed
from schedules.yamlsource import ConfigInvalid, ConfigIssue, YamlSource, read_yaml


def config_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_plan(
    folder: Path | str,
    shared: Sequence[tuple[YamlSource, ConfigFile]] = (),
    defaults: Policy | None = None,
    templates: dict[Path, Parsed] | None = None,
) -> Plan:
    """The plan of the commune whose files are in `folder`. In a city: `shared` are the city's
    parsed files, `defaults` its policy defaults, `templates` a cache of the template plans
    read so far (114 communes extend the same one)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigInvalid(
            [ConfigIssue(str(folder), 1, "config folder not found (không thấy thư mục cấu hình)")]
        )
    files = config_files(folder)
    if not files:
        message = "no *.yaml files in the config folder (thư mục cấu hình không có tệp *.yaml)"
        raise ConfigInvalid([ConfigIssue(str(folder), 1, message)])
    own = parse_files(files)
    template = _template(own, {} if templates is None else templates)
    layers = [(SHARED, shared), (TEMPLATE, template), (OWN, own)]
    rank = {id(source): r for r, parsed in layers for source, _ in parsed}
    parsed = [pair for _, layer in layers for pair in layer]
    return check_plan(folder, parsed, rank, defaults)


def build_plan(folder: Path, parsed: Parsed, foreign: frozenset[str] = frozenset()) -> Plan:
    """A plan from files already parsed (the city office's, made from city.yaml); `foreign`:
    obligations of the level below that its reports may consolidate."""
    return check_plan(folder, parsed, foreign=foreign)


def parse_files(paths: list[Path], model: type[BaseModel] = ConfigFile) -> list:
    """Each file read and validated as `model`; ConfigInvalid with every problem found."""
    issues: list[ConfigIssue] = []
    parsed: list = []
    for path in paths:
        try:
            source = read_yaml(path)
        except ConfigInvalid as exc:
            issues += exc.issues
            continue
        if not isinstance(source.data, dict):
            keys = ", ".join(model.model_fields)
            message = (
                f"a config file must be a mapping of top-level keys {keys} "
                f"(tệp cấu hình gồm các khóa cấp cao nhất {keys})"
            )
            issues.append(source.issue((), message))
            continue
        try:
            parsed.append((source, model.model_validate(source.data)))
        except ValidationError as exc:
            issues += [pydantic_issue(source, err, model) for err in exc.errors()]
    if issues:
        raise ConfigInvalid(issues)
    return parsed


def _template(own: Parsed, cache: dict[Path, Parsed]) -> Parsed:
    """The files of the template plan that the folder's files `extends` (one level: a template
    does not extend another)."""
    found: Parsed = []
    issues: list[ConfigIssue] = []
    for source, cfg in own:
        if cfg.extends is None:
            continue
        folder = (source.path.parent / cfg.extends).resolve()
        if folder not in cache:
            files = config_files(folder) if folder.is_dir() else []
            if not files:
                message = (
                    f"extends: no *.yaml files in {folder} (không thấy kế hoạch mẫu: thư mục "
                    "không tồn tại hoặc không có tệp *.yaml)"
                )
                issues.append(source.issue(("extends",), message))
                continue
            cache[folder] = parse_files(files)
        for t_source, t_cfg in cache[folder]:
            if t_cfg.extends is not None:
                message = "a template plan cannot extend another (kế hoạch mẫu không kế thừa)"
                issues.append(t_source.issue(("extends",), message))
        found += [pair for pair in cache[folder] if pair not in found]
    if issues:
        raise ConfigInvalid(issues)
    return found
