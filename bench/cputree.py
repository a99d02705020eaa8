"""``python bench/cputree.py REPORT.json -- COMMAND…``: CPU time of a command and every process under it.

Runs COMMAND as its child and writes, once it has exited, a JSON report of
the CPU time (user + system) it and all its descendants used:

- the command's own process, exactly: when it exits the wrapper waits for it
  with ``WNOWAIT`` (it stays a zombie), reads ``utime``/``stime`` and
  ``cutime``/``cstime`` — its own, and that of every child it waited for —
  from ``/proc/<pid>/stat``, then reaps it with ``os.wait4``, whose rusage
  is the same two summed (the report carries both as a cross-check);
- descendants the command did not wait for: the wrapper is a child
  subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so orphans are re-parented
  to it and it reaps them with ``os.wait4`` — exact too;
- the split of the waited children's time by kind (``store``: nx-27017,
  ``workers``: ``newsspider.normalize.worker``, else ``other``) comes from
  sampling every descendant's own CPU time every ``--sample`` seconds; what
  each did after its last sample (the exact total minus the samples) is
  reported as ``unsampled_s`` and shared out in proportion.

Written without the bench package (it runs as a plain script, psutil only)
because no library accounts a process tree this way without cgroups, which a
bench cannot assume it may create.  Linux only.  Exits with the command's
exit status; forwards SIGINT and SIGTERM to it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import psutil

PR_SET_CHILD_SUBREAPER = 36
_TICK = os.sysconf("SC_CLK_TCK")


def kind_of(cmdline: list[str]) -> str:
    """Which of a crawl's helpers a process is, by its command line."""
    text = " ".join(cmdline)
    if "nx-27017" in text:
        return "store"
    if "newsspider.normalize.worker" in text:
        return "workers"
    return "other"


def stat_times(pid: int) -> tuple[float, float]:
    """(own, waited children's) user + system seconds of ``pid``, from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14–17 of proc(5), counted from 1 with pid and comm: utime, stime, cutime, cstime.
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime) / _TICK, (cutime + cstime) / _TICK


class Sampler(threading.Thread):
    """Every descendant's own CPU seconds, last seen, keyed by (pid, start time)."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="cputree-sampler", daemon=True)
        self.interval = interval
        self.seen: dict[tuple[int, float], dict[str, Any]] = {}
        self.skip: set[int] = set()  # the command itself: accounted exactly
        self.stop = threading.Event()
        self.me = psutil.Process()

    def sample(self) -> None:
        for proc in self.me.children(recursive=True):
            if proc.pid in self.skip:
                continue
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    times = proc.cpu_times()
                    entry = self.seen.get(key)
                    if entry is None:
                        cmdline = proc.cmdline()
                        entry = self.seen[key] = {
                            "pid": proc.pid, "kind": kind_of(cmdline), "cmd": " ".join(cmdline)[:200],
                        }
                    entry["cpu_s"] = times.user + times.system
            except psutil.Error:
                continue  # it exited between the listing and the read

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)


def _reap_orphans(sampler: Sampler, grace_s: float) -> list[dict[str, Any]]:
    """Wait for every process re-parented to us; SIGKILL what is left after ``grace_s``."""
    reaped: list[dict[str, Any]] = []
    deadline = time.monotonic() + grace_s
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            if time.monotonic() > deadline:
                for child in psutil.Process().children():
                    child.kill()
                deadline = float("inf")
            sampler.sample()
            time.sleep(0.02)
            continue
        kind = next((e["kind"] for (p, _), e in sampler.seen.items() if p == pid), "other")
        reaped.append({"pid": pid, "kind": kind, "cpu_s": usage.ru_utime + usage.ru_stime})


def account(command: list[str], interval: float) -> dict[str, Any]:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    sampler = Sampler(interval)
    child = subprocess.Popen(command)
    sampler.skip.add(child.pid)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda s, _f: child.send_signal(s))
    sampler.start()
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # a zombie now: its times are final
    own_s, children_s = stat_times(child.pid)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    orphans = _reap_orphans(sampler, grace_s=30.0)
    sampler.stop.set()
    sampler.join()
    orphan_pids = {o["pid"] for o in orphans}
    waited = [e for (pid, _), e in sampler.seen.items() if pid not in orphan_pids]
    sampled = sum(e["cpu_s"] for e in waited)
    unsampled = children_s - sampled
    by_kind: dict[str, float] = {"crawl": own_s, "store": 0.0, "workers": 0.0, "other": 0.0}
    for entry in waited:
        share = entry["cpu_s"] + (unsampled * entry["cpu_s"] / sampled if sampled > 0 else 0.0)
        by_kind[entry["kind"]] += share
    if sampled <= 0:
        by_kind["other"] += children_s  # children too short-lived to be sampled at all
    for orphan in orphans:
        by_kind[orphan["kind"]] += orphan["cpu_s"]
    return {
        "returncode": child.returncode,
        "total_s": own_s + children_s + sum(o["cpu_s"] for o in orphans),
        "own_s": own_s,
        "waited_children_s": children_s,
        "rusage_s": usage.ru_utime + usage.ru_stime,  # = own_s + waited_children_s (finer clock)
        "orphans": orphans,
        "unsampled_s": unsampled,
        "by_kind": by_kind,
        "processes": waited,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/cputree.py", description=__doc__.split("\n")[0])
    parser.add_argument("report")
    parser.add_argument("--sample", type=float, default=0.1, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    result = account(command, args.sample)
    with open(args.report, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    return int(result["returncode"]) if result["returncode"] >= 0 else 128 - result["returncode"]


if __name__ == "__main__":
    sys.exit(main())
