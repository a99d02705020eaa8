"""Body processing in worker processes when there are CPUs to spare: the crawl side.

:func:`~newsspider.normalize.body.process_body` (both body stages of an
article in one call) is about two thirds of the CPU an article costs in the
pipelines, and it needs nothing but its arguments, so :class:`BodyPool` runs
it in worker processes: the crawl process (one core, already busy fetching
and parsing pages) only pickles the body out and the result back in.

A worker is ``python -m newsspider.normalize.worker`` reading length-prefixed
pickled jobs on its stdin and answering, in order, on its stdout — both its
end of a socket pair (the wire is :mod:`newsspider.normalize.body`'s); the
crawl process talks to it through the Twisted reactor (no threads of its own, so
nothing competes for the crawl's GIL) and spreads jobs over the workers by
queue length.  Per article the crawl process's main thread does as little as
it can: a job is ``(html, base_url, spec or None)`` (each worker is sent the
spec once), it goes straight to the socket while the socket's buffer has room,
and the answer is a tuple of builtins (no dataclass or Counter to rebuild
through Python code while unpickling).  A worker that dies (killed, out of memory, a crash in a C
extension) is replaced and its jobs are tried once more on another; an
article whose body kills a second worker comes back as :class:`WorkerCrashed`
(the pipelines reject it with that reason), so one poisonous page can neither
take the crawl down nor be lost silently.  When workers cannot start at all
(they die before answering anything), the pool says so in the log and
processes bodies in the crawl process instead.

Scrapy-free (Twisted only): the image pipeline
(:mod:`newsspider.pipelines.images`) owns a pool per crawl.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import sys
from collections import deque
from pathlib import Path
from typing import Any

from twisted.internet import protocol
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.python.failure import Failure

from newsspider.normalize.body import (
    HEADER,
    BodySpec,
    ProcessedBody,
    frame,
    from_wire,
    process_body,
)

__all__ = [
    "BodyPool",
    "WorkerCrashed",
    "usable_cpus",
    "worker_count",
]

logger = logging.getLogger(__name__)

_SOCKET_BUFFER = 1 << 20  # a few answers in flight without the worker blocking on write


class WorkerCrashed(RuntimeError):
    """The article's body killed a worker process twice in a row."""


def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to honour
    return max(1, cpus)


def worker_count(value: str | int | None) -> int:
    """``NEWSSPIDER_BODY_WORKERS``: ``auto`` (one per CPU beyond the crawl's own, at most 4) or N ≥ 0.

    0 processes bodies in the crawl process itself (the right choice on one CPU:
    a worker would only add copying).
    """
    text = str(value if value is not None else "auto").strip().lower()
    if text in ("", "auto"):
        return min(4, usable_cpus() - 1)
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise ValueError(
            f"NEWSSPIDER_BODY_WORKERS must be 'auto' or a whole number ≥ 0, not {value!r}"
        )
    return count


class _Worker(protocol.Protocol):
    """One worker's end of its socket: jobs written in order, answers read in the same order.

    A socket, not pipes: Twisted reads a socket 64 KiB at a time (a pipe 8 KiB),
    and an answer is two or three bodies' worth of text.
    """

    def __init__(self, pool: BodyPool) -> None:
        self.pool = pool
        self.buffer = bytearray()
        self.pending: deque[tuple[Deferred[ProcessedBody], tuple[Any, ...], int]] = deque()
        self.alive = True
        self.process: Any = None  # the IProcessTransport, to kill it
        self.spec: BodySpec | None = None  # the spec this worker has last been sent
        self.direct = True  # jobs go straight to the socket until one would block

    def send(self, job: tuple[Any, ...], retries: int) -> Deferred[ProcessedBody]:
        done: Deferred[ProcessedBody] = Deferred()
        self.pending.append((done, job, retries))
        html, base_url, spec = job
        data = frame((html, base_url, None if spec is self.spec else spec))
        self.spec = spec
        transport: Any = self.transport  # zope interfaces don't type their methods for mypy
        if self.direct:
            # The socket's buffer (1 MiB) holds hundreds of jobs: a plain send
            # spares the reactor a writer registration and a wake-up per job.
            try:
                sent = transport.getHandle().send(data)
            except OSError:
                # Would block, interrupted, or the worker is gone (the transport
                # then reports it through connectionLost).
                sent = 0
            if sent == len(data):
                return done
            # Full (a worker far behind): the rest, and every later job, go
            # through the transport's buffer, in order.
            self.direct = False
            data = data[sent:]
        transport.write(data)
        return done

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= HEADER.size:
            size = HEADER.unpack_from(self.buffer)[0]
            end = HEADER.size + size
            if len(self.buffer) < end:
                return
            with memoryview(self.buffer) as view:  # released before the buffer shrinks
                answer = pickle.loads(view[HEADER.size:end])
            del self.buffer[:end]
            done, _, _ = self.pending.popleft()
            self.pool.answered += 1
            if isinstance(answer, tuple):
                done.callback(from_wire(answer))
            else:
                done.errback(Failure(RuntimeError(f"processing the body failed: {answer}")))

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        # The socket closed: the worker is gone, whether or not it has been reaped yet.
        if self.alive:
            self.alive = False
            self.pool._died(self)


