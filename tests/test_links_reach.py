"""A worker refuses to mail links to a loopback address (issue 23): with a database other
machines share (PostgreSQL) and no CCHC_PUBLIC_URL, the links would point at
http://127.0.0.1:8080 of whichever machine sent them. Refused (the mails wait in the outbox,
a worker refuses its runs) unless CCHC_SINGLE_MACHINE=1 says it is one machine (`make run`);
SQLite is one machine by nature. No database is reached here."""

from __future__ import annotations

import pytest

from cchc.runtime.settings import Settings
from notifications.links import LinksUnreachable, intake_linker
from schedules.dates import parse_instant

SHARED = "postgresql://cchc@127.0.0.1:9/cchc"  # never connected to
AT = parse_instant("2027-03-02T07:30")


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in ("CCHC_PUBLIC_URL", "CCHC_INTAKE_ADDRESS", "CCHC_SINGLE_MACHINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CCHC_SECRET", "s" * 40)
    monkeypatch.setenv("CCHC_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CCHC_DATABASE_URL", SHARED)
    return monkeypatch


@pytest.mark.parametrize(
    "public_url", [None, "http://localhost:8080", "http://127.0.0.2/cchc", "http://[::1]:80"]
)
def test_loopback_links_in_a_shared_set_up_are_refused(env, public_url):
    if public_url:
        env.setenv("CCHC_PUBLIC_URL", public_url)
    settings = Settings.from_env()
    with pytest.raises(LinksUnreachable) as refused:
        intake_linker(settings)
    message = str(refused.value)
    assert "CCHC_PUBLIC_URL" in message and "CCHC_SINGLE_MACHINE=1" in message
    assert "chỉ mở được trên chính máy này" in message


def test_a_public_address_a_single_machine_or_sqlite_mail_links(env, tmp_path):
    env.setenv("CCHC_PUBLIC_URL", "https://cchc.haiphong.example")
    link = intake_linker(Settings.from_env())
    assert link is not None and link(7, "VP", AT).startswith("https://cchc.haiphong.example/")

    env.delenv("CCHC_PUBLIC_URL")
    env.setenv("CCHC_SINGLE_MACHINE", "1")  # `make run`
    link = intake_linker(Settings.from_env())
    assert link is not None and link(7, "VP", AT).startswith("http://127.0.0.1:8080/items/7/")

    env.delenv("CCHC_SINGLE_MACHINE")
    env.setenv("CCHC_DATABASE_URL", f"sqlite:///{tmp_path / 'cchc.db'}")
    assert Settings.from_env().unreachable_links() is None


def test_a_worker_refuses_its_runs(env):
    """A worker's flow-run process loads its runtime from the environment: refused before it
    opens the database."""
    from flows import runtime_state
    from usecases.errors import UserError

    runtime_state.release_runtime()
    env.setattr(runtime_state, "_loaded", None)
    with pytest.raises(UserError, match="CCHC_PUBLIC_URL"):
        runtime_state.runtime()
