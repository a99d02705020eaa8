"""``--state FILE``: how far an incremental export got, so the next one takes only what changed.

The file (JSON, replaced atomically) holds the export's keyset *position* — the
largest ``(updated_at, _id)`` exported — when the last export began to read
(``read_at``), and the versions it exported since ``read_at - lookback``
(``_id`` → ``updated_at``).  An article the last export could not have seen —
written after it began to read, yet stamped earlier than its position (a writer's
batch is stamped before it commits; a crawl machine's clock may lag) — has an
``updated_at`` after ``read_at - lookback``.  So the next export asks for
``updated_at >= min(position, read_at - lookback)`` and drops the versions already
exported: such a late write is exported once, and an export that runs well after
the last change re-reads nothing.

Progress is recorded as the export goes, so an interrupted one (killed, a full
disk) resumes where it stopped and exports nothing twice by reason of the
interruption:

* **streamed outputs** (Hexo posts, ``jsonl --out -``): each document is
  appended to ``FILE.progress`` once its output is written (a post renamed into
  place; a line flushed); the next open folds that log into the state.  A kill
  between a post's rename and its log line re-renders that post next time — to
  the same bytes, which the Hexo export does not write again; on standard
  output that one line can come twice.
* **whole-file outputs** (``jsonl``/``rss`` to a file, ``rss`` to standard
  output): the output only exists when complete, so the state only moves at
  the end.  Before a file is renamed into place the state records the move as
  *pending*, with the identity of the new file (device, inode, size, mtime);
  the next open keeps the move if that file is in place, and drops it if not.

One export at a time per state file: ``FILE.lock`` is held (``flock``) while it
runs; a second one fails at once, naming the file.  A state file remembers the
format and the ``--portal``/``--since`` filters it was made with and refuses
others (a position means nothing under other filters).

Settings read: none (the CLI passes ``NEWSSPIDER_EXPORT_LOOKBACK`` as ``lookback``).
Stats written: none.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from newsspider.export.source import (
    ChangeKey,
    Document,
    Window,
    as_utc,
    parse_changed_since,
    parse_since,
)

logger = logging.getLogger(__name__)

STATE_FORMAT = "newsspider-export-state"
STATE_VERSION = 1
#: Seconds a write may be stamped before it is visible (a batch in flight, clock skew).
DEFAULT_LOOKBACK = 60.0


class StateError(ValueError):
    """The state file cannot be used; the message names it and says why."""


def iso(value: dt.datetime) -> str:
    """``2024-05-01T08:30:00.123Z``: always milliseconds (what a BSON date holds)."""
    return as_utc(value).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _parse_iso(value: Any, path: Path, what: str) -> dt.datetime:
    try:
        return as_utc(dt.datetime.fromisoformat(str(value)))
    except ValueError as exc:
        raise StateError(f"state file {path}: {what} is not an ISO 8601 date: {value!r}") from exc


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _identity(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns]


class ExportState:
    """One export's view of a state file; create it with :meth:`open`."""

    def __init__(
        self, path: Path, data: dict[str, Any], *, streamed: bool, lock_fd: int
    ) -> None:
        self.path = path
        self.progress_path = path.with_name(path.name + ".progress")
        self.data = data
        self.streamed = streamed
        self._lock_fd = lock_fd
        self._progress_fd: int | None = None
        self._keys: list[ChangeKey] = []
        self.read_at = dt.datetime.now(dt.UTC)  # this export's, before its query

    # -- opening ----------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        export: str,
        filters: Mapping[str, Any],
        streamed: bool,
        lookback: float = DEFAULT_LOOKBACK,
        changed_since: dt.datetime | None = None,
    ) -> Iterator[ExportState]:
        """Lock ``path``, read it (a new one when missing), finish what an interrupted
        export left.  The caller then exports, calling :meth:`record` for each document
        and :meth:`commit` at the end."""
        target = Path(path)
        if target.is_dir():
            raise StateError(f"state file {target} is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        lock_path = target.with_name(target.name + ".lock")
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise StateError(
                    f"another export is using the state file {target} (it holds {lock_path})"
                ) from exc
            data = cls._load(target, export, dict(filters), lookback, changed_since)
            state = cls(target, data, streamed=streamed, lock_fd=lock_fd)
            state._recover()
            try:
                yield state
            finally:
                state._close_progress()
        finally:
            os.close(lock_fd)  # releases the lock

    @staticmethod
    def _load(
        path: Path,
        export: str,
        filters: dict[str, Any],
        lookback: float,
        changed_since: dt.datetime | None,
    ) -> dict[str, Any]:
        if not path.exists():
            return {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "export": export,
                "filters": filters,
                "lookback_seconds": float(lookback),
                "started_from": iso(changed_since) if changed_since is not None else None,
                "position": None,
                "exported_recently": {},
                "exported": 0,
            }
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StateError(
                f"state file {path} cannot be read ({exc}); fix it, or remove it to export "
                "everything again"
            ) from exc
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise StateError(f"{path} is not a newsspider export state file")
        if data.get("version") != STATE_VERSION:
            raise StateError(
                f"state file {path} has version {data.get('version')!r}; this newsspider "
                f"reads version {STATE_VERSION}"
            )
        if data.get("export") != export:
            raise StateError(
                f"state file {path} belongs to an `export {data.get('export')}`, not "
                f"`export {export}`: give each consumer its own state file"
            )
        if data.get("filters") != filters:
            raise StateError(
                f"state file {path} was made with {_describe(data.get('filters'))}, this "
                f"export has {_describe(filters)}: use another state file for other filters"
            )
        if changed_since is not None and data.get("position") is not None:
            logger.info("state file %s continues from its position; --changed-since is ignored",
                        path)
        return data

    def _recover(self) -> None:
        """Keep or drop a pending move, fold a progress log: what an interrupted export left."""
        dirty = False
        pending = self.data.pop("pending", None)
        if pending is not None:
            dirty = True
            target = Path(pending.get("target", ""))
            try:
                in_place = _identity(target) == pending.get("identity")
            except OSError:
                in_place = False
            if in_place:
                self.data = pending["state"]
                logger.info("state %s: the last export's %s is in place; kept its position",
                            self.path, target)
            else:
                logger.info("state %s: the last export did not finish %s; exporting it again",
                            self.path, target)
        if self.progress_path.exists():
            keys, read_at = self._read_progress()
            self.data = self._folded(keys, read_at)
            dirty = True
            logger.info("state %s: resuming after %d documents of an interrupted export",
                        self.path, len(keys))
        if dirty:
            self._save(self.data)
        with contextlib.suppress(FileNotFoundError):
            self.progress_path.unlink()

    def _read_progress(self) -> tuple[list[ChangeKey], dt.datetime | None]:
        """The keys an interrupted export recorded, and when it began to read."""
        keys: list[ChangeKey] = []
        read_at = None
        lines = self.progress_path.read_bytes().split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            try:
                record = json.loads(line)
                if isinstance(record, dict):
                    read_at = _parse_iso(record["read_at"], self.progress_path, "read_at")
                    continue
                at, doc_id = record
                keys.append(ChangeKey(_parse_iso(at, self.progress_path, "a line"), str(doc_id)))
            except (ValueError, TypeError, KeyError) as exc:
                if number == len(lines):
                    break  # the line being written when the export was killed: not recorded
                raise StateError(
                    f"{self.progress_path} line {number} is not a progress record ({exc}); "
                    "remove the file to re-export what it recorded"
                ) from exc
        return keys, read_at

    # -- what to export -----------------------------------------------------------

    @property
    def lookback(self) -> dt.timedelta:
        return dt.timedelta(seconds=float(self.data.get("lookback_seconds") or 0))

    @property
    def position(self) -> ChangeKey | None:
        raw = self.data.get("position")
        if not raw:
            return None
        if not isinstance(raw, Mapping) or "_id" not in raw:
            raise StateError(f"state file {self.path}: position is not {{updated_at, _id}}: {raw!r}")
        return ChangeKey(_parse_iso(raw.get("updated_at"), self.path, "position"), str(raw["_id"]))

    def window(self) -> Window:
        """The changes not exported yet under this state."""
        position = self.position
        exported = {
            doc_id: _parse_iso(at, self.path, "exported_recently")
            for doc_id, at in (self.data.get("exported_recently") or {}).items()
        }
        start = self.data.get("started_from")
        started = _parse_iso(start, self.path, "started_from") if start else None
        if position is None:
            return Window(started, exported)
        read = self.data.get("read_at")
        last_read = _parse_iso(read, self.path, "read_at") if read else position.updated_at
        lower = min(position.updated_at, last_read - self.lookback)
        return Window(max(lower, started) if started is not None else lower, exported)

    # -- recording ------------------------------------------------------------------

    def record(self, doc: Document) -> None:
        """``doc`` is exported: in the progress log now (streamed), or at :meth:`commit`."""
        key = ChangeKey.of(doc)
        self._keys.append(key)
        if self.streamed:
            if self._progress_fd is None:
                self._progress_fd = os.open(
                    self.progress_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
                )
                header = json.dumps({"read_at": iso(self.read_at)}) + "\n"
                os.write(self._progress_fd, header.encode("utf-8"))
            line = json.dumps([iso(key.updated_at), key.id], ensure_ascii=False) + "\n"
            os.write(self._progress_fd, line.encode("utf-8"))

    def prepare_replace(self, tmp: Path, target: Path) -> None:
        """Before ``tmp`` is renamed to ``target``: record the move as pending."""
        pending = dict(self.data)
        pending["pending"] = {
            "target": str(target.resolve()),
            "identity": _identity(tmp),
            "state": self._folded(self._keys, self.read_at),
        }
        self._save(pending)

    def commit(self) -> None:
        """Everything recorded is exported: move the position, drop the progress log."""
        self.data = self._folded(self._keys, self.read_at)
        self._keys = []
        self._save(self.data)
        self._close_progress()
        with contextlib.suppress(FileNotFoundError):
            self.progress_path.unlink()

    @property
    def recorded(self) -> int:
        return len(self._keys)

    # -- internals --------------------------------------------------------------------

    def _folded(self, keys: list[ChangeKey], read_at: dt.datetime | None) -> dict[str, Any]:
        """The state after ``keys`` were exported by an export that began to read at
        ``read_at`` (``None``: unknown, keep the recorded one — earlier, so safe)."""
        data = {k: v for k, v in self.data.items() if k != "pending"}
        if read_at is not None:
            data["read_at"] = iso(read_at)
        position = self.position
        exported = {
            doc_id: _parse_iso(at, self.path, "exported_recently")
            for doc_id, at in (data.get("exported_recently") or {}).items()
        }
        for key in keys:
            if key.id not in exported or exported[key.id] < key.updated_at:
                exported[key.id] = key.updated_at
            if position is None or key > position:
                position = key
        if position is not None:
            # What the next export's window (see window()) can return again.
            last_read = data.get("read_at")
            read = _parse_iso(last_read, self.path, "read_at") if last_read else position.updated_at
            horizon = min(position.updated_at, read - self.lookback)
            exported = {i: at for i, at in exported.items() if at >= horizon}
            data["position"] = {"updated_at": iso(position.updated_at), "_id": position.id}
        data["exported_recently"] = {i: iso(at) for i, at in sorted(exported.items())}
        data["exported"] = int(data.get("exported") or 0) + len(keys)
        data["saved_at"] = iso(dt.datetime.now(dt.UTC))
        return data

    def _save(self, data: dict[str, Any]) -> None:
        body = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(body)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)

    def _close_progress(self) -> None:
        if self._progress_fd is not None:
            os.close(self._progress_fd)
            self._progress_fd = None


