"""The Slack request journal: every verified request Tugboat acknowledges is appended here before
the answer goes out, and marked done once its work is: over HTTP (``SlackEdge``) and over Socket
Mode (``socket_mode.SocketIntake``) alike; each entry names the transport it came by.

One file per process, ``<pid>-<random>.journal``, held with an exclusive ``flock`` for the
process's life, so a file nobody holds belongs to a process that died. The file is allocated
whole at start (``slack_journal_max_bytes``: a full disk shows then, not mid-request) and mapped
into memory shared: appending a record is a copy into the page cache, with no system call and
the interpreter lock kept (a ``write()`` per request cost the event loop 10-25 us in
bench/bench_slack_ack.py, its GIL hand-off more than the call). No fsync: the page cache outlives
a killed process (SIGKILL, the OOM killer), not a machine that loses power; that is the
documented limit.

A record is a header line, ``R<crc> <id> <received at> <n>`` and tab-separated ``name:value``
headers (the first ``tugboat-transport:<name>`` when it did not come over HTTP, then
``tugboat-origin:<origin>`` when it was taken over from a dead process), then the raw
body (``n`` bytes) and a newline; ``crc`` (CRC-32 of the rest) tells a
record the process died while copying, which ends the reading. A done record is ``D<id>``; the
unused rest of the file is zeros. (Not JSON: encoding the header took 5 us per request.) Only
what replay needs is kept: the raw body and the headers Bolt or the signature check read (for
Socket Mode, the envelope and its seal), never a secret.

Each entry has an origin, ``<file name>:<id>`` of the journal it was first written to: the owner
of the claims its delivery makes in the database (``Store.claim_for``), kept when the entry is
taken over, so that a replay acts where its own first attempt claimed and nowhere else.

At start, ``adopt()`` takes over the files of dead processes: the requests they never finished
are appended to this process's journal (keeping when they were received and their origin), the
old files removed,
and the requests returned oldest first, for the edge to verify and dispatch again. Done entries
are compacted away when the file is half full; with it full of requests still at work,
``record`` refuses (the edge answers 503).
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import mmap
import os
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
SUFFIX = ".journal"
HTTP, SOCKET_MODE = "http", "socket_mode"  # the transports a request comes by
TRANSPORT = "tugboat-transport"  # absent: HTTP (so journals written before it read the same)
SEAL = "tugboat-seal"  # Socket Mode's stand-in for Slack's signature (``socket_mode``)
ORIGIN = "tugboat-origin"  # absent: the entry was first written to the file it is read from
# The headers a replay needs, by transport: over HTTP the content type, the signature it is
# verified by again, and the retry headers Bolt's middleware reads; over Socket Mode (the retry
# fields are in the envelope) its seal. Nothing else is written.
KEPT_HEADERS = {
    HTTP: (
        "content-type",
        "x-slack-request-timestamp",
        "x-slack-signature",
        "x-slack-retry-num",
        "x-slack-retry-reason",
    ),
    SOCKET_MODE: (SEAL,),
}


class _Mapped:
    """One journal file, allocated whole, locked and mapped shared."""

    def __init__(self, path: Path, size: int) -> None:
        self.fd = _create_locked(path)
        try:
            os.ftruncate(self.fd, 0)  # a leftover of this name (a compaction cut short) starts over
            os.posix_fallocate(self.fd, 0, size)
            self.map = mmap.mmap(self.fd, size)
        except OSError:
            os.close(self.fd)
            raise
        self.end = 0

    def append(self, data: bytes) -> None:
        end = self.end + len(data)
        self.map[self.end : end] = data
        self.end = end

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


@dataclass(frozen=True)
class Entry:
    """One journaled request: untrusted when read back, until verified again."""

    id: int
    received_at: float  # unix seconds
    headers: dict[str, str]
    body: bytes
    transport: str = HTTP  # which path a replay feeds it back through
    origin: str = ""  # the journal entry its delivery was first written as (``SlackJournal.origin``)


class SlackJournal:
    def __init__(self, directory: Path, max_bytes: int, clock: Callable[[], float] = time.time) -> None:
        self.directory, self.max_bytes, self.clock = directory, max_bytes, clock
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        self._file = _Mapped(self.path, max_bytes)
        self._ids = itertools.count(1)
        self._pending: dict[int, bytes] = {}  # id -> its record, rewritten by compaction
        self._pending_bytes = 0
        self._lock = threading.Lock()
        self._closed = False

    def record(
        self,
        headers: Mapping[str, str],
        body: bytes,
        received_at: float | None = None,
        transport: str = HTTP,
        origin: str | None = None,
    ) -> int | None:
        """Append a request (a copy into the mapped file); its id, or None when the journal is
        full or closed. Only ``transport``'s kept headers are written; ``origin``: that of an
        entry taken over (else it is this one's, ``origin(id)``)."""
        kept = "" if transport == HTTP else f"\t{TRANSPORT}:{transport}"
        if origin is not None:
            kept += f"\t{ORIGIN}:{origin}"
        for name in KEPT_HEADERS.get(transport, ()):  # a plain loop: a generator cost the loop 4 us
            value = headers.get(name)
            if value is not None and value.isprintable():  # no tab or newline to break the line
                kept += f"\t{name}:{value}"
        at = self.clock() if received_at is None else received_at
        with self._lock:
            if self._closed:
                return None
            entry = next(self._ids)
            rest = f" {entry} {at:.3f} {len(body)}{kept}\n".encode("latin-1")
            crc = zlib.crc32(body, zlib.crc32(rest))
            data = b"".join((b"R%08x" % crc, rest, body, b"\n"))
            if self._file.end + len(data) > self.max_bytes:
                self._compact()
                if self._file.end + len(data) > self.max_bytes:
                    log.error("Slack journal %s full (%d bytes at work)", self.path, self._pending_bytes)
                    return None
            self._file.append(data)
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
            mark = b"D%d\n" % entry
            if self._file.end + len(mark) > self.max_bytes:
                self._compact()  # drops the entry itself: it is no longer pending
                return
            self._file.append(mark)
            if self._file.end > self.max_bytes // 2 and self._pending_bytes * 4 < self._file.end:
                self._compact()

    def origin(self, entry: int) -> str:
        """The origin of an entry recorded here: the owner of its delivery's claims."""
        return f"{self.path.stem}:{entry}"

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
            entry = self.record(old.headers, old.body, old.received_at, old.transport, old.origin)
            if entry is None:
                log.error("cannot take over %s now: this process's journal refused it", path.name)
                for copied in taken:
                    self.done(copied.id)
                return None
            taken.append(Entry(entry, old.received_at, old.headers, old.body, old.transport, old.origin))
        return taken

    def close(self) -> None:
        """Once nothing can mark work done any more; what is still at work stays for a replay."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._pending:
                self.path.unlink(missing_ok=True)
            self._file.close()

    def _compact(self) -> None:
        """Under the lock: the file rewritten with only the requests at work, swapped in atomically
        (the new file locked before it takes the name, so the name is never unheld)."""
        tmp = self.path.with_name(self.path.name + ".compacting")
        try:
            fresh = _Mapped(tmp, self.max_bytes)
        except OSError as exc:
            log.error("cannot compact the Slack journal %s: %s", self.path, exc)
            return
        for data in self._pending.values():
            fresh.append(data)
        try:
            os.replace(tmp, self.path)
        except OSError as exc:
            fresh.close()
            log.error("cannot compact the Slack journal %s: %s", self.path, exc)
            return
        self._file.close()
        self._file = fresh


def unfinished(path: Path) -> Iterator[Entry]:
    """The requests of a journal file that were never marked done, in the order received."""
    entries: dict[int, Entry] = {}
    with path.open("rb") as stream:
        while stream.peek(1)[:1] in (b"R", b"D"):  # zeros: the unused rest of the file
            line = stream.readline(_LONGEST_HEAD)
            if not line.endswith(b"\n"):
                break  # torn: the writer died mid-record
            if line.startswith(b"D"):
                entries.pop(_int(line[1:-1]), None)
                continue
            entry = _head(line)
            body = stream.read(entry.size + 1) if entry is not None else b""
            if (
                entry is None
                or len(body) != entry.size + 1
                or zlib.crc32(body[:-1], entry.crc) != entry.expected
            ):
                break  # the process died while copying this record (or the file was altered)
            origin = entry.origin or f"{path.stem}:{entry.id}"
            entries[entry.id] = Entry(
                entry.id, entry.received_at, entry.headers, body[:-1], entry.transport, origin
            )
    yield from entries.values()


_LONGEST_HEAD = 4096


@dataclass(frozen=True)
class _Head:
    id: int
    received_at: float
    size: int
    headers: dict[str, str]
    crc: int  # of the header line after the checksum, to be continued over the body
    expected: int
    transport: str
    origin: str  # empty: first written to the file it is read from


def _head(line: bytes) -> _Head | None:
    try:
        rest = line[9:]
        fields = rest[:-1].decode("latin-1").split("\t")
        _, number, at, length = fields[0].split(" ")
        pairs = {name: value for name, _, value in (field.partition(":") for field in fields[1:])}
        transport = pairs.get(TRANSPORT, HTTP)
        kept = KEPT_HEADERS.get(transport, ())  # a transport unknown here keeps none: no replay
        headers = {name: value for name, value in pairs.items() if name in kept}
        crc = zlib.crc32(rest)
        origin = pairs.get(ORIGIN, "")
        head = _Head(int(number), float(at), int(length), headers, crc, int(line[1:9], 16), transport, origin)
    except ValueError:
        return None
    return head if head.size >= 0 else None


def _int(text: bytes) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def _create_locked(path: Path) -> int:
    """``path`` opened and locked, and still named ``path``: between the create and the lock
    another process's ``adopt`` may take the new, empty file for a dead one and remove it."""
    for _ in range(3):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        except OSError:
            os.close(fd)
            raise
        os.close(fd)
    raise OSError(f"{path} keeps being removed as it is created")


def _lock_if_still(path: Path, fd: int) -> bool:
    """Lock ``fd`` if nobody holds it and ``path`` still names it (not unlinked by an adopter)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except (BlockingIOError, FileNotFoundError):
        return False
