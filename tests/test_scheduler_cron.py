"""``newsspider schedule``: parsing, due runs on a fake clock, no overlap, exit codes, SIGTERM.

Crawls are replaced by tiny real subprocesses (``NEWSSPIDER_SCHEDULE_COMMAND``),
so the loop, the process handling and the signals are the real ones.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.scheduler import (
    Entry,
    ScheduleError,
    Scheduler,
    check_health,
    crawl_command,
    parse_schedule,
)
from tests.conftest import REPO

PY = sys.executable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ofweek=*/30 * * * *", [Entry("ofweek", "*/30 * * * *")]),
        (
            "ofweek=*/30 * * * *;zaker=0 * * * *",
            [Entry("ofweek", "*/30 * * * *"), Entry("zaker", "0 * * * *")],
        ),
        (" ofweek = */30  *  * * * ; ;\nzaker=0 6 * * 1-5;", [
            Entry("ofweek", "*/30 * * * *"), Entry("zaker", "0 6 * * 1-5"),
        ]),
    ],
)
def test_parse_schedule(text: str, expected: list[Entry]) -> None:
    assert parse_schedule(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "schedule is empty"),
        ("ofweek", "is not PORTAL=CRON"),
        ("=*/5 * * * *", "is not PORTAL=CRON"),
        ("ofweek=", "is not PORTAL=CRON"),
        ("ofweek=every 5 minutes", "is not a cron expression"),
        ("ofweek=61 * * * *", "is not a cron expression"),
        ("ofweek=*/5 * * * *;ofweek=0 * * * *", "scheduled twice"),
        ("ofweek=*/5 * * * *;zaker=* *", "entry 2 for 'zaker'"),
    ],
)
def test_bad_schedules_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text)


def test_crawl_command() -> None:
    assert crawl_command("", "ofweek")[-3:] == ["crawl", "--quiet", "ofweek"]
    assert crawl_command("", "ofweek")[:3] == [PY, "-m", "newsspider.cli"]
    assert crawl_command("echo crawl", "ofweek") == ["echo", "crawl", "ofweek"]
    assert crawl_command("run '{portal} now' -x", "zaker") == ["run", "zaker now", "-x"]


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _wait_exit(scheduler: Scheduler, portal: str, timeout: float = 20) -> None:
    process = scheduler.jobs[portal].process
    assert process is not None
    process.wait(timeout=timeout)


def test_due_runs_start_overlaps_are_skipped_and_exit_codes_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="newsspider.scheduler")
    start = datetime(2026, 1, 5, 10, 0, 10, tzinfo=UTC).timestamp()
    clock = FakeClock(start)
    release = tmp_path / "release"
    # "slow" runs until the test creates the release file, then exits 3.
    script = (f"import os,sys,time\nwhile not os.path.exists({str(release)!r}): "
              "time.sleep(0.02)\nsys.exit(3)")
    slow = [PY, "-c", script]
    fast = [PY, "-c", "pass"]
    scheduler = Scheduler(
        [Entry("slow", "*/5 * * * *"), Entry("fast", "0 * * * *")],
        lambda portal: slow if portal == "slow" else fast,
        clock=clock,
    )
    assert scheduler.tick() == []  # nothing is due at 10:00:10
    assert scheduler.next_times()["slow"] == datetime(2026, 1, 5, 10, 5, tzinfo=UTC)

    clock.now = datetime(2026, 1, 5, 10, 5, 0, tzinfo=UTC).timestamp()
    assert scheduler.tick() == ["slow"]
    assert scheduler.running == ["slow"]

    # 10:10 and 10:15 come while it still runs: both skipped, never a second process.
    for minute in (10, 15):
        clock.now = datetime(2026, 1, 5, 10, minute, 1, tzinfo=UTC).timestamp()
        assert scheduler.tick() == []
    assert scheduler.jobs["slow"].runs == 1
    assert scheduler.jobs["slow"].skipped == 2
    assert "crawl slow is still running" in caplog.text

    release.touch()
    _wait_exit(scheduler, "slow")
    # 11:00: both are due; the finished run is reaped and its exit code logged first.
    clock.now = datetime(2026, 1, 5, 11, 0, 0, tzinfo=UTC).timestamp()
    assert sorted(scheduler.tick()) == ["fast", "slow"]
    assert scheduler.jobs["slow"].exit_codes == [3]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("crawl slow finished: exit code 3" in r.getMessage() for r in errors)
    _wait_exit(scheduler, "fast")
    _wait_exit(scheduler, "slow")
    scheduler.reap()
    assert scheduler.jobs["fast"].exit_codes == [0]
    assert "crawl fast finished: exit code 0" in caplog.text
    # Missed times are not replayed: the next run is the next future time.
    assert scheduler.next_times()["slow"] == datetime(2026, 1, 5, 11, 5, tzinfo=UTC)


def test_a_command_that_cannot_start_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 10, 59, 59, tzinfo=UTC).timestamp())
    scheduler = Scheduler([Entry("x", "0 * * * *")], lambda p: ["/nonexistent/newsspider"],
                          clock=clock)
    clock.now += 1
    scheduler.tick()
    assert scheduler.jobs["x"].exit_codes == [127]
    assert "could not start" in caplog.text


def _schedule_process(tmp_path: Path, command: str, schedule: str,
                      *extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "NEWSSPIDER_SCHEDULE": schedule,
        "NEWSSPIDER_SCHEDULE_COMMAND": command,
        "NEWSSPIDER_SCHEDULE_STOP_TIMEOUT": "10",
        "NEWSSPIDER_DATA_DIR": str(tmp_path / "data"),
    }
    return subprocess.Popen(
        [PY, "-m", "newsspider.scheduler", "schedule", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_sigterm_stops_the_scheduler_and_its_running_crawl(tmp_path: Path) -> None:
    marker = tmp_path / "crawl"
    # A "crawl" that records its start and its SIGTERM, and otherwise runs for a minute.
    child = tmp_path / "child.py"
    child.write_text(
        "import pathlib, signal, sys, time\n"
        f"base = pathlib.Path({str(marker)!r} + '-' + sys.argv[1])\n"
        "def term(*_):\n"
        "    base.with_suffix('.terminated').touch(); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, term)\n"
        "base.with_suffix('.started').touch()\n"
        "time.sleep(60)\n"
    )
    # Every second (croniter's optional sixth field): the real loop, no long wait.
    proc = _schedule_process(tmp_path, f"{PY} {child} {{portal}}", "demo=* * * * * *")
    started = marker.with_name("crawl-demo.started")
    deadline = time.monotonic() + 20
    while not started.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the scheduled crawl never started"
        time.sleep(0.05)
    heartbeat = tmp_path / "data" / "scheduler.heartbeat"
    assert heartbeat.exists()
    time.sleep(1.5)  # several due times pass while the crawl runs: skipped, not doubled
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert marker.with_name("crawl-demo.terminated").exists(), out
    assert "crawl demo is still running" in out
    assert out.count("crawl demo started") == 1, out
    assert "received SIGTERM: stopping" in out
    assert "scheduler stopped" in out
    assert not heartbeat.exists()


def test_once_runs_every_portal_and_reports_failures(tmp_path: Path) -> None:
    ok = _schedule_process(tmp_path, f"{PY} -c pass", "a=0 0 1 1 *;b=0 0 1 1 *", "--once")
    out, _ = ok.communicate(timeout=30)
    assert ok.returncode == 0, out
    assert "crawl a finished: exit code 0" in out and "crawl b finished: exit code 0" in out
    failing = _schedule_process(
        tmp_path, f"{PY} -c 'import sys; sys.exit(sys.argv[1] == \"b\")'", "a=0 0 1 1 *;b=0 0 1 1 *",
        "--once",
    )
    out, _ = failing.communicate(timeout=30)
    assert failing.returncode == 1, out
    assert "crawl b finished: exit code 1" in out


def test_bad_schedule_and_unknown_portal_are_usage_errors(tmp_path: Path) -> None:
    bad = _schedule_process(tmp_path, "", "ofweek=every hour", "--check")
    out, _ = bad.communicate(timeout=30)
    assert bad.returncode == 2 and "is not a cron expression" in out, out
    unknown = _schedule_process(tmp_path, "", "nosuchportal=0 * * * *", "--check")
    out, _ = unknown.communicate(timeout=30)
    assert unknown.returncode == 2 and "unknown portal(s) ['nosuchportal']" in out, out
    good = _schedule_process(tmp_path, "", "ofweek=*/30 * * * *", "--check")
    out, _ = good.communicate(timeout=30)
    assert good.returncode == 0 and "ofweek: next run" in out, out


def test_health(tmp_path: Path) -> None:
    assert check_health(str(tmp_path))[0]  # no scheduler here: a one-shot container
    beat = tmp_path / "scheduler.heartbeat"
    beat.touch()
    assert check_health(str(tmp_path))[0]
    old = time.time() - 600
    os.utime(beat, (old, old))
    ok, message = check_health(str(tmp_path))
    assert not ok and "old" in message
