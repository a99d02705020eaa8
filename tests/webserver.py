"""``newsspider web`` as a user starts it: a subprocess on loopback, over a real store."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from newsspider.store.embedded import free_port
from tests.conftest import REPO


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class WebServer:
    """``newsspider web --port N`` with ``env``; ``url`` once it said it listens."""

    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    log: Path | None = None
    process: subprocess.Popen[str] | None = None
    url: str = ""

    def __enter__(self) -> Self:
        self.port = self.port or free_port()
        cmd = [str(Path(sys.executable).with_name("newsspider")), "web", "--host", self.host,
               "--port", str(self.port), "--log-level", "warning", *self.args]
        self.process = subprocess.Popen(cmd, cwd=REPO, env=self.env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first.startswith("dashboard: http"):
            rest = self.process.stdout.read() if self.process.poll() is not None else ""
            self.close()
            raise RuntimeError(f"newsspider web did not start: {first}{rest}")
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # uvicorn stops gracefully on SIGTERM
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            self.process.kill()  # a no-op once it has exited
            self.process.wait()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def get(self, path: str, headers: dict[str, str] | None = None, data: bytes | None = None,
            follow: bool = False) -> Reply:
        path = urllib.parse.quote(path, safe="/?&=%:+#")  # a test may write 光伏 in a query
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {})
        opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=30) as response:
                return Reply(response.status, {k.lower(): v for k, v in response.headers.items()},
                             response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()},
                         exc.read().decode("utf-8", "replace"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def web_env(mongo_uri: str, db_name: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NEWSSPIDER_WEB_TOKEN",)}
    env.update(MONGO_URI=mongo_uri, MONGO_DATABASE=db_name, NEWSSPIDER_DATA_DIR=str(data_dir))
    env.update(extra)
    return env
