"""The Slack request journal: every verified request Tugboat acknowledges is appended here before
the answer goes out, and marked done once its work is (``SlackEdge``).

One file per process, ``<pid>-<random>.journal``, held with an exclusive ``flock`` for the
process's life, so a file nobody holds belongs to a process that died. Records are appended with
one ``write()`` each and no fsync: the page cache outlives a killed process (SIGKILL, the OOM
killer), not a machine that loses power; that is the documented limit.

A record is a header line, ``R<id> <received at> <n>`` and tab-separated ``name:value`` headers,
then the raw body (``n`` bytes) and a newline; a done record is ``D<id>``. (Not JSON: encoding the
header took 5 us of the event loop's time per request, the write itself 1 us.) A torn last
record (the process died mid-write) is ignored. Only what replay needs is kept: the raw body and
the headers Bolt or the signature check read, never a secret.

At start, ``adopt()`` takes over the files of dead processes: the requests they never finished
are appended to this process's journal (keeping when they were received), the old files removed,
and the requests returned oldest first, for the edge to verify and dispatch again. Done entries
are compacted away when the file reaches half its bound; with the bound reached by requests
still at work, ``record`` refuses (the edge answers 503).
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
SUFFIX = ".journal"
# The headers a replay needs: the content type, the signature it is verified by again, and the
# retry headers Bolt's middleware reads. Nothing else is written.
KEPT_HEADERS = (
    "content-type",
    "x-slack-request-timestamp",
    "x-slack-signature",
    "x-slack-retry-num",
    "x-slack-retry-reason",
)
_SEPARATORS = ("\t", "\n", "\r")  # never in a header value Slack sends; such a header is left out


@dataclass(frozen=True)
class Entry:
    """One journaled request: untrusted when read back, until verified again."""

    id: int
    received_at: float  # unix seconds
    headers: dict[str, str]
    body: bytes


class SlackJournal:
    def __init__(self, directory: Path, max_bytes: int, clock: Callable[[], float] = time.time) -> None:
        self.directory, self.max_bytes, self.clock = directory, max_bytes, clock
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        self._fd = _open_locked(self.path)
        self._ids = itertools.count(1)
        self._pending: dict[int, bytes] = {}  # id -> its record, rewritten by compaction
        self._pending_bytes = 0
        self._size = 0
        self._lock = threading.Lock()
        self._closed = False

    def record(self, headers: Mapping[str, str], body: bytes, received_at: float | None = None) -> int | None:
        """Append a request (one write); its id, or None when the journal is full or failing."""
        kept = "".join(
            f"\t{name}:{value}"
            for name in KEPT_HEADERS
            if (value := headers.get(name)) is not None and not any(c in value for c in _SEPARATORS)
        )
        at = self.clock() if received_at is None else received_at
        with self._lock:
            if self._closed:
                return None
            entry = next(self._ids)
            head = f"R{entry} {at:.3f} {len(body)}{kept}\n".encode("latin-1")
            data = b"".join((head, body, b"\n"))
            if self._size + len(data) > self.max_bytes:
                self._compact()
                if self._size + len(data) > self.max_bytes:
                    log.error("Slack journal %s full (%d bytes at work)", self.path, self._pending_bytes)
                    return None
            try:
                _write_all(self._fd, data)
            except OSError as exc:
                log.error("cannot append to the Slack journal %s: %s", self.path, exc)
                return None
            self._size += len(data)
            self._pending[entry] = data
            self._pending_bytes += len(data)
            return entry

    def done(self, entry: int) -> None:
        """The request's work is over (or it needs none): a replay skips it."""
        with self._lock:
            data = self._pending.pop(entry, None)
            if data is None or self._closed:
                return
            self._pending_bytes -= len(data)
            mark = f"D{entry}\n".encode()
            try:
                _write_all(self._fd, mark)
            except OSError as exc:  # replayed after a restart, where the claims make it a no-op
                log.error("cannot mark a Slack request done in %s: %s", self.path, exc)
                return
            self._size += len(mark)
            if self._size > self.max_bytes // 2 and self._pending_bytes * 4 < self._size:
                self._compact()

    @property
    def at_work(self) -> int:
        with self._lock:
            return len(self._pending)

    def adopt(self) -> list[Entry]:
        """The unfinished requests of every dead process's journal, now in this one (new ids),
        oldest first; their old files are removed."""
        adopted: list[Entry] = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}*")):
            if path == self.path:
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:  # another process adopted it meanwhile
                continue
            try:
                if not _lock_if_still(path, fd):  # alive, or adopted by another process meanwhile
                    continue
                taken = self._take_over(path) if path.name.endswith(SUFFIX) else []
                if taken is None:
                    continue  # left for a later start
                path.unlink(missing_ok=True)  # its requests are in this journal now
                adopted += taken
                if taken:
                    log.info("took over %d unfinished Slack request(s) from %s", len(taken), path.name)
            finally:
                os.close(fd)
        return sorted(adopted, key=lambda entry: (entry.received_at, entry.id))

    def _take_over(self, path: Path) -> list[Entry] | None:
        """``path``'s unfinished requests appended here; None (and nothing kept) if refused."""
        taken: list[Entry] = []
        for old in unfinished(path):
            entry = self.record(old.headers, old.body, old.received_at)
            if entry is None:
                log.error("cannot take over %s now: this process's journal refused it", path.name)
                for copied in taken:
                    self.done(copied.id)
                return None
            taken.append(Entry(entry, old.received_at, old.headers, old.body))
        return taken

    def close(self) -> None:
        """Once nothing can mark work done any more; what is still at work stays for a replay."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            empty = not self._pending
            if empty:
                self.path.unlink(missing_ok=True)
            os.close(self._fd)

    def _compact(self) -> None:
        """Under the lock: the file rewritten with only the requests at work, swapped in atomically
        (the new file locked before it takes the name, so the name is never unheld)."""
        tmp = self.path.with_name(self.path.name + ".compacting")
        fd = _open_locked(tmp, truncate=True)
        try:
            data = b"".join(self._pending.values())
            _write_all(fd, data)
            os.replace(tmp, self.path)
        except OSError as exc:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            log.error("cannot compact the Slack journal %s: %s", self.path, exc)
            return
        os.close(self._fd)
        self._fd, self._size = fd, len(data)


def unfinished(path: Path) -> Iterator[Entry]:
    """The requests of a journal file that were never marked done, in the order received."""
    entries: dict[int, Entry] = {}
    with path.open("rb") as stream:
        while line := stream.readline():
            if not line.endswith(b"\n"):
                break  # torn: the writer died mid-record
            if line.startswith(b"D"):
                entries.pop(_int(line[1:-1]), None)
                continue
            try:
                fields = line[:-1].decode("latin-1").split("\t")
                number, at, length = fields[0].removeprefix("R").split(" ")
                size = int(length)
                pairs = (field.partition(":") for field in fields[1:])
                headers = {name: value for name, _, value in pairs if name in KEPT_HEADERS}
                entry = Entry(int(number), float(at), headers, b"")
                if not line.startswith(b"R") or size < 0:
                    raise ValueError(line[:40])
            except ValueError:
                log.warning("the Slack journal %s has an unreadable record; reading stops there", path.name)
                break
            body = stream.read(size + 1)
            if len(body) < size + 1 or not body.endswith(b"\n"):
                break
            entries[entry.id] = Entry(entry.id, entry.received_at, entry.headers, body[:-1])
    yield from entries.values()


def _int(text: bytes) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def _lock_if_still(path: Path, fd: int) -> bool:
    """Lock ``fd`` if nobody holds it and ``path`` still names it (not unlinked by an adopter)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except (BlockingIOError, FileNotFoundError):
        return False


def _open_locked(path: Path, truncate: bool = False) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | (os.O_TRUNC if truncate else 0)
    fd = os.open(path, flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
