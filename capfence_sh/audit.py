"""The audit log: one JSON line per decision, hash-chained, appended under an exclusive lock and fsynced before
the gate lets anything run.

Record: `v` (schema), `seq`, `ts` (UTC), `kind` ("decision" or "outcome"), the decision's fields, `prev` (hash of
the previous record) and `hash` (SHA-256 of the record's canonical JSON without `hash`/`hmac`: sorted keys, no
whitespace). With a key file, `hmac` (HMAC-SHA256 over the same bytes) authenticates each record.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from typing import Any

from capfence_sh.errors import AuditError

SCHEMA_VERSION = 1
GENESIS = "0" * 64
TAIL_READ = 1 << 16

try:  # the builtin C module: hashlib would load OpenSSL (~4 ms) on every gated command
    from _sha256 import sha256 as _sha256
except ImportError:  # pragma: no cover - Python 3.12+ renamed it
    try:
        from _sha2 import sha256 as _sha256  # type: ignore[no-redef]
    except ImportError:
        from hashlib import sha256 as _sha256  # type: ignore[no-redef]


def canonical(record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k not in ("hash", "hmac")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_hash(record: dict[str, Any]) -> str:
    return _sha256(canonical(record)).hexdigest()


def record_hmac(record: dict[str, Any], key: bytes) -> str:
    import hmac

    return hmac.new(key, canonical(record), _sha256).hexdigest()


def utc_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1_000_000):06d}Z"


class AuditLog:
    """An append-only, hash-chained JSON Lines file."""

    def __init__(self, path: str, *, key: bytes | None = None) -> None:
        self.path = path
        self.key = key

    def append(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Append one record; returns it with seq, prev, hash. Raises AuditError if it cannot be made durable."""
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self.path}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                raise AuditError(f"cannot lock audit log {self.path}: {exc.strerror}") from None
            prev_hash, prev_seq = self._tail(fd)
            record = {"v": SCHEMA_VERSION, "seq": prev_seq + 1, "ts": utc_now(), **fields, "prev": prev_hash}
            record["hash"] = record_hash(record)
            if self.key is not None:
                record["hmac"] = record_hmac(record, self.key)
            line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
            data = line.encode("utf-8")
            try:
                written = os.write(fd, data)
                while written < len(data):
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            except OSError as exc:
                raise AuditError(f"cannot write audit log {self.path}: {exc.strerror}") from None
            return record
        finally:
            os.close(fd)

    def _tail(self, fd: int) -> tuple[str, int]:
        """Hash and seq of the last complete record; a torn final line is moved aside first."""
        size = os.fstat(fd).st_size
        if size == 0:
            return GENESIS, 0
        start = max(0, size - TAIL_READ)
        chunk = os.pread(fd, size - start, start)
        while True:
            if not chunk.endswith(b"\n"):
                cut = chunk.rfind(b"\n")
                torn_start = start + cut + 1 if cut >= 0 else start
                if cut < 0 and start > 0:
                    start = max(0, start - TAIL_READ)
                    chunk = os.pread(fd, size - start, start)
                    continue
                self._quarantine(fd, torn_start, size)
                size = torn_start
                if size == 0:
                    return GENESIS, 0
                chunk = chunk[: cut + 1]
            lines = chunk.rstrip(b"\n").rsplit(b"\n", 1)
            last = lines[-1]
            if len(lines) == 1 and start > 0:
                start = max(0, start - TAIL_READ)
                chunk = os.pread(fd, size - start, start)
                continue
            try:
                record = json.loads(last)
                return str(record["hash"]), int(record["seq"])
            except (ValueError, KeyError, TypeError) as exc:
                raise AuditError(f"audit log {self.path} ends with a damaged record ({exc}); "
                                 f"run `capfence audit verify`") from None

    def _quarantine(self, fd: int, start: int, end: int) -> None:
        """Move a torn final line (a writer killed mid-write) aside, so the chain continues from the last good
        record and nothing is silently dropped."""
        torn = os.pread(fd, end - start, start)
        quarantine = self.path + ".quarantine"
        entry = json.dumps({"ts": utc_now(), "offset": start, "bytes": torn.decode("utf-8", "replace")},
                           ensure_ascii=False) + "\n"
        try:
            qfd = os.open(quarantine, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(qfd, entry.encode("utf-8"))
                os.fsync(qfd)
            finally:
                os.close(qfd)
            os.ftruncate(fd, start)
            os.fsync(fd)
        except OSError as exc:
            raise AuditError(f"cannot quarantine a torn record in {self.path}: {exc.strerror}") from None
