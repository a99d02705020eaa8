"""The store's local journal: writes that could not reach the store, kept on disk.

When the store is away longer than the writer may hold items in memory
(``NEWSSPIDER_STORE_MAX_PENDING``), the oldest pending writes are appended
here, one JSON object per line, and replayed, oldest file first, as soon as
the store answers again (and at the next run's open).  Lines are MongoDB
Extended JSON (``bson.json_util``, dates as ISO-8601 strings), so every value
the writer sends comes back with its BSON type.

Layout: ``<data_dir>/journal/<database>/<time_ns>-<pid>-<rand>.jsonl``.  The
file a writer is appending to holds an exclusive ``flock``: another process
sharing the data directory skips it instead of replaying (and deleting) a
file still being written.  Replay is safe to repeat: every journaled write
is an idempotent upsert keyed by ``_id``.

Reads no settings and writes no stats (the writer does).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from bson import json_util
from bson.json_util import DatetimeRepresentation, JSONOptions

logger = logging.getLogger(__name__)

JSON_OPTIONS = JSONOptions(
    datetime_representation=DatetimeRepresentation.ISO8601, tz_aware=True
)


def dumps(record: dict[str, Any]) -> str:
    """One journal line (no newline): Extended JSON, dates as ISO strings."""
    return json_util.dumps(record, json_options=JSON_OPTIONS, ensure_ascii=False)


def loads(line: str) -> dict[str, Any]:
    return json_util.loads(line, json_options=JSON_OPTIONS)  # type: ignore[no-any-return]


class Journal:
    """Append-and-replay files for one database under ``directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._file: IO[str] | None = None
        self._path: Path | None = None

    # -- writing --------------------------------------------------------------

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Append ``records`` and fsync once for the whole batch; return how many."""
        lines = [dumps(r) for r in records]
        if not lines:
            return 0
        handle = self._open_for_append()
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        # fsync per batch, not per line: a spill is a batch of hundreds of items.
        os.fsync(handle.fileno())
        return len(lines)

    def _open_for_append(self) -> IO[str]:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            self._path = self.directory / name
            self._file = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 - kept open across spills
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self._file

    def seal(self) -> None:
        """Close the file being appended to (releasing its lock) so it can be replayed."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._path = None

    # -- reading --------------------------------------------------------------

    def files(self) -> list[Path]:
        """Journal files, oldest first (names start with the creation time)."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob("*.jsonl") if p != self._path)

    def has_files(self) -> bool:
        return bool(self.files())

    def count(self) -> int:
        """Records in every journal file, including the one being appended to."""
        total = 0
        if self.directory.is_dir():
            for path in self.directory.glob("*.jsonl"):
                with open(path, encoding="utf-8") as fh:
                    total += sum(1 for line in fh if line.strip())
        return total

    def replayable(self) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
        """Yield ``(path, records)`` for each file no other process is writing.

        The caller deletes ``path`` with :meth:`done` after writing its records.
        A torn last line (a crash mid-append) is skipped with a warning.
        """
        for path in self.files():
            try:
                handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed by the with below
            except FileNotFoundError:
                continue  # replayed and removed by another process meanwhile
            with handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another process is still appending to it
                records = []
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        records.append(loads(line))
                    except (json.JSONDecodeError, ValueError) as exc:
                        logger.warning("journal %s line %d unreadable, skipped: %s", path, number, exc)
                yield path, records

    @staticmethod
    def done(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass  # another process replayed it too; the writes are idempotent upserts
