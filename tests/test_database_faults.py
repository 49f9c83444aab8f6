"""The database cut or hung while mail goes out (issue 22): the run stops at its first failed
write, a hung statement fails at its timeout instead of hanging while mail keeps going, and
`cchc send` / `cchc sweep` say the cause in one line. Nothing is lost, nothing goes out under
two Message-IDs. Real parts: PostgreSQL (its connections cut with `pg_terminate_backend`, a
table locked by another session), an aiosmtpd server on loopback, the `cchc` command line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from conftest import PG_ADMIN_URL, SHIPPED_CONFIG
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from test_mail_hardening import server_with
from test_mail_support import Inbox, mail_settings, morning

from cchc.cli import main
from models.db import Timeouts, ensure_schema, make_engine, transaction
from models.tables import Outbox
from notifications.delivery import deliver_pending
from usecases.sweep import sweep

DAYS = (date(2027, 3, 2), date(2027, 4, 20))
"""Two sweeps of the shipped plan: about 90 mails queued."""


@dataclass
class WatchedInbox(Inbox):
    """Keeps each message, notes when it arrived, runs `trouble` when the `trouble_at`-th one
    arrives, and answers after `delay` seconds."""

    delay: float = 0.01
    trouble_at: int = 5
    trouble: Callable[[], None] = lambda: None
    arrived: list[float] = field(default_factory=list)
    trouble_started: float = 0.0

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        self.arrived.append(time.monotonic())
        if len(self.messages) == self.trouble_at:
            self.trouble_started = time.monotonic()
            self.trouble()
        await asyncio.sleep(self.delay)
        return answer


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def cut(url: str) -> None:
    """The database goes away: no new connection, every open one terminated."""
    name = url.rsplit("/", 1)[1]
    admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )


def restore(url: str) -> None:
    admin(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" ALLOW_CONNECTIONS true')


def queued(plan, engine) -> int:
    for day in DAYS:
        sweep(plan, engine, morning(plan, day))
    with transaction(engine) as session:
        return len(session.execute(select(Outbox.id).where(Outbox.status == "pending")).all())


def assert_nothing_lost_nor_sent_under_two_ids(engine, inbox) -> None:
    with transaction(engine) as session:
        rows = list(session.execute(select(Outbox)).scalars())
    assert {r.status for r in rows} == {"sent"}
    received = {m.msg["Message-ID"] for m in inbox.messages}
    assert received == {r.message_id for r in rows}


@pytest.fixture
def plan():
    """The shipped plan, live since its start: the first sweep (02/03/2027) queues the mails of
    every item due since, instead of holding them at go-live."""
    from support import live_plan

    from schedules.plan_loader import load_plan

    return live_plan(load_plan(SHIPPED_CONFIG))


@pytest.mark.postgres
def test_a_database_cut_stops_the_delivery_at_its_first_failed_write(plan, pg_url, tmp_path):
    """The database is cut while the 5th mail is handed over. The run fails at its first
    failed write and starts no mail more, each connection ending the one it had in flight
    (before: 3 to 14 more mails, each sent again once the lease ran out). After the database
    is back and the lease has run out, the rest goes, the mails sent meanwhile again under
    their own Message-IDs: nothing lost."""
    engine = make_engine(pg_url)
    ensure_schema(engine)
    total = queued(plan, engine)
    assert total >= 80
    errors: list[float] = []
    event.listen(engine, "handle_error", lambda context: errors.append(time.monotonic()))
    inbox = WatchedInbox(trouble=lambda: cut(pg_url))
    server = server_with(inbox)
    try:
        settings = mail_settings(plan.folder, tmp_path, pg_url, server.port)
        at = morning(plan, DAYS[-1])
        with pytest.raises(OperationalError):
            deliver_pending(plan, engine, settings, at, lease=timedelta(seconds=2))
        assert errors and len(inbox.messages) < total
        after = [t for t in inbox.arrived if t > errors[0]]
        # At most the mail each connection had in flight when the write failed: no new one.
        in_flight = settings.smtp.connections
        assert len(after) <= in_flight, f"{len(after)} mails sent after the first failed write"
        restore(pg_url)
        time.sleep(2.1)  # the dead run's lease runs out
        deliver_pending(plan, engine, settings, at + timedelta(minutes=5), force=True)
    finally:
        restore(pg_url)
        server.stop()
        engine.dispose()
    assert_nothing_lost_nor_sent_under_two_ids(engine, inbox)


@pytest.mark.postgres
def test_a_hung_database_stops_the_sending_and_fails_at_its_statement_timeout(
    plan, pg_url, tmp_path
):
    """Another session locks the outbox while the 5th mail is handed over, for 6 s. The run's
    next write waits, the sending waits with it (not more than two groups of outcomes
    unwritten), and the statement fails at CCHC_DB_STATEMENT_TIMEOUT (1 s here): the run stops
    (before: no timeout, and every mail went out while the writes hung)."""
    import psycopg

    engine = make_engine(pg_url, Timeouts(statement=1.0))
    ensure_schema(engine)
    total = queued(plan, engine)
    locked = threading.Event()

    def hold_lock():
        with psycopg.connect(pg_url) as conn:
            conn.execute("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
            locked.set()
            time.sleep(6)
            conn.rollback()

    holder = threading.Thread(target=hold_lock)
    inbox = WatchedInbox(delay=0.02, trouble=lambda: (holder.start(), locked.wait(10)))
    server = server_with(inbox)
    try:
        settings = mail_settings(plan.folder, tmp_path, pg_url, server.port)
        at = morning(plan, DAYS[-1])
        started = time.monotonic()
        with pytest.raises(OperationalError, match="statement timeout"):
            deliver_pending(plan, engine, settings, at, lease=timedelta(seconds=2))
        assert time.monotonic() - started < 5
        late = [t for t in inbox.arrived if t > inbox.trouble_started + 0.75]
        assert not late and len(inbox.messages) < total
        holder.join(10)
        time.sleep(2.1)
        deliver_pending(plan, engine, settings, at + timedelta(minutes=5), force=True)
    finally:
        server.stop()
        engine.dispose()
    assert_nothing_lost_nor_sent_under_two_ids(engine, inbox)


@pytest.mark.postgres
def test_cchc_send_says_a_database_cut_in_one_line(pg_url, tmp_path):
    inbox = WatchedInbox(trouble=lambda: cut(pg_url))
    server = server_with(inbox)
    env = {
        "CCHC_CONFIG": str(SHIPPED_CONFIG),
        "CCHC_DATA_DIR": str(tmp_path / "var"),
        "CCHC_DATABASE_URL": pg_url,
        "CCHC_SECRET": "test-secret-0123456789abcdef",
        "CCHC_SINGLE_MACHINE": "1",  # links to the loopback intake: one machine
        "CCHC_SMTP_HOST": "127.0.0.1",
        "CCHC_SMTP_PORT": str(server.port),
    }
    try:
        runner = CliRunner()
        for day in DAYS:
            done = runner.invoke(main, ["sweep", "--no-mail", "--at", f"{day}T08:00"], env=env)
            assert done.exit_code == 0, done.output
        result = runner.invoke(main, ["send"], env=env)
    finally:
        restore(pg_url)
        server.stop()
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr and isinstance(result.exception, SystemExit)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("lỗi cơ sở dữ liệu (database error): ")
    assert "terminat" in last or "not currently accepting connections" in last


@pytest.fixture
def silent_database():
    """A TCP port that accepts connections and never answers (a hung database server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"postgresql://cchc@127.0.0.1:{listener.getsockname()[1]}/cchc"
    listener.close()


def test_cchc_sweep_gives_up_on_a_silent_database_at_its_connect_timeout(silent_database, tmp_path):
    env = {
        **os.environ,
        "CCHC_CONFIG": str(SHIPPED_CONFIG),
        "CCHC_DATA_DIR": str(tmp_path / "var"),
        "CCHC_DATABASE_URL": silent_database,
        "CCHC_SECRET": "test-secret-0123456789abcdef",
        "CCHC_DB_CONNECT_TIMEOUT": "1",
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cchc.cli", "sweep", "--at", "2027-03-02T08:00"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("cchc sweep hung on a silent database")
    assert done.returncode == 1 and time.monotonic() - started < 15
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("lỗi cơ sở dữ liệu (database error): ") and "timeout" in line
