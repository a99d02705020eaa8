"""``newsspider schedule``: run portals on cron expressions, one subprocess per crawl.

The schedule is ``NEWSSPIDER_SCHEDULE``: ``portal=CRON;portal=CRON`` (e.g.
``ofweek=*/30 * * * *;zaker=0 * * * *``), read in ``NEWSSPIDER_SCHEDULE_TZ``.
Each due portal runs as ``newsspider crawl --quiet <portal>`` in its own
process (or ``NEWSSPIDER_SCHEDULE_COMMAND``: shell words, ``{portal}`` replaced,
else the portal appended), so a crashed or leaking crawl never takes the
scheduler down.  A portal never runs twice at once: when its next time comes
while the previous run is still going, that time is skipped and logged.
Every run's exit code is logged (see ``newsspider.cli`` for their meaning).
SIGTERM/SIGINT stop the scheduler: running crawls get SIGTERM (Scrapy's
graceful shutdown) and ``NEWSSPIDER_SCHEDULE_STOP_TIMEOUT`` seconds to end.

The scheduler touches ``NEWSSPIDER_DATA_DIR/scheduler.heartbeat`` every loop;
``newsspider schedule --health`` (the image's HEALTHCHECK) checks it is fresh.

Settings read: ``NEWSSPIDER_SCHEDULE``, ``NEWSSPIDER_SCHEDULE_COMMAND``,
``NEWSSPIDER_SCHEDULE_TZ``, ``NEWSSPIDER_SCHEDULE_STOP_TIMEOUT``, ``NEWSSPIDER_DATA_DIR``.
Writes no stats (it is not a crawl); logs one line per start, skip and exit.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

logger = logging.getLogger("newsspider.scheduler")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
HEARTBEAT_FILE = "scheduler.heartbeat"
# The loop wakes at least this often to reap finished crawls and beat.
POLL_SECONDS = 1.0
# A heartbeat older than this means the scheduler loop is stuck or gone.
HEALTHY_HEARTBEAT_AGE = 120.0


class ScheduleError(ValueError):
    """``NEWSSPIDER_SCHEDULE`` is malformed; the message names the bad entry and why."""


@dataclass(frozen=True, slots=True)
class Entry:
    portal: str
    cron: str


def parse_schedule(text: str) -> list[Entry]:
    """``"ofweek=*/30 * * * *;zaker=0 * * * *"`` → entries; raises :class:`ScheduleError`."""
    entries: list[Entry] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.replace("\n", ";").split(";"), start=1):
        part = raw.strip()
        if not part:
            continue
        portal, sep, cron = part.partition("=")
        portal, cron = portal.strip(), " ".join(cron.split())
        if not sep or not portal or not cron:
            raise ScheduleError(
                f"schedule entry {number} {part!r} is not PORTAL=CRON "
                f"(e.g. 'ofweek=*/30 * * * *')"
            )
        if not croniter.is_valid(cron):
            raise ScheduleError(
                f"schedule entry {number} for {portal!r}: {cron!r} is not a cron expression "
                f"(minute hour day-of-month month day-of-week, optionally seconds last)"
            )
        if portal in seen:
            raise ScheduleError(f"portal {portal!r} is scheduled twice; give it one expression")
        seen.add(portal)
        entries.append(Entry(portal, cron))
    if not entries:
        raise ScheduleError("the schedule is empty: set NEWSSPIDER_SCHEDULE='portal=CRON;…'")
    return entries


def crawl_command(template: str, portal: str) -> list[str]:
    """The argv that crawls ``portal``: the template's words, or ``newsspider crawl``."""
    if not template.strip():
        return [sys.executable, "-m", "newsspider.cli", "crawl", "--quiet", portal]
    words = shlex.split(template)
    if any("{portal}" in word for word in words):
        return [word.replace("{portal}", portal) for word in words]
    return [*words, portal]


@dataclass
class _Job:
    entry: Entry
    next_at: float
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    runs: int = 0
    skipped: int = 0
    exit_codes: list[int] = field(default_factory=list)


