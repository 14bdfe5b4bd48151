"""The audit log: one JSON line per decision, hash-chained, appended under an exclusive lock and fsynced before
the gate lets anything run.

Record: `v` (schema), `seq`, `ts` (UTC), `kind` ("decision" or "outcome"), the decision's fields, `prev` (hash of
the previous record) and `hash` (SHA-256 of the record's canonical JSON without `hash`/`hmac`: sorted keys, no
whitespace). With a key file, `hmac` (HMAC-SHA256 over the same bytes) authenticates each record. A record that
follows a crash recovery also carries `recovered` (offset, length and SHA-256 of the torn line that was moved to
the quarantine file), so the chain itself says that a crash happened.

This module is on the hot path of every gated command: it imports json and nothing heavier (no hashlib, which
loads OpenSSL; HMAC is computed here over the builtin SHA-256).

Files, for a log at `audit.jsonl`:
  audit.jsonl              the active segment; writers append here
  audit.jsonl.1, .2, ...   rotated segments, oldest first; a segment's name never changes once written
  audit.jsonl.quarantine   torn final lines moved aside by crash recovery (JSON Lines, not chained)

Why oldest-first numbering: rotation is then one atomic rename of the active file to the next free number, under
the writers' lock. logrotate's newest-is-.1 scheme would rename every older segment on each rotation, which a
crash can leave half done, and would change names that a reviewer may have recorded.

Concurrency: writers lock the active file itself (flock) and, once they hold the lock, check that the path still
names the inode they locked; rotation renames the file away under that lock, so a writer that waited on the old
inode notices and starts again. No separate lock file is needed (one would have to live beside the log, which
fails for paths such as /dev/full that tests use to simulate a full disk).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import time
from typing import Any

from capfence_sh.errors import AuditError

SCHEMA_VERSION = 1
GENESIS = "0" * 64
TAIL_READ = 1 << 16  # one read at the end finds the last record in the common case (records are a few KiB)
DEFAULT_MAX_BYTES = 64 << 20
MIN_MAX_BYTES = 4096
QUARANTINE_SUFFIX = ".quarantine"
_RESERVED = frozenset({"v", "seq", "ts", "prev", "hash", "hmac", "recovered"})
_OPEN_ATTEMPTS = 64  # a writer restarts when the file was rotated while it waited; more than this means a bug

try:  # the builtin C module: hashlib would load OpenSSL (~4 ms) on every gated command
    from _sha256 import sha256 as _sha256
except ImportError:  # pragma: no cover - Python 3.12+ renamed it
    try:
        from _sha2 import sha256 as _sha256  # type: ignore[no-redef]
    except ImportError:
        from hashlib import sha256 as _sha256  # type: ignore[no-redef]

_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes that `hash` and `hmac` cover: the record without them, sorted keys, no whitespace, UTF-8."""
    body = {k: v for k, v in record.items() if k not in ("hash", "hmac")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (an argv byte that is not UTF-8, kept by Python's surrogateescape) has no UTF-8 form.
        # The escaped form is just as canonical: a reader re-derives it the same way from the parsed record.
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def record_hash(record: dict[str, Any]) -> str:
    return _sha256(canonical(record)).hexdigest()


def hmac_sha256(key: bytes, message: bytes) -> str:
    """RFC 2104 HMAC over the builtin SHA-256 (the hmac module would import hashlib and OpenSSL)."""
    if len(key) > 64:
        key = _sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = _sha256(key.translate(_IPAD) + message).digest()
    return _sha256(key.translate(_OPAD) + inner).hexdigest()


def record_hmac(record: dict[str, Any], key: bytes) -> str:
    return hmac_sha256(key, canonical(record))


def utc_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1_000_000):06d}Z"


def segment_numbers(path: str) -> list[int]:
    """Numbers of the rotated segments of the log at `path`, oldest first."""
    directory, base = os.path.split(os.path.abspath(path))
    prefix = base + "."
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(int(n[len(prefix):]) for n in names
                  if n.startswith(prefix) and n[len(prefix):].isdigit() and n[len(prefix)] != "0")


def segment_path(path: str, number: int) -> str:
    return f"{path}.{number}"


def quarantine_path(path: str) -> str:
    return path + QUARANTINE_SUFFIX


def is_record(value: Any) -> bool:
    """The shape every chained record has; anything else at the end of the log is damage, not a record."""
    return (isinstance(value, dict) and type(value.get("seq")) is int and value["seq"] >= 1
            and _is_digest(value.get("hash")) and _is_digest(value.get("prev")))


def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and not value.strip("0123456789abcdef")