@contextlib.contextmanager
def export_window(
    state: str | os.PathLike[str] | None,
    *,
    export: str,
    portal: str | None,
    since: Any,
    changed_since: Any,
    streamed: bool,
    lookback: float = DEFAULT_LOOKBACK,
) -> Iterator[tuple[Window | None, ExportState | None]]:
    """What an export takes: ``(None, None)`` = everything, newest first (no
    ``--changed-since``, no ``--state``); else the change window, and the open state."""
    changed_at = parse_changed_since(changed_since)
    since_at = parse_since(since)  # a bad --since fails before the state file is touched
    if state is None:
        yield (Window(changed_at) if changed_at is not None else None), None
        return
    filters = {"portal": portal or None,
               "since": since_at.date().isoformat() if since_at is not None else None}
    with ExportState.open(state, export=export, filters=filters, streamed=streamed,
                          lookback=lookback, changed_since=changed_at) as opened:
        yield opened.window(), opened


def _describe(filters: Any) -> str:
    if not isinstance(filters, Mapping):
        return repr(filters)
    given = [f"--{name} {value}" for name, value in sorted(filters.items()) if value is not None]
    return " ".join(given) or "no filters"


__all__ = ["DEFAULT_LOOKBACK", "ExportState", "StateError", "export_window", "iso"]
