"""The engine (`cchc run`) where a standing office would meet trouble (issue 22): a start-up
catch-up that straddles the sweep time, a pid file left behind whose pid was reused, a template
broken at reload or saved half-edited. Real parts: the engine's own start-up (`_run`) over the
real APScheduler stepped on a virtual clock, the `cchc` command line, real processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
from apscheduler.executors.debug import DebugExecutor
from click.testing import CliRunner
from test_prefect_clock import _SteppedScheduler, _virtual_datetime, _VirtualClock

import flows.engine
from cchc.cli import main
from cchc.runtime.control import holding_pid_file, pid_path, running_pid
from cchc.runtime.settings import Settings
from flows.engine import EngineState
from schedules.city import City
from schedules.clock import SWEEP
from usecases.errors import UserError

VN = ZoneInfo("Asia/Ho_Chi_Minh")


# ----- a skipped day ------------------------------------------------------------------------


def run_engine_on_a_virtual_clock(plan, tmp_path, start, end, catch_up, monkeypatch):
    """The engine's start-up and main loop (`flows.engine._run`), its scheduler APScheduler's
    own job processing stepped on a virtual clock from `start` to `end`; the catch-up sweep
    takes `catch_up`. Returns the (instant, flow) of each run fired."""
    clock = _VirtualClock(start)
    virtual = _virtual_datetime(clock)
    for module in (apscheduler.schedulers.base, apscheduler.executors.base, flows.engine):
        monkeypatch.setattr(module, "datetime", virtual)
    fired: list[tuple[datetime, str]] = []

    def fire(flow, obligation=None, at=None):
        fired.append((clock.now, flow))
        if len(fired) == 1:  # the catch-up sweep at start
            clock.now += catch_up

    schedulers: list[_SteppedScheduler] = []

    def scheduler(**options):
        executors = {"default": DebugExecutor()}
        made = _SteppedScheduler(timezone=options["timezone"], executors=executors)
        schedulers.append(made)
        return made

    state = EngineState(City.of(plan), None, Settings(plan.folder, tmp_path, "sqlite://"))

    def sleep(_seconds):  # one step of the clock per turn of the engine's loop
        wait = schedulers[0]._process_jobs()
        clock.now = min(clock.now + timedelta(seconds=wait or 3600), end)
        state.stop = clock.now >= end

    monkeypatch.setattr(flows.engine, "fire", fire)
    monkeypatch.setattr(flows.engine, "BackgroundScheduler", scheduler)
    monkeypatch.setattr(flows.engine, "prefect_location", lambda: ("http://prefect/api", None))
    monkeypatch.setattr(flows.engine, "_pin", lambda state: None)
    monkeypatch.setattr(flows.engine.time, "sleep", sleep)
    monkeypatch.setattr(flows.engine.signal, "signal", lambda *args: None)
    flows.engine._run(state)
    return fired


@pytest.mark.parametrize("started", ["07:29:40", "07:30:00", "07:31:00", "06:00:00"])
def test_no_sweep_is_lost_when_the_catch_up_straddles_the_sweep_time(
    plan, tmp_path, monkeypatch, caplog, started
):
    """The engine starts on a working morning; its catch-up sweep takes 49 s. Whatever the
    start, a sweep acts as of 07:30 or later that day, the escalations' one at 14:00, and the
    next one the next working day (before: started at 07:29:40, the 07:30 sweep never ran, and
    nothing said so)."""
    hour, minute, second = map(int, started.split(":"))
    start = datetime(2027, 3, 2, hour, minute, second, tzinfo=VN)  # a Tuesday
    end = datetime(2027, 3, 3, 12, 0, tzinfo=VN)
    with caplog.at_level(logging.INFO, "cchc.engine"):
        fired = run_engine_on_a_virtual_clock(
            plan, tmp_path, start, end, timedelta(seconds=49), monkeypatch
        )
    sweeps = [at for at, flow in fired if flow == SWEEP]
    assert sweeps[0] == start  # the catch-up
    sweep_time = datetime(2027, 3, 2, 7, 30, tzinfo=VN)
    assert any(at >= sweep_time and at.date() == start.date() for at in sweeps)
    assert sweeps[-1] == datetime(2027, 3, 3, 7, 30, tzinfo=VN)
    straddled = start < sweep_time < start + timedelta(seconds=49)
    assert ("passed during the catch-up sweep" in caplog.text) == straddled
    if straddled:
        assert sweeps[1] == start + timedelta(seconds=49)  # at once after the catch-up
    assert datetime(2027, 3, 2, 14, 0, tzinfo=VN) in sweeps  # `escalation_time: "14:00"`
    assert len(sweeps) == (4 if straddled or start < sweep_time else 3)


# ----- the pid file -------------------------------------------------------------------------


@pytest.fixture
def reused_pid(tmp_path):
    """A live process (not an engine) whose pid a stale pid file names: an engine died and
    its pid was given to another process."""
    proc = subprocess.Popen(["sleep", "60"])
    data = tmp_path / "var"
    data.mkdir()
    (data / "cchc-run.pid").write_text(f"{proc.pid}\n")
    yield proc
    proc.kill()
    proc.wait()


def test_reload_never_signals_a_pid_whose_file_nobody_locks(plan, tmp_path, reused_pid):
    env = {"CCHC_CONFIG": str(plan.folder), "CCHC_DATA_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(main, ["reload"], env=env)
    assert result.exit_code == 1 and "Không có `cchc run` nào đang chạy" in result.output
    assert reused_pid.poll() is None  # not hung up on: still running
    settings = Settings(plan.folder, tmp_path / "var", "sqlite://")
    assert running_pid(settings) is None


def test_the_engine_holds_its_pid_file_locked_while_it_runs(plan, tmp_path, reused_pid):
    settings = Settings(plan.folder, tmp_path / "var", "sqlite://")
    with holding_pid_file(settings):  # the stale file is taken over
        assert pid_path(settings).read_text() == f"{os.getpid()}\n"
        assert running_pid(settings) == os.getpid()
        with (
            pytest.raises(UserError, match=f"đang chạy .*pid {os.getpid()}"),
            holding_pid_file(settings),
        ):
            pass
        assert running_pid(settings) == os.getpid()
    assert not pid_path(settings).exists() and running_pid(settings) is None


def test_reload_signals_the_engine_that_holds_the_pid_file(plan, tmp_path):
    """A child holds the lock (as `cchc run` does); `cchc reload` hangs up on it."""
    data = tmp_path / "var"
    data.mkdir()
    holder = (
        "import signal, sys, time\n"
        "from pathlib import Path\n"
        "from cchc.runtime.control import holding_pid_file\n"
        "from cchc.runtime.settings import Settings\n"
        "got = []\n"
        "signal.signal(signal.SIGHUP, lambda *a: got.append(1))\n"
        f"with holding_pid_file(Settings(Path('.'), Path({str(data)!r}), 'sqlite://')):\n"
        "    print('holding', flush=True)\n"
        "    while not got: time.sleep(0.05)\n"
        "print('reloaded', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        env = {"CCHC_CONFIG": str(plan.folder), "CCHC_DATA_DIR": str(data)}
        result = CliRunner().invoke(main, ["reload"], env=env)
        assert result.exit_code == 0, result.output
        assert f"(pid {proc.pid}" in result.output
        assert proc.stdout.readline().strip() == "reloaded"
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not (data / "cchc-run.pid").exists()


# ----- a broken template at reload ----------------------------------------------------------


def test_reload_refuses_a_broken_template_and_keeps_the_running_config(
    plan, config_dir, tmp_path, caplog
):
    """A template saved half-edited, then SIGHUP: the engine checks the templates with the
    config (as `cchc check` does), refuses with FILE:LINE in the log and keeps running the
    config it has (before: "config reloaded", and every mail of that kind failed at 07:30)."""
    from test_mail_faults import break_template
    from test_prefect_clock import _SteppedScheduler as Stepped

    from flows.engine import configure, reload

    city = City.of(plan)
    scheduler = Stepped(timezone=plan.zone, executors={"default": DebugExecutor()})
    configure(scheduler, city)
    state = EngineState(city, None, Settings(config_dir, tmp_path / "var", "sqlite://"))
    broken = break_template(config_dir)
    with caplog.at_level(logging.INFO, "cchc.engine"):
        assert reload(scheduler, state) is False
    assert state.city is city and state.reloads == [False]
    assert f"{broken}:" in caplog.text and "config refused" in caplog.text
    assert "config reloaded" not in caplog.text


def test_cchc_reload_refuses_a_broken_template_before_asking_the_engine(
    config_dir, tmp_path, reused_pid
):
    from test_mail_faults import break_template

    broken = break_template(config_dir)
    env = {"CCHC_CONFIG": str(config_dir), "CCHC_DATA_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(main, ["reload"], env=env)
    assert result.exit_code == 1
    assert f"{broken}:" in result.output and "mail templates invalid" in result.output
    assert "Đã yêu cầu" not in result.output