class Scheduler:
    """Start due portals, skip overlaps, reap and log exits; driven by :meth:`tick`.

    ``clock`` returns epoch seconds; tests pass a fake one and call :meth:`tick`.
    """

    def __init__(
        self,
        entries: Sequence[Entry],
        command: Callable[[str], list[str]],
        tz: ZoneInfo | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.command = command
        self.tz = tz or ZoneInfo("UTC")
        self.clock = clock
        now = clock()
        self.jobs = {e.portal: _Job(e, self._next_after(e, now)) for e in entries}

    def _next_after(self, entry: Entry, after: float) -> float:
        start = datetime.fromtimestamp(after, tz=UTC).astimezone(self.tz)
        return float(croniter(entry.cron, start).get_next(float))

    def next_times(self) -> dict[str, datetime]:
        return {p: datetime.fromtimestamp(j.next_at, tz=self.tz) for p, j in self.jobs.items()}

    @property
    def running(self) -> list[str]:
        return [p for p, j in self.jobs.items() if j.process is not None]

    def reap(self) -> None:
        for portal, job in self.jobs.items():
            if job.process is None:
                continue
            code = job.process.poll()
            if code is None:
                continue
            job.exit_codes.append(code)
            job.process = None
            took = self.clock() - job.started_at
            log = logger.info if code == 0 else logger.error
            log("crawl %s finished: exit code %d after %.1fs", portal, code, took)

    def tick(self) -> list[str]:
        """Reap finished runs, start every due portal not already running; returns those started."""
        self.reap()
        now = self.clock()
        started = []
        for portal, job in self.jobs.items():
            if job.next_at > now:
                continue
            # Catch up to the next *future* time: missed times are not replayed.
            job.next_at = self._next_after(job.entry, now)
            if job.process is not None:
                job.skipped += 1
                logger.warning(
                    "crawl %s is still running (pid %d, started %.0fs ago); skipping this run",
                    portal, job.process.pid, now - job.started_at,
                )
                continue
            self._start(job, now)
            started.append(portal)
        return started

    def run_now(self, portal: str) -> None:
        """Start ``portal`` immediately unless it is running (``--once``)."""
        job = self.jobs[portal]
        if job.process is None:
            self._start(job, self.clock())

    def _start(self, job: _Job, now: float) -> None:
        argv = self.command(job.entry.portal)
        try:
            # New session: a terminal's Ctrl-C reaches the scheduler, which then
            # stops each crawl once, instead of every crawl getting it twice.
            job.process = subprocess.Popen(argv, start_new_session=True)
        except OSError as exc:
            job.exit_codes.append(127)
            logger.error("crawl %s could not start (%s): %s", job.entry.portal, argv[0], exc)
            return
        job.started_at = now
        job.runs += 1
        logger.info("crawl %s started (pid %d): %s", job.entry.portal, job.process.pid,
                    shlex.join(argv))

    def seconds_to_next(self) -> float:
        if not self.jobs:
            return POLL_SECONDS
        return max(0.0, min(j.next_at for j in self.jobs.values()) - self.clock())

    def stop(self, timeout: float) -> None:
        """SIGTERM every running crawl, wait up to ``timeout`` s, then SIGKILL what is left."""
        running = [j for j in self.jobs.values() if j.process is not None]
        for job in running:
            assert job.process is not None
            logger.info("stopping crawl %s (pid %d)", job.entry.portal, job.process.pid)
            job.process.terminate()
        deadline = time.monotonic() + timeout
        for job in running:
            assert job.process is not None
            try:
                job.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("crawl %s did not stop within %.0fs; killing it",
                             job.entry.portal, timeout)
                job.process.kill()
                job.process.wait()
        self.reap()


def run_loop(
    scheduler: Scheduler, stop: threading.Event, heartbeat: Path | None = None
) -> None:
    """Tick until ``stop`` is set; sleeps until the next due time (at most POLL_SECONDS)."""
    while not stop.is_set():
        scheduler.tick()
        if heartbeat is not None:
            heartbeat.touch()
        stop.wait(min(POLL_SECONDS, max(0.05, scheduler.seconds_to_next())))


def check_health(data_dir: str, max_age: float = HEALTHY_HEARTBEAT_AGE) -> tuple[bool, str]:
    """Healthy when the heartbeat is fresh, or when no scheduler runs here (a one-shot crawl)."""
    path = Path(data_dir) / HEARTBEAT_FILE
    if not path.exists():
        return True, "no scheduler heartbeat here (not a scheduler container)"
    age = time.time() - path.stat().st_mtime
    if age > max_age:
        return False, f"scheduler heartbeat {path} is {age:.0f}s old (max {max_age:.0f}s)"
    return True, f"scheduler heartbeat {age:.0f}s old"


# -- the CLI ---------------------------------------------------------------


def add_schedule_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "schedule",
        help="run portals on cron schedules (NEWSSPIDER_SCHEDULE)",
        description="Run each portal of NEWSSPIDER_SCHEDULE ('portal=CRON;portal=CRON') as "
        "`newsspider crawl <portal>` when due; never two runs of one portal at once. "
        "SIGTERM stops it cleanly.",
    )
    parser.add_argument("--schedule", help="instead of NEWSSPIDER_SCHEDULE")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="validate the schedule, print each portal's next run, exit")
    mode.add_argument("--once", action="store_true",
                      help="run every scheduled portal once now, wait, exit 0 only if all did")
    mode.add_argument("--health", action="store_true",
                      help="exit 0 if the scheduler in this container is alive (HEALTHCHECK)")
    parser.set_defaults(func=run_schedule)
    return parser


