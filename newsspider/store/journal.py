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

A line that cannot be read back (not UTF-8, not JSON, or not a write the
caller's ``parse`` accepts — a torn last line after a crash, a hand-edited
file, a disk fault) is never fatal: it is appended, byte for byte, to
``<data_dir>/journal/quarantine/<database>/<file name>`` and logged at ERROR
with its file and line; the rest of the file replays.  Fix a quarantined line
and move it back into ``journal/<database>/`` (as a ``.jsonl`` file) to replay it.

Reads no settings and writes no stats (the writer does).
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from bson import json_util
from bson.json_util import DatetimeRepresentation, JSONOptions

logger = logging.getLogger(__name__)

T = TypeVar("T")
QUARANTINE = "quarantine"

JSON_OPTIONS = JSONOptions(
    datetime_representation=DatetimeRepresentation.ISO8601, tz_aware=True
)


def dumps(record: dict[str, Any]) -> str:
    """One journal line (no newline): Extended JSON, dates as ISO strings."""
    return json_util.dumps(record, json_options=JSON_OPTIONS, ensure_ascii=False)


def loads(line: str) -> dict[str, Any]:
    return json_util.loads(line, json_options=JSON_OPTIONS)  # type: ignore[no-any-return]


class Journal:
    """Append-and-replay files for one database under ``directory``.

    ``quarantine`` (default ``<directory>/../quarantine/<directory name>``)
    receives the lines that cannot be replayed.
    """

    def __init__(
        self, directory: str | os.PathLike[str], quarantine: str | os.PathLike[str] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.quarantine = (
            Path(quarantine) if quarantine is not None
            else self.directory.parent / QUARANTINE / self.directory.name
        )
        self._file: IO[str] | None = None
        self._path: Path | None = None
        self._lines_written = 0
        #: Lines moved to the quarantine by this object.
        self.quarantined = 0
        # Files whose unreadable lines could not be quarantined: left in place, not replayed.
        self._stuck: set[Path] = set()

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
        self._lines_written += len(lines)
        return len(lines)

    def probe(self) -> None:
        """Raise ``OSError`` when nothing could be appended here (the directory
        cannot be created, or a file in it cannot); leaves nothing behind."""
        if self._file is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.directory):
            pass

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
            if not self._lines_written and self._path is not None:
                # Opened but never written to (an append that failed): nothing to replay.
                self._path.unlink(missing_ok=True)
            self._file = None
            self._path = None
            self._lines_written = 0

    # -- reading --------------------------------------------------------------

    def files(self) -> list[Path]:
        """Journal files, oldest first (names start with the creation time)."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p for p in self.directory.glob("*.jsonl") if p != self._path and p not in self._stuck
        )

    def has_files(self) -> bool:
        return bool(self.files())

    def count(self) -> int:
        """Records in every journal file, including the one being appended to."""
        total = 0
        if self.directory.is_dir():
            for path in self.directory.glob("*.jsonl"):
                try:
                    with open(path, "rb") as fh:
                        total += sum(1 for line in fh if line.strip())
                except FileNotFoundError:
                    continue  # replayed and removed by another process meanwhile
        return total

    def replayable(self, parse: Callable[[dict[str, Any]], T]) -> Iterator[tuple[Path, list[T]]]:
        """Yield ``(path, [parse(record), …])`` for each file no other process is writing.

        The caller deletes ``path`` with :meth:`done` after writing its records.
        A line that is not UTF-8 Extended JSON, or that ``parse`` refuses (any
        exception), is quarantined (see the module docstring) instead.
        """
        for path in self.files():
            try:
                handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
            except FileNotFoundError:
                continue  # replayed and removed by another process meanwhile
            with handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another process is still appending to it
                parsed: list[T] = []
                good: list[bytes] = []
                bad: list[tuple[int, bytes, str]] = []
                for number, raw in enumerate(handle, 1):
                    if not raw.strip():
                        continue
                    try:
                        parsed.append(parse(loads(raw.decode("utf-8"))))
                    # A line is untrusted input (torn write, disk fault, hand edit):
                    # whatever decoding it raises, it is quarantined, never fatal.
                    except Exception as exc:  # noqa: BLE001
                        bad.append((number, raw, f"{type(exc).__name__}: {exc}"[:300]))
                    else:
                        good.append(raw)
                if bad and not self._quarantine(path, bad, good):
                    continue
            yield path, parsed

    def _quarantine(self, path: Path, bad: list[tuple[int, bytes, str]], good: list[bytes]) -> bool:
        """Move ``bad`` lines to the quarantine, leaving ``good`` in ``path``.

        False (the file left as it is, and skipped from now on) if that fails.
        The file is rewritten without them, so a replay interrupted by an
        outage does not quarantine the same lines twice.
        """
        target = self.quarantine / path.name
        try:
            self.quarantine.mkdir(parents=True, exist_ok=True)
            with open(target, "ab") as out:
                out.writelines(_line(raw) for _number, raw, _reason in bad)
                out.flush()
                os.fsync(out.fileno())
            rest = path.with_name(f".{path.name}.rest")  # not *.jsonl: never replayed as is
            with open(rest, "wb") as out:
                out.writelines(_line(raw) for raw in good)
                out.flush()
                os.fsync(out.fileno())
            os.replace(rest, path)
        except OSError as exc:
            self._stuck.add(path)
            logger.error("journal %s holds %d unreadable records (first: line %d, %s) and they "
                         "could not be moved to %s (%s): the file is left in place, not replayed",
                         path, len(bad), bad[0][0], bad[0][2], self.quarantine, exc)
            return False
        for number, _raw, reason in bad:
            logger.error("journal %s line %d unreadable (%s): moved to %s", path, number, reason, target)
        self.quarantined += len(bad)
        return True

    def quarantine_records(self, path: Path, records: list[dict[str, Any]], reason: str) -> bool:
        """Move records of ``path`` that parsed but could not be written to the quarantine.

        They stay in ``path`` too (it is deleted once replayed); False, with
        ``path`` left in place and skipped, when the quarantine cannot be written.
        """
        target = self.quarantine / path.name
        try:
            self.quarantine.mkdir(parents=True, exist_ok=True)
            with open(target, "ab") as out:
                out.writelines((dumps(r) + "\n").encode("utf-8") for r in records)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            self._stuck.add(path)
            logger.error("journal %s: %d records could not be written (%s) nor moved to %s (%s); "
                         "the file is left in place, not replayed", path, len(records), reason,
                         self.quarantine, exc)
            return False
        logger.error("journal %s: %d records could not be written (%s): moved to %s",
                     path, len(records), reason, target)
        self.quarantined += len(records)
        return True

    def done(self, path: Path) -> None:
        """``path`` was replayed: remove it (or, when it cannot be removed, skip it from now on)."""
        try:
            path.unlink()
        except FileNotFoundError:
            pass  # another process replayed it too; the writes are idempotent upserts
        except OSError as exc:
            # Written, but it stays: the next run writes it again (idempotent upserts).
            self._stuck.add(path)
            logger.error("journal %s was replayed but cannot be removed (%s); it is replayed "
                         "again at the next open", path, exc)


def _line(raw: bytes) -> bytes:
    return raw if raw.endswith(b"\n") else raw + b"\n"
