"""Beyond one machine (issue 23): two workers in two separate folders (two "machines": no
shared checkout, the config from the database's snapshot) on one work pool share a city's
sweep, which fans out into sub-runs over groups of communes; every mail goes once. A real
Prefect server on PostgreSQL (test_prefect_server's), cchc's database on PostgreSQL, an SMTP
server on loopback.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from city_support import commune_codes, write_city
from sqlalchemy import select
from test_mail_support import running_smtp_server
from test_prefect_server import BIN, _stop, client_call, server  # noqa: F401  (the fixture)

from models.db import make_engine, transaction
from models.tables import Outbox, WorkItem
from schedules.vocabulary import OutboxStatus

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.postgres]

COMMUNES = int(os.environ.get("CCHC_TEST_CITY_COMMUNES", "6"))
GROUP = int(os.environ.get("CCHC_TEST_CITY_GROUP", "2"))
"""CCHC_SWEEP_GROUP: 3 sub-runs of 2 communes, and the parent run (a city's size: e.g.
CCHC_TEST_CITY_COMMUNES=114 CCHC_TEST_CITY_GROUP=30, 4 sub-runs)."""
AT = "2027-03-02T07:30:00+07:00"


def cchc(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(BIN / "cchc"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def wait_final(srv, run_id, timeout: float = 900):
    deadline = time.monotonic() + timeout
    while True:
        run = client_call(srv, lambda c: c.read_flow_run(run_id))
        if run.state is not None and run.state.is_final():
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run.state_type}"
        time.sleep(2)


def deployed_city(server, pg_url, tmp_path, smtp, communes: int, **extra: str) -> dict:  # noqa: F811
    """A city of `communes` communes deployed from an admin's folder (cchc's database on
    PostgreSQL, mail to `smtp`); returns the environment its workers share."""
    city_folder = write_city(tmp_path / "admin" / "city", commune_codes(communes))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CCHC_", "PREFECT_"))} | {
        "PREFECT_API_URL": server.api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "CCHC_DATABASE_URL": pg_url,
        "CCHC_SECRET": "two-machines-secret-0123456789",
        "CCHC_PUBLIC_URL": "https://cchc.haiphong.example",
        "CCHC_SMTP_HOST": "127.0.0.1",
        "CCHC_SMTP_PORT": str(smtp.port),
        "CCHC_SWEEP_GROUP": str(GROUP),
        **extra,
    }
    admin = base | {
        "CCHC_CONFIG": str(city_folder),
        "CCHC_DATA_DIR": str(tmp_path / "admin" / "var"),
        "PREFECT_HOME": str(tmp_path / "admin" / "prefect"),
    }
    cchc("init-db", env=admin, cwd=tmp_path / "admin")
    cchc("deploy", env=admin, cwd=tmp_path / "admin")
    return base


def start_worker(base: dict, machine: Path, limit: int) -> tuple[subprocess.Popen, Path]:
    """A process worker on the pool in its own folder (a "machine": the config from the
    database's snapshot); returns it and its log."""
    machine.mkdir()
    env = base | {
        "CCHC_CONFIG_SOURCE": "database",  # no config folder on this machine
        "CCHC_DATA_DIR": str(machine / "var"),
        "PREFECT_HOME": str(machine / "prefect"),
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    log = machine / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "cchc",
             "--type", "process", "--limit", str(limit), "--name", machine.name],
            env=env, cwd=machine, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return worker, log


def run_sweep(server) -> tuple:  # noqa: F811
    """The city's sweep deployment run as of AT, to its end; returns it and its sub-runs."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    async def start(client):
        deployment = await client.read_deployment_by_name("cchc-sweep/haiphong-sweep")
        return await client.create_flow_run_from_deployment(deployment.id, parameters={"at": AT})

    parent = wait_final(server, client_call(server, start).id)
    children = client_call(
        server,
        lambda c: c.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        ),
    )
    return parent, children


def assert_every_mail_once(pg_url, smtp) -> None:
    """Each message the outbox sent arrived once, none other."""
    engine = make_engine(pg_url)
    with transaction(engine) as session:
        rows = session.execute(select(Outbox.status, Outbox.message_id)).all()
    engine.dispose()
    assert rows and all(status == OutboxStatus.SENT for status, _ in rows)
    received = [m.msg["Message-ID"].strip("<>") for m in smtp.inbox.messages]
    assert len(received) == len(set(received))
    assert set(received) == {mid.strip("<>") for _, mid in rows}


def test_two_workers_share_a_city_sweep_and_mail_once(server, pg_url, tmp_path):  # noqa: F811
    with running_smtp_server() as smtp:
        base = deployed_city(server, pg_url, tmp_path, smtp, COMMUNES)
        started = [start_worker(base, tmp_path / name, 2) for name in ("m1", "m2")]
        logs = [log for _, log in started]
        try:
            parent, children = run_sweep(server)
            assert parent.state_type.value == "COMPLETED", (parent.state.message, _tails(logs))
            codes = commune_codes(COMMUNES)
            expected = [tuple(codes[i : i + GROUP]) for i in range(0, COMMUNES, GROUP)]
            assert len(children) == len(expected)
            assert all(c.state_type.value == "COMPLETED" for c in children)
            groups = sorted(tuple(c.parameters["communes"]) for c in children)
            assert groups == sorted(expected)
        finally:
            for worker, _ in started:
                _stop(worker)

        # Each machine ran some of the sweep's runs (each takes at most two at once, and the
        # parent holds one while its groups run).
        ids = {str(parent.id), *(str(c.id) for c in children)}
        ran = [{i for i in ids if i in log.read_text(errors="replace")} for log in logs]
        assert all(ran), ran
        assert set().union(*ran) == ids
        assert_every_mail_once(pg_url, smtp)


def test_groups_no_worker_takes_are_swept_by_the_parent(server, pg_url, tmp_path):  # noqa: F811
    """One worker that runs one flow at a time: the parent holds it, so no group's run can
    start; after CCHC_SWEEP_GROUP_WAIT the parent cancels them and sweeps their communes
    itself, and the sweep completes with every commune's mail sent once."""
    from flows.sweep_run import UNTAKEN_MESSAGE

    with running_smtp_server() as smtp:
        base = deployed_city(server, pg_url, tmp_path, smtp, 4, CCHC_SWEEP_GROUP_WAIT="3")
        worker, log = start_worker(base, tmp_path / "m1", 1)
        try:
            parent, children = run_sweep(server)
        finally:
            _stop(worker)
        assert parent.state_type.value == "COMPLETED", (parent.state.message, _tails([log]))
        assert len(children) == 2
        assert all(c.state_type.value == "CANCELLED" for c in children)
        assert all(c.state.message == UNTAKEN_MESSAGE for c in children)
        assert "not taken by a worker within 3 s: swept by this run" in log.read_text(
            errors="replace"
        )
        engine = make_engine(pg_url)
        with transaction(engine) as session:
            communes = set(session.scalars(select(WorkItem.commune)))
        engine.dispose()
        assert set(commune_codes(4)) <= communes
        assert_every_mail_once(pg_url, smtp)


def _tails(logs: list[Path]) -> str:
    return "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