class AuditLog:
    """An append-only, hash-chained JSON Lines file, rotated into numbered segments at `max_bytes`
    (0: never rotate)."""

    def __init__(self, path: str, *, key: bytes | None = None, max_bytes: int | None = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.key = key
        self.max_bytes = max_bytes or 0

    def append(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Append one record; returns it with seq, prev, hash. Raises AuditError if it cannot be made durable."""
        if not _RESERVED.isdisjoint(fields):
            raise ValueError(f"audit fields may not set {sorted(_RESERVED.intersection(fields))}: the log sets them")
        recovered = None
        for _ in range(_OPEN_ATTEMPTS):
            fd = self._open_locked()
            if fd is None:
                continue  # rotated (or removed) while we waited for the lock: lock the new active file
            try:
                size = os.fstat(fd).st_size
                prev_hash, prev_seq, size, recovered_now = self._tail(fd, size)
                recovered = recovered_now or recovered  # kept when a rotation makes us start again
                record: dict[str, Any] = {"v": SCHEMA_VERSION, "seq": prev_seq + 1, "ts": utc_now(), **fields,
                                          "prev": prev_hash}
                if recovered:
                    record["recovered"] = recovered
                data = self._line(record)
                if self.max_bytes and size > 0 and size + len(data) > self.max_bytes:
                    self._rotate(fd)
                    continue
                self._write_record(fd, data, size)
                return record
            finally:
                os.close(fd)
        raise AuditError(f"audit log {self.path} kept changing while waiting for its lock")

    def _line(self, record: dict[str, Any]) -> bytes:
        """The record's line: its canonical bytes with `hash` (and `hmac`) added before the closing brace, so the
        record is serialised once."""
        body = canonical(record)
        digest = _sha256(body).hexdigest()
        record["hash"] = digest
        tail = b',"hash":"' + digest.encode("ascii") + b'"'
        if self.key is not None:
            record["hmac"] = hmac_sha256(self.key, body)
            tail += b',"hmac":"' + record["hmac"].encode("ascii") + b'"'
        return body[:-1] + tail + b"}\n"

    # --- opening and locking -------------------------------------------------------------------------------

    def _open_locked(self) -> int | None:
        """Open (creating if needed) and exclusively lock the active segment. None when the path no longer names
        the locked file once the lock is held (rotated meanwhile): the caller starts again."""
        flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        created = False
        try:
            try:
                fd = os.open(self.path, flags)
            except FileNotFoundError:
                self._make_directory()
                fd = os.open(self.path, flags | os.O_CREAT, 0o600)
                created = True
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self.path}: {exc.strerror}") from None
        try:
            held = os.fstat(fd)
            if not (stat.S_ISREG(held.st_mode) or stat.S_ISCHR(held.st_mode)):
                # a FIFO or socket would block the gate forever, or swallow records
                raise AuditError(f"audit log {self.path} is not a regular file")
            if created:
                _fsync_directory(os.path.dirname(os.path.abspath(self.path)))
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                named = os.stat(self.path)
            except FileNotFoundError:
                named = None
            if named is None or (named.st_dev, named.st_ino) != (held.st_dev, held.st_ino):
                os.close(fd)
                return None
            return fd
        except OSError as exc:
            os.close(fd)
            raise AuditError(f"cannot lock audit log {self.path}: {exc.strerror}") from None
        except BaseException:
            os.close(fd)
            raise

    def _make_directory(self) -> None:
        """Create missing parent directories (0700) and make each creation durable in its own parent."""
        directory = os.path.dirname(os.path.abspath(self.path))
        missing = []
        while directory and not os.path.isdir(directory):
            missing.append(directory)
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        for created in reversed(missing):
            try:
                os.mkdir(created, 0o700)
            except FileExistsError:
                continue
            _fsync_directory(os.path.dirname(created))

    # --- the end of the chain ------------------------------------------------------------------------------

    def _tail(self, fd: int, size: int) -> tuple[str, int, int, dict[str, Any] | None]:
        """(hash, seq) of the last complete record, the size of the file up to it, and what crash recovery did.
        A torn final line (a writer killed mid-write, or power lost) is moved to the quarantine file first."""
        if size == 0:
            return (*self._tail_of_previous_segment(), 0, None)
        end_chunk = os.pread(fd, min(size, TAIL_READ), size - min(size, TAIL_READ))
        recovered = None
        if not end_chunk.endswith(b"\n"):
            torn_start = _line_start(fd, size, end_chunk)
            if torn_start == 0:
                prev_hash, prev_seq = self._tail_of_previous_segment()
            else:
                prev_hash, prev_seq = self._last_record(fd, torn_start)
            recovered = self._quarantine(fd, torn_start, size, prev_seq, prev_hash)
            return prev_hash, prev_seq, torn_start, recovered
        return (*self._last_record(fd, size, end_chunk), size, None)

    def _last_record(self, fd: int, end: int, end_chunk: bytes | None = None) -> tuple[str, int]:
        """The record on the line that ends (with its newline) at offset `end`."""
        if end_chunk is None or len(end_chunk) < min(end, TAIL_READ):
            end_chunk = os.pread(fd, min(end, TAIL_READ), end - min(end, TAIL_READ))
        start = _line_start(fd, end - 1, end_chunk[:-1])
        line = end_chunk[start - end:] if end - start <= len(end_chunk) else os.pread(fd, end - start, start)
        return self._chain_end(line, self.path)

    def _chain_end(self, line: bytes, where: str) -> tuple[str, int]:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not is_record(record):
            # Continuing after something that is not a record would start a second chain (seq 1, genesis prev)
            # in the middle of the log, or chain to a hash nobody wrote: refuse instead.
            raise AuditError(f"audit log {where} ends with a line that is not an audit record; nothing was "
                             f"appended (run `capfence audit verify {self.path}`)")
        return record["hash"], record["seq"]

    def _tail_of_previous_segment(self) -> tuple[str, int]:
        """The chain continues across rotation: an empty active segment follows the newest rotated one."""
        numbers = segment_numbers(self.path)
        if not numbers:
            return GENESIS, 0
        previous = segment_path(self.path, numbers[-1])
        try:
            fd = os.open(previous, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise AuditError(f"cannot read audit segment {previous}: {exc.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            chunk = os.pread(fd, min(size, TAIL_READ), size - min(size, TAIL_READ))
            if not chunk.endswith(b"\n"):
                raise AuditError(f"audit segment {previous} does not end with a complete record; nothing was "
                                 f"appended (run `capfence audit verify {self.path}`)")
            start = _line_start(fd, size - 1, chunk[:-1])
            line = chunk[start - size:] if size - start <= len(chunk) else os.pread(fd, size - start, start)
            return self._chain_end(line, previous)
        finally:
            os.close(fd)

    def _quarantine(self, fd: int, start: int, end: int, after_seq: int, after_hash: str) -> dict[str, Any]:
        """Move a torn final line aside, so the chain continues from the last good record and nothing is silently
        dropped. The quarantine entry is durable before the log is cut."""
        torn = os.pread(fd, end - start, start)
        digest = _sha256(torn).hexdigest()
        entry = {"ts": utc_now(), "offset": start, "length": len(torn), "sha256": digest, "after_seq": after_seq,
                 "after_hash": after_hash, "text": torn.decode("utf-8", "backslashreplace")}
        quarantine = quarantine_path(self.path)
        try:
            existed = os.path.exists(quarantine)
            qfd = os.open(quarantine, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600)
            try:
                _write_all(qfd, (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
                os.fsync(qfd)
            finally:
                os.close(qfd)
            if not existed:
                _fsync_directory(os.path.dirname(os.path.abspath(quarantine)))
            os.ftruncate(fd, start)
            os.fsync(fd)
        except OSError as exc:
            raise AuditError(f"cannot quarantine a torn record in {self.path}: {exc.strerror}") from None
        return {"offset": start, "length": len(torn), "sha256": digest}

    # --- writing and rotating ------------------------------------------------------------------------------

    def _write_record(self, fd: int, data: bytes, size: int) -> None:
        try:
            self._write_all(fd, data)
            os.fsync(fd)
        except OSError as exc:
            try:  # leave no torn line behind when we can (disk full after a partial write)
                os.ftruncate(fd, size)
            except OSError:  # a device such as /dev/full cannot be truncated; the next writer quarantines instead
                pass
            raise AuditError(f"cannot write audit log {self.path}: {exc.strerror}") from None

    def _write_all(self, fd: int, data: bytes) -> None:
        # A method so a test can slow it down to land SIGKILL mid-write; production pays one attribute lookup.
        _write_all(fd, data)

    def _rotate(self, fd: int) -> None:
        """Rename the locked active segment to the next number. Writers waiting on its lock see the path moved
        and start again on a new active file, whose first record chains to this segment's last."""
        numbers = segment_numbers(self.path)
        target = segment_path(self.path, (numbers[-1] if numbers else 0) + 1)
        try:
            if os.path.lexists(target):  # never clobber a segment (a stray file with a gap in the numbers)
                raise AuditError(f"cannot rotate audit log {self.path}: {target} already exists")
            os.rename(self.path, target)
            _fsync_directory(os.path.dirname(os.path.abspath(self.path)))
        except OSError as exc:
            raise AuditError(f"cannot rotate audit log {self.path}: {exc.strerror}") from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _line_start(fd: int, end: int, chunk: bytes) -> int:
    """Offset where the line containing byte `end - 1` starts; `chunk` holds the bytes just before `end` (any
    amount). Reads further back, in TAIL_READ steps, for a line longer than the chunk."""
    pos = end - len(chunk)
    while True:
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return pos + cut + 1
        if pos == 0:
            return 0
        step = min(pos, TAIL_READ)
        pos -= step
        chunk = os.pread(fd, step, pos)


def _fsync_directory(directory: str) -> None:
    """Make a name (a new file, a rename) durable: fsync the directory that holds it."""
    try:
        dfd = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise AuditError(f"cannot open directory {directory} to sync it: {exc.strerror}") from None
    try:
        os.fsync(dfd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):  # filesystems that cannot sync directories
            raise AuditError(f"cannot sync directory {directory}: {exc.strerror}") from None
    finally:
        os.close(dfd)
