"""The compiled config (`schedules.compiled`): reused while the config's files are unchanged,
read again as soon as one changes, never hiding an error; and what the read-only commands load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from city_support import commune_codes, write_city, write_commune
from support import cli_env, run_cchc

from schedules import yamlsource
from schedules.compiled import cache_file, load_compiled
from schedules.yamlsource import ConfigInvalid

ROOT = Path(__file__).resolve().parent.parent


def load_counting(folder: Path, cache: Path) -> tuple[object, set[str]]:
    """The city as `load_compiled` gives it, and the config files it had to read for it."""
    reads: set[str] = set()
    yamlsource.READS.append(reads)
    try:
        return load_compiled(folder, cache), reads
    finally:
        yamlsource.READS.remove(reads)


def test_an_unchanged_config_is_not_read_again(config_dir, tmp_path):
    cache = tmp_path / "cache"
    first, read = load_counting(config_dir, cache)
    assert read and cache_file(config_dir, cache).is_file()
    again, read_again = load_counting(config_dir, cache)
    assert read_again == set()
    plan, cached = first.plans["maodien"], again.plans["maodien"]
    assert cached.occurrences(plan.commune.plan_start, plan.commune.plan_end) == plan.occurrences(
        plan.commune.plan_start, plan.commune.plan_end
    )
    assert cached.calendar.public_holidays == plan.calendar.public_holidays


def test_an_edit_of_the_same_size_in_the_same_instant_is_seen(config_dir, tmp_path):
    """A file rewritten within the file system's clock tick keeps its time and size: its
    content's digest tells."""
    cache = tmp_path / "cache"
    units = config_dir / "units.yaml"
    text = units.read_text(encoding="utf-8")
    units.write_text(text, encoding="utf-8")  # just saved, as an admin does before a command
    load_compiled(config_dir, cache)
    before = units.stat()
    assert "Văn phòng" in text
    units.write_text(text.replace("Văn phòng", "Văn phònG", 1), encoding="utf-8")
    os.utime(units, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert units.stat().st_size == before.st_size
    city, read = load_counting(config_dir, cache)
    assert read, "the cache was used although a file changed"
    assert any("Văn phònG" in unit.name for unit in city.plans["maodien"].units.values())


def test_a_file_added_or_removed_is_seen(config_dir, tmp_path):
    cache = tmp_path / "cache"
    load_compiled(config_dir, cache)
    extra = config_dir / "extra.yaml"
    extra.write_text("calendar:\n  2031:\n    days_off: ['2031-05-05']\n", encoding="utf-8")
    _, read = load_counting(config_dir, cache)
    assert str(extra) in read
    load_compiled(config_dir, cache)
    extra.unlink()
    _, read = load_counting(config_dir, cache)
    assert read and str(extra) not in read


def test_a_commune_added_to_a_city_is_seen(tmp_path):
    cache = tmp_path / "cache"
    folder = write_city(tmp_path / "city", commune_codes(2))
    assert len(load_compiled(folder, cache).plans) == 2
    assert len(load_compiled(folder, cache).plans) == 2
    write_commune(folder / "communes" / "xa003", "xa003", 2)
    assert list(load_compiled(folder, cache).plans) == ["xa001", "xa002", "xa003"]


def test_an_error_after_a_valid_config_is_reported_with_its_line(config_dir, tmp_path):
    cache = tmp_path / "cache"
    load_compiled(config_dir, cache)
    units = config_dir / "units.yaml"
    text = units.read_text(encoding="utf-8")
    units.write_text(text.replace("email: ", "email: not-an-address ", 1), encoding="utf-8")
    line = text[: text.index("email: ")].count("\n") + 1
    with pytest.raises(ConfigInvalid) as raised:
        load_compiled(config_dir, cache)
    assert any(i.file == str(units) and i.line == line for i in raised.value.issues)
    env = {"CCHC_DATA_DIR": str(tmp_path / "data"), "CCHC_CONFIG_CACHE": str(cache)}
    done = run_cchc(env, "--config", str(config_dir), "check", ok=False)
    assert done.returncode == 1
    assert f"{units}:{line}:" in done.stderr
    units.write_text(text, encoding="utf-8")  # mended: valid again, from the files
    _, read = load_counting(config_dir, cache)
    assert read


@pytest.mark.parametrize("damage", [b"", b"not a pickle", None])
def test_a_damaged_cache_is_read_again(config_dir, tmp_path, damage):
    cache = tmp_path / "cache"
    load_compiled(config_dir, cache)
    where = cache_file(config_dir, cache)
    data = where.read_bytes()
    where.write_bytes(data[: len(data) // 2] if damage is None else damage)
    city, read = load_counting(config_dir, cache)
    assert read and "maodien" in city.plans
    _, read = load_counting(config_dir, cache)  # rewritten whole
    assert not read


def test_a_cache_that_cannot_be_written_is_no_error(config_dir, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert "maodien" in load_compiled(config_dir, blocked / "cache").plans


def test_the_cache_is_private(config_dir, tmp_path):
    cache = tmp_path / "cache"
    load_compiled(config_dir, cache)
    assert cache.stat().st_mode & 0o077 == 0
    assert cache_file(config_dir, cache).stat().st_mode & 0o077 == 0


LOADED = (
    "import sys, runpy\n"
    "sys.argv = ['cchc', *sys.argv[1:]]\n"
    "from cchc.cli import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    assert not exc.code, exc.code\n"
    "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
)


def modules_of(env: dict, *args: str) -> set[str]:
    """The modules a command's process loaded (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return set(done.stderr.strip().splitlines()[-1].split())


@pytest.mark.parametrize("cache", ["off", "warm"])
def test_plan_and_obligations_load_vietnam_alone_and_no_database(tmp_path, cache):
    env = cli_env(
        tmp_path / "data", "", CCHC_CONFIG_CACHE="off" if cache == "off" else str(tmp_path)
    )
    commands = (
        ("plan", "--from", "2027-01-01", "--to", "2027-12-31"),
        ("obligations", "--at", "2027-03-10T08:00"),
    )
    for args in commands:
        if cache == "warm":
            modules_of(env, *args)
        loaded = modules_of(env, *args)
        assert "holidays.countries.afghanistan" not in loaded
        assert not {"sqlalchemy", "sqlmodel", "asyncio", "jinja2"} & loaded
        if cache == "warm":
            assert "holidays" not in loaded  # the public holidays are in the compiled config


def test_items_reads_with_core_not_the_orm(tmp_path, sqlite_url):
    env = cli_env(tmp_path / "data", sqlite_url)
    run_cchc(env, "init-db")
    run_cchc(env, "sweep", "--at", "2027-03-10T08:00", "--no-mail")
    loaded = modules_of(env, "items", "--at", "2027-03-10T08:00")
    assert "sqlalchemy" in loaded
    assert not {"sqlmodel", "sqlalchemy.orm", "alembic", "jinja2"} & loaded


@pytest.mark.parametrize("cache", ["off", "warm"])
def test_check_loads_no_database_layer(tmp_path, cache):
    env = cli_env(
        tmp_path / "data", "", CCHC_CONFIG_CACHE="off" if cache == "off" else str(tmp_path)
    )
    if cache == "warm":
        modules_of(env, "check")
    loaded = modules_of(env, "check")
    assert "jinja2" in loaded  # the templates are checked
    assert not {"sqlalchemy", "sqlmodel", "alembic", "icalendar", "aiosmtplib"} & loaded


def test_the_sample_rows_have_the_tables_fields():
    """`cchc check`'s sample mails stand in for saved rows: same fields, same defaults."""
    from dataclasses import MISSING, fields

    from models import tables
    from notifications import sample_rows

    pairs = [
        (sample_rows.SampleItem, tables.WorkItem),
        (sample_rows.SampleDeliverable, tables.Deliverable),
        (sample_rows.SampleDirective, tables.Directive),
        (sample_rows.SampleExtension, tables.Extension),
    ]
    for sample, model in pairs:
        assert [f.name for f in fields(sample)] == list(model.model_fields), sample.__name__
        for f in fields(sample):
            info = model.model_fields[f.name]
            if info.is_required():
                assert f.default is MISSING and f.default_factory is MISSING, f.name
            else:
                default = f.default_factory() if f.default_factory is not MISSING else f.default
                assert default == info.get_default(call_default_factory=True), f.name


def test_the_core_columns_are_the_models(tmp_path):
    """models.core names columns of models.tables only, with the same types."""
    from models import core, tables

    for table in core.metadata.sorted_tables:
        model = tables.SQLModel.metadata.tables[table.name]
        for column in table.columns:
            assert column.name in model.columns, f"{table.name}.{column.name}"
            found = model.columns[column.name].type
            found = getattr(found, "impl_instance", found)  # SQLModel's AutoString: a String
            assert isinstance(found, type(column.type)), (table.name, column.name, found)


def test_vietnam_alone_gives_the_package_s_days_and_names():
    import holidays

    from schedules.calendar import vietnam_holidays

    years = range(2025, 2032)
    alone = dict(vietnam_holidays()(years=years, language="vi"))
    assert list(alone.items()) == list(
        holidays.country_holidays("VN", years=years, language="vi").items()
    )
