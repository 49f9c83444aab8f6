"""A broken commune does not stop its city (issue 23): after a first valid run, one commune's
YAML is broken; the writing commands quarantine it (named with FILE:LINE, on its last valid
config, or paused by `quarantine: pause`, or paused when it never had a valid one), the others
sweep and mail (a real SMTP server on loopback, a real SQLite file), the command exits 3.
`cchc check` still exits 1 naming the error; a problem in the city's own files still stops the
city."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from city_support import commune_codes, write_city
from click.testing import CliRunner
from support import edit

from cchc.cli import main
from cchc.cli.quarantine import QUARANTINE_EXIT
from models.db import make_engine
from models.snapshots import last_config
from notifications.quarantine_notice import (
    COMMUNE_QUARANTINED,
    commune_quarantined_event,
    quarantine_markdown,
)
from schedules.quarantine import load_quarantined
from schedules.yamlsource import ConfigInvalid

FIRST = "2027-03-02T07:30"
LATER = "2027-03-17T07:30"  # the Q1 reports are late in every commune: mails to each
LATEST = "2027-03-24T14:30"


@pytest.fixture
def city_dir(tmp_path: Path) -> Path:
    return write_city(tmp_path / "city", commune_codes(3))


def cchc(config: Path, tmp_path: Path, *args: str, port: int | None = None):
    env = {
        "CCHC_DATA_DIR": str(tmp_path / "data"),
        "CCHC_DATABASE_URL": f"sqlite:///{tmp_path / 'cchc.db'}",
        "CCHC_SMTP_HOST": "127.0.0.1" if port else "",
        "CCHC_SMTP_PORT": str(port or 25),
        "CCHC_SMTP_SECURITY": "none",
    }
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env)


def break_timezone(city_dir: Path, code: str) -> str:
    """Break the commune's commune.yaml; returns FILE:LINE of the error."""
    path = city_dir / "communes" / code / "commune.yaml"
    line = edit(path, "timezone: Asia/Ho_Chi_Minh", "timezone: Asia/Nowhere")
    return f"{path}:{line}:"


def mailed_communes(smtp, since: int = 0) -> set[str]:
    """The communes whose addresses received mail (after the first `since` messages)."""
    found = set()
    for message in smtp.inbox.messages[since:]:
        for rcpt in message.rcpt_tos:
            match = re.search(r"@(xa\d{3})\.example$", rcpt)
            if match:
                found.add(match.group(1))
    return found


def test_a_broken_commune_runs_on_its_last_valid_config_while_the_others_go_on(
    city_dir, tmp_path, smtp
):
    first = cchc(city_dir, tmp_path, "sweep", "--at", FIRST, port=smtp.port)
    assert first.exit_code == 0, first.output
    assert mailed_communes(smtp) == {"xa001", "xa002", "xa003"}
    where = break_timezone(city_dir, "xa002")

    # `cchc check` still refuses the config, naming the error.
    check = cchc(city_dir, tmp_path, "check")
    assert check.exit_code == 1 and where in check.output
    assert "bị cách ly" not in check.output
    assert "Các lệnh khác cách ly 1 xã (xa002) và vẫn chạy các xã khác" in check.stderr

    before = len(smtp.inbox.messages)
    result = cchc(city_dir, tmp_path, "sweep", "--at", LATER, port=smtp.port)
    assert result.exit_code == QUARANTINE_EXIT, result.output
    said = "cảnh báo: xã xa002 bị cách ly do cấu hình lỗi, chạy theo cấu hình hợp lệ gần nhất ("
    assert said in result.stderr
    assert where in result.stderr and "Asia/Nowhere" in result.stderr
    assert "các xã khác vẫn chạy bình thường" in result.stderr
    # The others sweep and mail; the broken one too, on its last valid files.
    assert mailed_communes(smtp, before) == {"xa001", "xa002", "xa003"}

    # Its broken files never become the last valid ones: the next run still has them.
    snapshot = last_config(make_engine(f"sqlite:///{tmp_path / 'cchc.db'}"))
    assert "Asia/Nowhere" not in snapshot.files["communes/xa002/commune.yaml"]
    assert "xa002" in cchc(city_dir, tmp_path, "items", "--commune", "xa002").output

    # Read-only commands answer (exit 0) and say so too.
    items = cchc(city_dir, tmp_path, "items", "--format", "json")
    assert items.exit_code == 0 and "xã xa002 bị cách ly" in items.stderr

    # Fixed: no quarantine, exit 0.
    edit(city_dir / "communes" / "xa002" / "commune.yaml", "Asia/Nowhere", "Asia/Ho_Chi_Minh")
    fixed = cchc(city_dir, tmp_path, "sweep", "--at", LATEST, port=smtp.port)
    assert fixed.exit_code == 0 and "cách ly" not in fixed.output


def test_quarantine_pause_stops_the_broken_commune_only(city_dir, tmp_path, smtp):
    assert cchc(city_dir, tmp_path, "sweep", "--at", FIRST, port=smtp.port).exit_code == 0
    edit(city_dir / "city.yaml", "  leadership:", "  quarantine: pause\n  leadership:")
    where = break_timezone(city_dir, "xa002")
    before = len(smtp.inbox.messages)
    result = cchc(city_dir, tmp_path, "sweep", "--at", LATER, port=smtp.port)
    assert result.exit_code == QUARANTINE_EXIT, result.output
    assert "xã xa002 bị cách ly do cấu hình lỗi, tạm dừng (cài đặt quarantine: pause)" in (
        result.stderr
    )
    assert where in result.stderr
    assert mailed_communes(smtp, before) == {"xa001", "xa003"}
    # A paused commune's own command says why it is refused.
    alone = cchc(city_dir, tmp_path, "sweep", "--at", LATER, "--commune", "xa002")
    assert alone.exit_code == 1 and "xã xa002 bị cách ly" in alone.stderr