def _settings() -> Any:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newsspider.settings")
    from scrapy.utils.project import get_project_settings

    return get_project_settings()


def _known_portals() -> set[str]:
    from newsspider.portals import all_portals

    return {*all_portals(), "feed"}


def run_schedule(args: argparse.Namespace) -> int:
    settings = _settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=settings.get("LOG_LEVEL", "INFO"),
                            format="%(asctime)s [%(name)s] %(levelname)s: %(message)s")
    data_dir = settings.get("NEWSSPIDER_DATA_DIR")
    if args.health:
        ok, message = check_health(data_dir)
        print(message)
        return EXIT_OK if ok else EXIT_FAILED

    template = settings.get("NEWSSPIDER_SCHEDULE_COMMAND") or ""
    try:
        entries = parse_schedule(args.schedule or settings.get("NEWSSPIDER_SCHEDULE") or "")
        tz = ZoneInfo(settings.get("NEWSSPIDER_SCHEDULE_TZ") or "UTC")
    except ScheduleError as exc:
        print(f"newsspider schedule: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ZoneInfoNotFoundError, ValueError) as exc:
        print(f"newsspider schedule: unknown NEWSSPIDER_SCHEDULE_TZ: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not template:
        # Only the real crawl command needs real portal names.
        unknown = sorted({e.portal for e in entries} - _known_portals())
        if unknown:
            print(f"newsspider schedule: unknown portal(s) {unknown}; known: "
                  f"{sorted(_known_portals())}", file=sys.stderr)
            return EXIT_USAGE

    scheduler = Scheduler(entries, lambda portal: crawl_command(template, portal), tz=tz)
    if args.check:
        for portal, when in scheduler.next_times().items():
            print(f"{portal}: next run {when.isoformat()}")
        return EXIT_OK

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        logger.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    timeout = settings.getfloat("NEWSSPIDER_SCHEDULE_STOP_TIMEOUT", 60)
    try:
        if args.once:
            for entry in entries:
                scheduler.run_now(entry.portal)
            while scheduler.running and not stop.is_set():
                stop.wait(0.2)
                scheduler.reap()
            scheduler.stop(timeout)
            codes = [c for j in scheduler.jobs.values() for c in j.exit_codes]
            return EXIT_OK if codes and all(c == 0 for c in codes) else EXIT_FAILED
        heartbeat = Path(data_dir) / HEARTBEAT_FILE
        heartbeat.parent.mkdir(parents=True, exist_ok=True)
        for portal, when in scheduler.next_times().items():
            logger.info("scheduled %s (%s): next run %s", portal,
                        scheduler.jobs[portal].entry.cron, when.isoformat())
        run_loop(scheduler, stop, heartbeat)
        scheduler.stop(timeout)
        heartbeat.unlink(missing_ok=True)
        logger.info("scheduler stopped")
        return EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newsspider.scheduler schedule …`` (the same as ``newsspider schedule …``)."""
    parser = argparse.ArgumentParser(prog="newsspider")
    add_schedule_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
