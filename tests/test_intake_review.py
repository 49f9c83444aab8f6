"""Hand-in and review use cases on SQLite and PostgreSQL (no web): timeliness at the end of the
due date, the first version decides, returns, waived items; the signed links and the
signing key's rules."""

from __future__ import annotations

import os
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from intake_support import SECRET, deliverables, pdf_bytes, reload, t
from support import find_item, run_cchc, run_cchc_process

from cchc.runtime.settings import IntakeSettings, SecretMissing, Settings
from notifications.links import (
    LinkInvalid,
    item_link,
    item_token,
    office_scope,
    office_token,
    verify_item_link,
    verify_item_token,
)
from usecases.errors import UserError
from usecases.lifecycle import waive
from usecases.reporting import year_report
from usecases.review import IncomingFile, accept_version, return_version, submit
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"


@pytest.fixture
def item(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    return find_item(engine, REPORT, "VP", "2027-Q1")  # due Tuesday 16/03/2027


def hand_in(plan, engine, tmp_path: Path, item, at: str, text: str = "v"):
    path = tmp_path / f"upload-{text}.pdf"
    path.write_bytes(pdf_bytes(text))
    return submit(
        plan,
        engine,
        tmp_path / "data",
        item.id,
        item.unit,
        [IncomingFile(f"{text}.pdf", path, "pdf")],
        t(at),
    )


@pytest.mark.parametrize(
    "at, on_time",
    [
        ("2027-03-16T23:59:59", True),
        ("2027-03-16T16:59:59Z", True),  # the same instant in UTC
        ("2027-03-17T00:00:00", False),
        ("2027-03-16T17:00:00Z", False),
    ],
)
def test_on_time_means_by_the_end_of_the_due_date_in_vietnam(
    at, on_time, plan, engine, tmp_path, item
):
    hand_in(plan, engine, tmp_path, item, at)
    assert reload(engine, item.id).on_time is on_time
    assert deliverables(engine, item.id)[0].on_time is on_time


def test_the_first_version_decides(plan, engine, tmp_path, item):
    hand_in(plan, engine, tmp_path, item, "2027-03-15T10:00", "v1")  # on time
    hand_in(plan, engine, tmp_path, item, "2027-03-18T10:00", "v2")  # late, kept
    assert reload(engine, item.id).on_time is True  # v1 arrived on time
    accept_version(plan, engine, item.id, 2, t("2027-03-19T09:00"))
    assert reload(engine, item.id).on_time is True  # accepting a later version changes nothing
    accept_version(plan, engine, item.id, 1, t("2027-03-19T09:05"))
    assert reload(engine, item.id).on_time is True
    with pytest.raises(UserError, match="đã được chấp nhận"):
        accept_version(plan, engine, item.id, 1, t("2027-03-19T09:06"))


def test_a_late_version_accepted_stays_late(plan, engine, tmp_path, item):
    hand_in(plan, engine, tmp_path, item, "2027-03-17T08:00", "v1")
    accept_version(plan, engine, item.id, 1, t("2027-03-17T09:00"))
    hand_in(plan, engine, tmp_path, item, "2027-03-17T10:00", "v2")
    accept_version(plan, engine, item.id, 2, t("2027-03-17T11:00"))
    assert reload(engine, item.id).on_time is False


def test_a_return_reopens_with_a_new_due_date(plan, engine, tmp_path, item):
    hand_in(plan, engine, tmp_path, item, "2027-03-15T10:00", "v1")
    new_due = date.fromisoformat("2027-03-19")
    return_version(plan, engine, item.id, 1, "Thiếu phụ lục", new_due, t("2027-03-16T09:00"))
    reopened = reload(engine, item.id)
    # A return is not an extension: v1 was on time and stays so.
    assert (reopened.status, reopened.due, reopened.on_time) == ("open", new_due, True)
    assert deliverables(engine, item.id)[0].review_note == "Thiếu phụ lục"
    with pytest.raises(UserError, match="đã được trả lại"):
        return_version(plan, engine, item.id, 1, "Lần nữa", new_due, t("2027-03-16T10:00"))
    hand_in(plan, engine, tmp_path, item, "2027-03-18T10:00", "v2")  # after 16/03, before 19/03
    accept_version(plan, engine, item.id, 2, t("2027-03-18T11:00"))
    done = reload(engine, item.id)
    assert (done.status, done.on_time) == ("closed", True)


def test_a_return_moves_to_a_working_day_and_needs_the_newest_version(plan, engine, tmp_path, item):
    hand_in(plan, engine, tmp_path, item, "2027-03-15T10:00", "v1")
    hand_in(plan, engine, tmp_path, item, "2027-03-15T11:00", "v2")
    with pytest.raises(UserError, match="mới nhất"):
        return_version(
            plan, engine, item.id, 1, "x", date.fromisoformat("2027-03-22"), t("2027-03-16")
        )
    with pytest.raises(UserError, match="đã qua"):
        return_version(
            plan, engine, item.id, 2, "x", date.fromisoformat("2027-03-01"), t("2027-03-16")
        )
    return_version(plan, engine, item.id, 2, "x", date.fromisoformat("2027-03-20"), t("2027-03-16"))
    assert reload(engine, item.id).due.isoformat() == "2027-03-22"  # Saturday → Monday


def test_a_waived_item_takes_nothing_and_counts_against_no_unit(plan, engine, tmp_path, item):
    waive(plan, engine, item.id, "Không phát sinh", t("2027-03-05T09:00"))
    with pytest.raises(UserError, match="đã được miễn"):
        hand_in(plan, engine, tmp_path, item, "2027-03-10T10:00")
    assert deliverables(engine, item.id) == []
    row = next(r for r in year_report(plan, engine, 2027, t("2027-12-31")) if r.unit == "VP")
    assert row.waived == 1
    # due counts what has a verdict or is overdue: the waived item is in none of them (the items
    # held at go-live, before the first sweep on 02/03, count as pending)
    assert row.due == row.on_time + row.on_time_extended + row.late + row.overdue_open == 0


def test_a_double_submit_is_one_version(plan, engine, tmp_path, item):
    first = hand_in(plan, engine, tmp_path, item, "2027-03-15T10:00", "same")
    second = hand_in(plan, engine, tmp_path, item, "2027-03-15T10:00", "same")
    assert (first.created, second.created, second.version) == (True, False, 1)
    assert len(deliverables(engine, item.id)) == 1


# ----- links --------------------------------------------------------------------------------


def test_item_tokens():
    at = t("2027-03-10T09:00")
    token = item_token(SECRET, 42, "VP", at)
    assert verify_item_token(SECRET, token, at + timedelta(days=59)) == (42, "VP")
    with pytest.raises(LinkInvalid) as expired:
        verify_item_token(SECRET, token, at + timedelta(days=60, seconds=1))
    assert expired.value.reason == "expired" and "hết hạn" in expired.value.message
    for bad in (token[:-2] + "xx", token + "x", "", "a.b.c", "x" * 2000):
        with pytest.raises(LinkInvalid):
            verify_item_token(SECRET, bad, at)
    with pytest.raises(LinkInvalid):
        verify_item_token("another-secret-0123456789", token, at)
    office = office_token(SECRET, "maodien", at)
    with pytest.raises(LinkInvalid):
        verify_item_token(SECRET, office, at)  # an office token opens no item page
    with pytest.raises(LinkInvalid):
        office_scope(SECRET, token, at)  # nor an item token the office's
    assert office_scope(SECRET, office, at + timedelta(days=29)) == "maodien"  # its scope
    assert office_scope(SECRET, office_token(SECRET, "haiphong", at), at) == "haiphong"
    with pytest.raises(LinkInvalid):  # office links expire sooner than a year (issue 11, 8)
        office_scope(SECRET, office, at + timedelta(days=31))


def test_item_link_carries_the_public_url(tmp_path):
    settings = Settings(
        tmp_path,
        tmp_path / "data",
        "postgresql://db.example/cchc",
        intake=IntakeSettings(secret=SECRET, public_url="https://cchc.maodien.example/nop/"),
    )
    at = t("2027-03-10T09:00")
    link = item_link(settings, 7, "KT", at)
    assert link.startswith("https://cchc.maodien.example/nop/items/7/")
    assert verify_item_link(settings, link.rsplit("/", 1)[1], at) == (7, "KT")


def test_the_signing_key(tmp_path, monkeypatch):
    for name in ("CCHC_SECRET", "CCHC_PUBLIC_URL", "CCHC_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CCHC_DATA_DIR", str(tmp_path / "data"))
    embedded = Settings.from_env()
    assert embedded.embedded_default
    key = embedded.link_secret()
    assert len(key) >= 32 and embedded.link_secret() == key  # kept, the same each time
    kept = tmp_path / "data" / "intake-secret"
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600

    monkeypatch.setenv("CCHC_PUBLIC_URL", "https://cchc.maodien.example")
    with pytest.raises(SecretMissing, match="CCHC_SECRET"):
        Settings.from_env().link_secret()
    monkeypatch.delenv("CCHC_PUBLIC_URL")
    monkeypatch.setenv("CCHC_DATABASE_URL", "postgresql://db.example/cchc")
    with pytest.raises(SecretMissing):
        Settings.from_env().link_secret()
    monkeypatch.setenv("CCHC_SECRET", "short")
    with pytest.raises(SecretMissing, match="quá ngắn"):
        Settings.from_env().link_secret()
    monkeypatch.setenv("CCHC_SECRET", SECRET)
    assert Settings.from_env().link_secret() == SECRET


@pytest.mark.parametrize(
    "name, value",
    [
        ("CCHC_INTAKE_MAX_BYTES", "0"),
        ("CCHC_INTAKE_MAX_BYTES", "lots"),
        ("CCHC_LINK_DAYS", "0"),
        ("CCHC_PUBLIC_URL", "cchc.maodien.example"),
    ],
)
def test_bad_intake_settings_are_named(name, value, monkeypatch):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        IntakeSettings.from_env()


# ----- the commands ---------------------------------------------------------------------------


def run_cli(env: dict, *args: str):
    return run_cchc(env, *args, ok=False)


@pytest.mark.parametrize(
    "command", [["serve-intake", "--port", "1"], ["run"], ["link", "--office"]]
)
def test_commands_refuse_to_sign_links_without_a_secret(command, tmp_path, sqlite_url):
    env = {k: v for k, v in os.environ.items() if k not in ("CCHC_SECRET", "CCHC_PUBLIC_URL")} | {
        "CCHC_DATA_DIR": str(tmp_path / "data"),
        "CCHC_DATABASE_URL": sqlite_url,  # not the embedded default
        "CCHC_CONFIG": str(Path(__file__).resolve().parent.parent / "config"),
    }
    assert run_cli(env, "init-db").returncode == 0
    # Its own process: were the secret not required, `run` and `serve-intake` would serve
    # until the timeout stops them.
    done = run_cchc_process(env, *command, ok=False)
    assert done.returncode == 1
    assert "CCHC_SECRET" in done.stderr


def test_cchc_link_prints_a_working_link(plan, engine, tmp_path, db_url):
    sweep(plan, engine, t("2027-03-02T07:30"))
    item = find_item(engine, REPORT, "KT", "2027-Q1")
    env = os.environ | {
        "CCHC_DATA_DIR": str(tmp_path / "data"),
        "CCHC_DATABASE_URL": db_url,
        "CCHC_CONFIG": str(Path(__file__).resolve().parent.parent / "config"),
        "CCHC_SECRET": SECRET,
        "CCHC_PUBLIC_URL": "https://cchc.maodien.example",
    }
    done = run_cli(env, "link", str(item.id), "--at", "2027-03-03T08:00")
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith(f"https://cchc.maodien.example/items/{item.id}/")
    token = link.rsplit("/", 1)[1]
    assert verify_item_token(SECRET, token, t("2027-03-04T08:00")) == (item.id, "KT")
    office = run_cli(env, "link", "--office").stdout.strip()
    assert office.startswith("https://cchc.maodien.example/office?t=")
    missing = run_cli(env, "link", "99999")
    assert missing.returncode == 1 and "99999" in missing.stderr


def test_the_same_file_after_a_return_by_hand_is_a_new_version(plan, engine, tmp_path, item):
    """`cchc return` (usecases.lifecycle.return_deliverable) reopens the item without marking the
    version: handing in the same file again still makes a new version and closes the item."""
    from usecases.lifecycle import return_deliverable

    hand_in(plan, engine, tmp_path, item, "2027-03-15T10:00", "same")
    new_due = date.fromisoformat("2027-03-19")
    return_deliverable(plan, engine, item.id, "Ký số lại", new_due, t("2027-03-16T09:00"))
    again = hand_in(plan, engine, tmp_path, item, "2027-03-17T10:00", "same")
    assert (again.created, again.version) == (True, 2)
    assert (reload(engine, item.id).status, reload(engine, item.id).on_time) == ("closed", True)