def test_a_commune_never_valid_is_paused(city_dir, tmp_path):
    assert cchc(city_dir, tmp_path, "init-db").exit_code == 0
    shutil.copytree(city_dir / "communes" / "xa003", city_dir / "communes" / "xa004")
    path = city_dir / "communes" / "xa004" / "commune.yaml"
    line = edit(path, "code: xa003", "code: xa005")
    result = cchc(city_dir, tmp_path, "sweep", "--at", FIRST, "--no-mail")
    assert result.exit_code == QUARANTINE_EXIT, result.output
    assert "xã xa004 bị cách ly do cấu hình lỗi, tạm dừng (chưa có cấu hình hợp lệ" in (
        result.stderr
    )
    assert f"{path}:{line}: commune.code 'xa005' differs from its folder name" in result.stderr
    assert "[xa004]" not in result.stdout and "[xa003]" in result.stdout


def test_the_citys_own_files_or_every_commune_broken_still_stop_the_city(city_dir, tmp_path):
    assert cchc(city_dir, tmp_path, "init-db").exit_code == 0
    edit(city_dir / "city.yaml", "name: Thành phố Hải Phòng", "name: ''")
    result = cchc(city_dir, tmp_path, "sweep", "--at", FIRST, "--no-mail")
    assert result.exit_code == 1 and "Cấu hình không hợp lệ" in result.stderr
    edit(city_dir / "city.yaml", "name: ''", "name: Thành phố Hải Phòng")
    for code in commune_codes(3):
        break_timezone(city_dir, code)
    with pytest.raises(ConfigInvalid):
        load_quarantined(city_dir)
    result = cchc(city_dir, tmp_path, "sweep", "--at", FIRST, "--no-mail")
    assert result.exit_code == 1 and "bị cách ly" not in result.stderr


def test_what_the_admin_is_told(city_dir):
    """The city summary's section and the event the automation mails on (bounded)."""
    files = {
        str(p.relative_to(city_dir).as_posix()): p.read_text(encoding="utf-8")
        for p in city_dir.rglob("*.yaml")
    }
    where = break_timezone(city_dir, "xa003")
    city = load_quarantined(city_dir, lambda: (files, None))
    assert list(city.plans) == ["xa001", "xa002", "xa003"]  # xa003 on its last valid files
    assert city.plans["xa003"].folder == city_dir / "communes" / "xa003"
    (q,) = city.quarantined
    assert q.code == "xa003" and str(q.issues[0]).startswith(where)
    section = "\n".join(quarantine_markdown(city))
    assert "## Xã bị cách ly do cấu hình lỗi" in section and "xa003" in section
    assert not q.paused and q.runs_on() == "chạy theo cấu hình hợp lệ gần nhất"
    event = commune_quarantined_event(city, datetime.now(UTC))
    assert event["event"] == COMMUNE_QUARANTINED
    assert event["resource"]["cchc.city"] == "haiphong"
    assert event["payload"]["count"] == 1
    assert event["payload"]["communes"][0]["problems"][0].startswith(where)


def test_last_valid_files_that_no_longer_fit_pause_the_commune(city_dir):
    """Its last valid files are themselves refused now (here: a time zone since removed): it
    is paused, the others go on."""
    files = {
        str(p.relative_to(city_dir).as_posix()): p.read_text(encoding="utf-8")
        for p in city_dir.rglob("*.yaml")
    }
    name = "communes/xa002/commune.yaml"
    files[name] = files[name].replace("Asia/Ho_Chi_Minh", "Asia/Atlantis")
    break_timezone(city_dir, "xa002")
    city = load_quarantined(city_dir, lambda: (files, datetime.now(UTC)))
    assert list(city.plans) == ["xa001", "xa003"]
    (q,) = city.quarantined
    assert q.paused and "Asia/Nowhere" in str(q.issues[0])
    assert q.runs_on().startswith("tạm dừng (chưa có cấu hình hợp lệ")


def test_the_engines_reload_takes_the_others_edit_and_quarantines_the_broken_one(
    city_dir, tmp_path, monkeypatch
):
    from apscheduler.schedulers.background import BackgroundScheduler

    import flows.engine
    from cchc.runtime.settings import Settings
    from flows.engine import EngineState, configure, reload
    from models.db import ensure_schema
    from schedules.city_loader import load_city
    from usecases.quarantine import remember_applied

    told: list[dict] = []
    monkeypatch.setattr(flows.engine, "tell_prefect", told.append)
    monkeypatch.setattr(flows.engine, "_pin", lambda state: None)
    url = f"sqlite:///{tmp_path / 'cchc.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    city = load_city(city_dir)
    remember_applied(engine, city, datetime.now(UTC))
    scheduler = BackgroundScheduler(timezone=city.zone)
    configure(scheduler, city)
    state = EngineState(city, engine, Settings(city_dir, tmp_path / "var", url))
    break_timezone(city_dir, "xa002")
    edit(city_dir / "communes" / "xa001" / "commune.yaml", "xã XA001", "xã Một")
    assert reload(scheduler, state) is True and told == []
    assert [q.code for q in state.city.quarantined] == ["xa002"]
    assert "xã Một" in state.city.plans["xa001"].commune.name
    assert "xa002" in state.city.plans  # on its last valid files
    snapshot = last_config(engine)
    assert "xã Một" in snapshot.files["communes/xa001/commune.yaml"]
    assert "Asia/Nowhere" not in snapshot.files["communes/xa002/commune.yaml"]
