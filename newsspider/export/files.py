"""Output side of the exports: atomic files (temp file + rename) or standard output.

A reader (a Hexo server, a feed poller) never sees a half-written file: every file is
written under a hidden temporary name in the same directory and renamed over the target.

Settings read: none.  Stats written: none.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

STDOUT = "-"

#: Called with (temporary file, target) once the temporary file is complete, before the rename.
BeforeReplace = Callable[[Path, Path], None]


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], before_replace: BeforeReplace | None = None
) -> Iterator[BinaryIO]:
    """A binary stream that becomes ``path`` only if the block finishes without error."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        if before_replace is not None:
            before_replace(Path(tmp_name), target)
        os.replace(tmp_name, target)
    except BaseException:
        # The target keeps its previous content; only our temporary file goes.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def is_stdout(out: str | os.PathLike[str]) -> bool:
    return os.fspath(out) == STDOUT


@contextlib.contextmanager
def open_output(
    out: str | os.PathLike[str], before_replace: BeforeReplace | None = None
) -> Iterator[BinaryIO]:
    """``-`` is standard output (not closed afterwards); anything else an atomic file."""
    if is_stdout(out):
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    with atomic_output(out, before_replace) as stream:
        yield stream


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_output(path) as stream:
        stream.write(data)
