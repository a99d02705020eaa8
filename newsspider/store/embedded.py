"""The embedded MongoDB-compatible store: an nx-27017 process on loopback.

Used when ``MONGO_URI`` is unset (crawls, ``newsspider store``, the tests).
nx-27017 speaks MongoDB's wire protocol over SQLite; it keeps one ``<db>.db``
file per database under the data directory.  It is a child process, never
started at import time, and always stopped by :meth:`EmbeddedStore.stop`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

logger = logging.getLogger(__name__)


class StoreStartError(RuntimeError):
    """The embedded store did not come up; the message says why and where its log is."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# Run before exec in the child's own process (not via preexec_fn, which is
# unsafe when the parent has threads): ask Linux to SIGTERM the store when the
# crawl that started it dies.  The store runs in its own session so a Ctrl-C
# aimed at the crawl does not stop it before the crawl has flushed; without
# this, a SIGKILLed crawl would leave its embedded store running.
# The first argument is the niceness to run at (see EmbeddedStore's ``nice``).
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys; "
    "ctypes.CDLL('libc.so.6').prctl(1, signal.SIGTERM); "
    "os.nice(int(sys.argv[1])); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


# Seconds a SIGTERMed server gets before SIGKILL (see EmbeddedStore.stop).
STOP_TIMEOUT = 0.5


def _launcher(nice: int) -> list[str]:
    if sys.platform.startswith("linux"):
        return [sys.executable, "-c", _DIE_WITH_PARENT, str(nice)]
    return []


def _nx_command() -> list[str]:
    exe = Path(sys.executable).with_name("nx-27017")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("nx-27017")
    if found:
        return [found]
    raise StoreStartError(
        "nx-27017 is not installed: pip install nx-27017 (or set MONGO_URI to a real MongoDB)"
    )


class EmbeddedStore:
    """Start, wait for, and stop one nx-27017 server.

    ``port=0`` picks a free loopback port.  The URI is ``mongodb://host:port``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        port: int = 0,
        host: str = "127.0.0.1",
        start_timeout: float = 30.0,
        nice: int = 0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.start_timeout = start_timeout
        # > 0 when the store serves a crawl on the same machine: the crawl process
        # is the bottleneck, the store has time to spare (NEWSSPIDER_HELPER_NICE).
        self.nice = nice
        self.process: subprocess.Popen[bytes] | None = None
        self._terminated: list[subprocess.Popen[bytes]] = []

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "nx-27017.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / f"nx-27017-{self.port}.pid"

    def start(self) -> str:
        """Start the server and return its URI once it answers a ping."""
        self.spawn()
        return self.wait_ready()

    def spawn(self) -> None:
        """Start the server process without waiting for it (see :meth:`wait_ready`)."""
        if self.process is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = _launcher(self.nice) + _nx_command() + [
            "--data-dir", str(self.data_dir),
            "--host", self.host,
            "--port", str(self.port),
            "--log-file", str(self.log_path),
            "--pid-file", str(self.pid_file),
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self) -> str:
        """Wait until the spawned server answers a ping; returns its URI."""
        if self.process is None:
            self.spawn()
        self._wait_until_ready()
        logger.info("embedded store (nx-27017) listening at %s, data in %s", self.uri, self.data_dir)
        return self.uri

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise StoreStartError(
                    f"nx-27017 exited with code {self.process.returncode} at start; "
                    f"see {self.log_path}"
                )
            # Our process must be the one listening: a free port picked earlier
            # may have been taken by another server meanwhile (it would answer).
            if not self._listening():
                time.sleep(0.02)  # it boots in ~0.35 s; the crawl waits for it
                continue
            if self._ping():
                return
            time.sleep(0.02)
        self.stop()
        raise StoreStartError(
            f"nx-27017 did not answer on {self.uri} within {self.start_timeout:.0f}s; "
            f"see {self.log_path}"
        )

    def _listening(self) -> bool:
        if self.process is None:
            return False
        import psutil

        try:
            sockets = psutil.Process(self.process.pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == self.port
            for c in sockets
        )

    def _ping(self) -> bool:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        client: MongoClient = MongoClient(self.uri, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except PyMongoError:
            return False
        finally:
            client.close()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``).

        A SIGTERM takes nx-27017 (0.8) 0.06–0.12 s here, yet now and then it
        sits one out (about one stop in seven, each time for good): waiting
        longer only delays the end of every such crawl.  Killing it loses
        nothing — by now every client has closed and every write has been
        answered, and SQLite keeps answered writes through a killed process
        (tests/test_store_embedded.py).
        """
        self.terminate()
        self.wait_stopped(timeout)

    def terminate(self, *, kill: bool = False) -> None:
        """Ask the server to exit without waiting; :meth:`wait_stopped` reaps it.

        ``kill`` sends SIGKILL instead of SIGTERM: for a server whose clients
        have all closed, where it loses nothing (see :meth:`stop`) and spares
        the wait for nx-27017's own shutdown — 0.06–0.12 s, or the whole
        :data:`STOP_TIMEOUT` when it sits the SIGTERM out.
        """
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self._terminated.append(proc)
        self.process = None

    def wait_stopped(self, timeout: float = STOP_TIMEOUT) -> None:
        """Wait for servers :meth:`terminate` signalled; SIGKILL any still running after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self._terminated:
            proc = self._terminated.pop()
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.debug("embedded store did not exit %.1f s after SIGTERM; killing it", timeout)
                proc.kill()
                proc.wait(10)
            if proc.returncode == -signal.SIGKILL:
                self._remove_pid_file(proc.pid)

    def _remove_pid_file(self, pid: int) -> None:
        # nx-27017 removes its pid file when it exits by itself; a killed one leaves it.
        path = self.pid_file
        try:
            if path.read_text().strip() == str(pid):
                path.unlink()
        except (OSError, ValueError):
            pass  # never written, or already gone

    def kill(self) -> None:
        """SIGKILL the server and reap it (fault-injection tests)."""
        self.terminate(kill=True)
        self.wait_stopped(10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