class _Reaper(protocol.ProcessProtocol):
    """The worker as a process: only its end matters (the socket says when it dies)."""

    def __init__(self, pool: BodyPool, worker: _Worker) -> None:
        self.pool = pool
        self.worker = worker

    def processEnded(self, reason: Failure) -> None:
        self.worker.connectionLost(reason)
        self.pool._reaped(self.worker)


class BodyPool:
    """``workers`` processes running :func:`process_body`, used from the reactor thread.

    :meth:`process` returns a Deferred firing with a :class:`ProcessedBody`, or
    failing with :class:`WorkerCrashed`.
    """

    def __init__(self, workers: int, reactor: Any = None, nice: int = 0,
                 command: list[str] | None = None) -> None:
        if workers < 1:
            raise ValueError("a BodyPool needs at least one worker")
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor
        self.size = workers
        self.command = command or [
            sys.executable, "-m", "newsspider.normalize.worker", str(nice)
        ]
        self.workers: list[_Worker] = []
        self.restarts = 0
        self.answered = 0
        self.failed_starts = 0
        self.in_process = False  # workers could not start: bodies are processed here
        self.closing = False
        self._ended: list[Deferred[None]] = []
        self._running: set[_Worker] = set()

    def start(self) -> None:
        """Start the workers now (they take ~0.3 s to import), not at the first article."""
        while len(self.workers) < self.size:
            self._spawn()

    def _spawn(self) -> _Worker:
        worker = _Worker(self)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            for sock in (ours, theirs):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
            # The worker's stdin and stdout are both its end of the socket.
            worker.process = self.reactor.spawnProcess(
                _Reaper(self, worker), self.command[0], self.command,
                env=os.environ.copy(), childFDs={0: theirs.fileno(), 1: theirs.fileno(), 2: 2},
            )
            ours.setblocking(False)
            # adoptStreamConnection dups the descriptor: ours is closed below either way.
            self.reactor.adoptStreamConnection(
                ours.fileno(), socket.AF_UNIX, protocol.Factory.forProtocol(lambda: worker)
            )
        finally:
            # Only the worker may hold its end, or its death would never read as EOF here.
            theirs.close()
            ours.close()
        self.workers.append(worker)
        self._running.add(worker)
        return worker

    def process(self, html: str, base_url: str | None, spec: BodySpec) -> Deferred[ProcessedBody]:
        return self._submit((html, base_url, spec), retries=1)

    def _submit(self, job: tuple[Any, ...], retries: int) -> Deferred[ProcessedBody]:
        if self.in_process:
            return succeed(process_body(*job))
        if self.closing:
            raise RuntimeError("the body pool is closed")
        self.start()  # replaces dead workers
        worker = min(self.workers, key=lambda w: len(w.pending))
        return worker.send(job, retries)

    def _died(self, worker: _Worker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        if self.closing:
            return
        if not self.answered:
            self.failed_starts += 1
        if self.failed_starts >= 2 and not self.in_process:
            self.in_process = True
            logger.error(
                "body worker processes die before answering anything (see their errors above); "
                "processing bodies in the crawl process instead"
            )
        else:
            self.restarts += 1
            logger.warning("a body worker process died with %d job(s) in flight; starting another",
                           len(worker.pending))
        pending, worker.pending = worker.pending, deque()
        for done, job, retries in pending:
            if retries > 0 or self.in_process:
                self._submit(job, retries - 1).chainDeferred(done)
            else:
                done.errback(Failure(WorkerCrashed(
                    "processing the body killed two worker processes (a parser crash or "
                    "the worker ran out of memory)"
                )))

    def _reaped(self, worker: _Worker) -> None:
        self._running.discard(worker)
        if not self._running:
            self._reaped_all()

    def _reaped_all(self) -> None:
        ended, self._ended = self._ended, []
        for waiter in ended:
            waiter.callback(None)

    def close(self, timeout: float = 3.0) -> Deferred[None]:
        """Let the workers finish and exit (their stdin closes); kill any left after ``timeout``."""
        self.closing = True
        if not self._running:
            return succeed(None)
        for worker in list(self._running):
            transport: Any = worker.transport
            if transport is not None:
                transport.loseConnection()  # after the writes queued: EOF for the worker
        ended: Deferred[None] = Deferred()
        self._ended.append(ended)

        def kill() -> None:
            for worker in list(self._running):
                try:
                    if worker.process is not None:
                        worker.process.signalProcess("KILL")
                except ProcessExitedAlready:
                    continue
            self._running.clear()
            self._reaped_all()

        timer = self.reactor.callLater(timeout, kill)
        ended.addBoth(lambda result: (timer.cancel() if timer.active() else None, result)[1])
        return ended

