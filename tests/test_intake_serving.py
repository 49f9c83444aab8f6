"""How the intake is served (issue 21, "Around the app"): proxy headers only from trusted
proxies, the login throttle per address and name with a cap on everyone, a header timeout, and
`cchc serve-intake` passing all that to uvicorn. Real HTTP and raw sockets to the app under
uvicorn with `cchc.intake.serving.server_options`, as `cchc serve-intake` runs it. Each test
failed on the tree before the change."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import httpx
import pytest
from click.testing import CliRunner
from intake_support import ROOT, Clock, LiveIntake, t

from cchc.runtime.settings import IntakeSettings
from schedules.dates import parse_instant

NOW = "2027-03-10T09:00"


def serving(**settings):
    from cchc.intake.serving import server_options

    return server_options(IntakeSettings(**settings))


@pytest.fixture
def sqlite_engine(sqlite_url):
    from models.db import ensure_schema, make_engine

    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


def office(plan, engine, tmp_path, **settings) -> LiveIntake:
    return LiveIntake(
        plan,
        engine,
        tmp_path / "data",
        Clock(t(NOW)),
        office_user="vhxh",
        office_password="mat-khau-thu",
        server_options=serving(**settings),
    )


def login(server: LiveIntake, password: str, forwarded_for: str) -> int:
    return httpx.get(
        f"{server.base}/office",
        auth=("vhxh", password),
        headers={"X-Forwarded-For": forwarded_for},
    ).status_code


def test_forwarded_for_is_not_believed_without_a_trusted_proxy(plan, sqlite_engine, tmp_path):
    with office(plan, sqlite_engine, tmp_path) as server:
        for n in range(5):  # a guesser rotating the header, from loopback
            assert login(server, f"doan-{n}", f"203.0.113.{n}") == 401
        assert login(server, "doan-6", "203.0.113.99") == 429


def test_a_trusted_proxy_names_the_client_and_one_guesser_locks_out_no_one_else(
    plan, sqlite_engine, tmp_path
):
    with office(plan, sqlite_engine, tmp_path, trusted_proxies=("127.0.0.1",)) as server:
        for n in range(5):
            assert login(server, f"doan-{n}", "203.0.113.7") == 401
        assert login(server, "mat-khau-thu", "203.0.113.7") == 429  # the guesser waits
        assert login(server, "mat-khau-thu", "198.51.100.2") == 200  # the office does not
        server.clock.at += timedelta(minutes=16)
        assert login(server, "mat-khau-thu", "203.0.113.7") == 200


def test_the_throttle_counts_per_address_and_name_and_caps_everyone():
    from cchc.intake.auth import LoginThrottle

    at = parse_instant(NOW)
    throttle = LoginThrottle(limit=5, limit_all=20)
    for _ in range(5):
        throttle.failed("10.0.0.1", at, "vhxh")
    assert throttle.blocked_for("10.0.0.1", at, "vhxh") is not None
    assert throttle.blocked_for("10.0.0.1", at, "khac") is None  # another name
    assert throttle.blocked_for("10.0.0.2", at, "vhxh") is None  # another address
    for n in range(15):  # guessers spread over many addresses
        throttle.failed(f"10.1.0.{n}", at, "vhxh")
    assert throttle.blocked_for("10.9.9.9", at, "vhxh") is not None  # the cap: everyone waits
    assert throttle.blocked_for("10.9.9.9", at + timedelta(minutes=16), "vhxh") is None


def read_until_closed(conn: socket.socket, limit: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and after how many seconds."""
    started = time.monotonic()
    conn.settimeout(limit)
    received = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return received, time.monotonic() - started
        received += chunk


def test_a_half_sent_header_block_is_closed_after_the_header_timeout(plan, sqlite_engine, tmp_path):
    with office(plan, sqlite_engine, tmp_path, header_timeout=1) as server:
        host, port = server.base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and no more
            received, waited = read_until_closed(conn, 10)
        assert received == b"" and waited < 5
        with socket.create_connection((host, int(port))) as conn:  # kept alive, then silent
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.2)
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            received, waited = read_until_closed(conn, 10)
        assert received.startswith(b"HTTP/1.1 200") and received.count(b"HTTP/1.1") == 1
        assert waited < 5
        assert httpx.get(f"{server.base}/healthz").status_code == 200  # whole requests pass


def test_serve_intake_passes_the_trusted_proxies_and_the_header_timeout(tmp_path, monkeypatch):
    import uvicorn

    from cchc.cli import main
    from cchc.intake.serving import HeaderTimeoutProtocol

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    env = {"CCHC_CONFIG": str(ROOT / "config"), "CCHC_DATA_DIR": str(tmp_path / "var")}
    runner = CliRunner()
    assert runner.invoke(main, ["serve-intake"], env=env).exit_code == 0
    env |= {"CCHC_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16", "CCHC_INTAKE_HEADER_TIMEOUT": "4"}
    assert runner.invoke(main, ["serve-intake"], env=env).exit_code == 0
    default, proxied = calls
    assert default["proxy_headers"] is False and "forwarded_allow_ips" not in default
    assert issubclass(default["http"], HeaderTimeoutProtocol)
    assert default["http"].header_timeout == 10
    assert proxied["proxy_headers"] is True
    assert proxied["forwarded_allow_ips"] == ["10.0.0.5", "10.1.0.0/16"]
    assert proxied["http"].header_timeout == 4


@pytest.mark.parametrize(
    "name, value",
    [
        ("CCHC_TRUSTED_PROXIES", "proxy.example"),
        ("CCHC_INTAKE_HEADER_TIMEOUT", "0"),
        ("CCHC_INTAKE_MAX_VERSIONS", "0"),
        ("CCHC_INTAKE_UPLOADS_PER_HOUR", "many"),
    ],
)
def test_bad_serving_settings_are_named(name, value, monkeypatch):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        IntakeSettings.from_env()
