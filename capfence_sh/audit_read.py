"""Reading the audit log: its segments in order, line by line (never the whole log in memory), backwards for
`tail`, following new records across rotation, filtering and counting. Reading is lenient: a line that is not a
record is skipped here; `audit_verify` is the strict reader that reports it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from typing import Any, BinaryIO, Callable, Iterator

from capfence_sh.audit import TAIL_READ, is_record, quarantine_path, segment_numbers, segment_path
from capfence_sh.errors import AuditError


@dataclass(frozen=True, slots=True)
class Segment:
    path: str
    number: int | None  # None for the active segment

    @property
    def active(self) -> bool:
        return self.number is None

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


@dataclass(frozen=True, slots=True)
class LogLine:
    segment: Segment
    lineno: int  # 1-based, within its segment
    offset: int  # byte offset of the line's start, within its segment
    raw: bytes  # without the newline
    terminated: bool  # False only for a final line without its newline (a torn write)


def log_segments(path: str) -> list[Segment]:
    """Every segment of the log, oldest first: the rotated ones by number, then the active file."""
    segments = [Segment(segment_path(path, n), n) for n in segment_numbers(path)]
    if os.path.exists(path):
        segments.append(Segment(path, None))
    return segments


class LogSnapshot:
    """The segments of a log as they are now, with the active file already open: a rotation while the log is
    being read cannot make a reader skip the segment it turned into (the open file is read to its end)."""

    def __init__(self, segments: list[Segment], active: BinaryIO | None) -> None:
        self.segments = segments
        self.active = active

    def close(self) -> None:
        if self.active is not None:
            self.active.close()

    def __enter__(self) -> LogSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lines(self) -> Iterator[LogLine]:
        for segment in self.segments:
            if segment.active:
                assert self.active is not None
                yield from _lines_of(segment, self.active)
                continue
            try:
                handle = open(segment.path, "rb")
            except OSError as exc:  # segments are never renamed or removed by capfence once written
                raise AuditError(f"cannot read {segment.path}: {exc.strerror}") from None
            with handle:
                yield from _lines_of(segment, handle)


def open_log(path: str) -> LogSnapshot:
    """A snapshot of the log at `path`; AuditError when there is none."""
    for _ in range(16):
        try:
            active: BinaryIO | None = open(path, "rb")
        except FileNotFoundError:
            active = None
        except OSError as exc:
            raise AuditError(f"cannot read {path}: {exc.strerror}") from None
        numbers = segment_numbers(path)
        if active is not None and numbers:
            held = os.fstat(active.fileno())
            try:
                newest = os.stat(segment_path(path, numbers[-1]))
            except FileNotFoundError:
                newest = None
            if newest is not None and (newest.st_dev, newest.st_ino) == (held.st_dev, held.st_ino):
                active.close()  # rotated between the open and the listing: look again
                continue
        segments = [Segment(segment_path(path, n), n) for n in numbers]
        if active is not None:
            segments.append(Segment(path, None))
        if not segments:
            raise AuditError(f"no audit log at {path}")
        return LogSnapshot(segments, active)
    raise AuditError(f"audit log {path} kept rotating while being opened; run again")


def _lines_of(segment: Segment, handle: BinaryIO) -> Iterator[LogLine]:
    offset = 0
    for lineno, raw in enumerate(handle, 1):
        terminated = raw.endswith(b"\n")
        yield LogLine(segment, lineno, offset, raw[:-1] if terminated else raw, terminated)
        offset += len(raw)


def parse_record(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if is_record(value) else None


def iter_records(path: str) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """(line as stored, record) for every record of the log, oldest first, streaming."""
    with open_log(path) as log:
        for line in log.lines():
            if line.terminated:
                record = parse_record(line.raw)
                if record is not None:
                    yield line.raw, record


def read_quarantine(path: str) -> list[dict[str, Any]]:
    """Entries of the quarantine file (torn lines moved aside by crash recovery), without their text."""
    entries = []
    try:
        handle = open(quarantine_path(path), "rb")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise AuditError(f"cannot read {quarantine_path(path)}: {exc.strerror}") from None
    with handle:
        for raw in handle:
            try:
                entry = json.loads(raw)
            except ValueError:
                entries.append({"damaged": True})
                continue
            if isinstance(entry, dict):
                entries.append({k: entry.get(k) for k in ("ts", "offset", "length", "sha256", "after_seq")})
    return entries


# --- backwards and forwards, for `tail` ---------------------------------------------------------------------


def reversed_lines(path: str, end: int | None = None) -> Iterator[bytes]:
    """Complete lines of one file, last first, ending at offset `end` (default: its size). An unterminated final
    line is skipped: it is a write in progress or a torn one."""
    with open(path, "rb") as handle:
        pos = os.fstat(handle.fileno()).st_size if end is None else end
        # Stop at the last newline: what follows it is not a complete line.
        while pos > 0:
            step = min(pos, TAIL_READ)
            handle.seek(pos - step)
            cut = handle.read(step).rfind(b"\n")
            if cut >= 0:
                pos = pos - step + cut
                break
            pos -= step
        else:
            return
        pending = b""
        while pos > 0:
            step = min(pos, TAIL_READ)
            pos -= step
            handle.seek(pos)
            parts = (handle.read(step) + pending).split(b"\n")
            pending = parts[0]
            yield from reversed(parts[1:])
        yield pending


def last_records(path: str, count: int, active_end: int | None = None) -> list[bytes]:
    """The last `count` record lines across segments, oldest first; the active file is read up to
    `active_end`."""
    found: list[bytes] = []
    for segment in reversed(log_segments(path)):
        if len(found) >= count:
            break
        for line in reversed_lines(segment.path, active_end if segment.active else None):
            if parse_record(line) is not None:
                found.append(line)
                if len(found) >= count:
                    break
    return found[::-1]


def follow(path: str, *, backlog: int = 10, poll: float = 0.2,
           stop: Callable[[], bool] = lambda: False) -> Iterator[bytes]:
    """The last `backlog` record lines, then every record line appended from now on, across rotation and crash
    recovery, until `stop()` is true.

    Rotation renames the active file to the next segment number under the writers' lock, so once the path names
    another file, the one being read is final: it is read to its end, then the segment after it (several
    rotations may have happened between two polls), and so on up to the active file."""
    try:
        handle = open(path, "rb")
        offset = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:  # not yet written, or between a rotation and the next append
        handle, offset = None, 0
    if backlog > 0 and log_segments(path):
        yield from last_records(path, backlog, active_end=offset if handle is not None else None)
    if handle is None:
        handle = _next_file(path, None, poll, stop)
    pending = b""
    try:
        while handle is not None and not stop():
            handle.seek(offset)
            data = handle.read()
            if data:
                offset += len(data)
                lines = (pending + data).split(b"\n")
                pending = lines.pop()
                yield from (line for line in lines if parse_record(line) is not None)
                continue
            held = os.fstat(handle.fileno())
            if held.st_size < offset:  # a torn line was moved to quarantine: the file was cut back
                offset, pending = held.st_size, b""
                continue
            try:
                named = os.stat(path)
            except FileNotFoundError:
                named = None
            if named is not None and (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino):
                time.sleep(poll)
                continue
            handle.seek(offset)  # rotated: whatever was written before the rename is there now
            lines = (pending + handle.read()).split(b"\n")[:-1]
            yield from (line for line in lines if parse_record(line) is not None)
            handle.close()
            handle = _next_file(path, (held.st_dev, held.st_ino), poll, stop)
            offset, pending = 0, b""
    finally:
        if handle is not None:
            handle.close()


def _next_file(path: str, previous: tuple[int, int] | None, poll: float, stop: Callable[[], bool]):
    """The file that follows `previous` (dev, inode) in the log: the next numbered segment if it exists, else the
    active file (waited for when absent). None when `stop()` says so."""
    def identity(name: str) -> tuple[int, int] | None:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    number = None
    if previous is not None:
        number = next((n for n in reversed(segment_numbers(path)) if identity(segment_path(path, n)) == previous),
                      None)
    while not stop():
        if number is not None:
            try:
                return open(segment_path(path, number + 1), "rb")
            except FileNotFoundError:
                pass
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            time.sleep(poll)
            continue
        following = identity(segment_path(path, number + 1)) if number is not None else None
        if following is not None and following != (os.fstat(handle.fileno()).st_dev,
                                                   os.fstat(handle.fileno()).st_ino):
            handle.close()  # another rotation slipped in between: read that segment first
            continue
        return handle
    return None


# --- filters and counts ---------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h|hr|d|day|days|w|week|weeks)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400,
                 "days": 86400, "w": 604800, "week": 604800, "weeks": 604800}


def parse_since(text: str, now: float | None = None) -> str:
    """`30m`, `1h`, `2d`, `1w` ago, or an ISO date/time (local time unless it names a zone), as a timestamp in
    the log's own format, so filtering is a string comparison."""
    now = time.time() if now is None else now
    relative = _RELATIVE.match(text)
    if relative:
        moment = datetime.fromtimestamp(now, timezone.utc) - timedelta(
            seconds=int(relative.group(1)) * _UNIT_SECONDS[relative.group(2).lower()])
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
        except ValueError:
            raise ValueError(f"--since {text!r}: give a duration such as 30m, 1h, 2d, or an ISO date/time "
                             f"such as 2024-05-01 or 2024-05-01T14:30Z") from None
        if moment.tzinfo is None:
            moment = moment.astimezone()  # local time, as `journalctl --since` reads it
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which decision records `show` lists. Text conditions are shell-style globs (an exact name is one)."""

    decision: str | None = None
    actor: str | None = None
    since: str | None = None  # a timestamp in the log's format
    rule: str | None = None
    program: str | None = None

    def matches(self, record: dict[str, Any]) -> bool:
        if record.get("kind") != "decision":
            return False
        if self.decision and record.get("decision") != self.decision:
            return False
        if self.since and str(record.get("ts", "")) < self.since:
            return False
        if self.actor and not fnmatchcase(str(record.get("actor", "")), self.actor):
            return False
        if self.rule and not fnmatchcase(str(record.get("rule", "")), self.rule):
            return False
        if self.program and not any(fnmatchcase(p, self.program) for p in record_programs(record)):
            return False
        return True


def record_programs(record: dict[str, Any]) -> list[str]:
    actions = record.get("actions")
    if not isinstance(actions, list):
        return []
    programs = [str(a.get("program")) for a in actions if isinstance(a, dict) and a.get("program")]
    return list(dict.fromkeys(programs))


def blocked(record: dict[str, Any]) -> bool:
    """Stopped by the gate: a non-allow decision in enforce mode (observe mode lets everything run)."""
    return record.get("decision") not in (None, "allow") and record.get("mode") != "observe"


def would_block_in_observe(record: dict[str, Any]) -> bool:
    return bool(record.get("would_block")) and record.get("mode") == "observe"


@dataclass
class AuditStats:
    records: int = 0
    decisions: Counter = field(default_factory=Counter)
    outcomes: int = 0
    failed_outcomes: int = 0  # exit status other than 0, or killed by a signal
    by_rule: Counter = field(default_factory=Counter)
    by_actor: Counter = field(default_factory=Counter)
    by_program: Counter = field(default_factory=Counter)
    denied_commands: Counter = field(default_factory=Counter)
    observe_would_block: Counter = field(default_factory=Counter)  # by rule
    observe_would_block_commands: Counter = field(default_factory=Counter)
    first_ts: str = ""
    last_ts: str = ""

    def add(self, record: dict[str, Any]) -> None:
        self.records += 1
        ts = str(record.get("ts", ""))
        self.first_ts = self.first_ts or ts
        self.last_ts = ts or self.last_ts
        if record.get("kind") == "outcome":
            self.outcomes += 1
            if record.get("exit_status") not in (0, None) or record.get("signal"):
                self.failed_outcomes += 1
            return
        if record.get("kind") != "decision":
            return
        self.decisions[str(record.get("decision"))] += 1
        self.by_rule[str(record.get("rule"))] += 1
        self.by_actor[str(record.get("actor"))] += 1
        for program in record_programs(record):
            self.by_program[program] += 1
        if blocked(record):
            self.denied_commands[str(record.get("command", ""))] += 1
        if would_block_in_observe(record):
            self.observe_would_block[str(record.get("rule"))] += 1
            self.observe_would_block_commands[str(record.get("command", ""))] += 1

    def as_dict(self, top: int = 10) -> dict[str, Any]:
        return {
            "records": self.records,
            "decisions": dict(self.decisions.most_common()),
            "outcomes": {"total": self.outcomes, "failed": self.failed_outcomes},
            "by_rule": dict(self.by_rule.most_common()),
            "by_actor": dict(self.by_actor.most_common()),
            "by_program": dict(self.by_program.most_common(top * 3)),
            "top_denied_commands": [{"command": c, "count": n} for c, n in self.denied_commands.most_common(top)],
            "observe_would_block": {
                "total": sum(self.observe_would_block.values()),
                "by_rule": dict(self.observe_would_block.most_common()),
                "top_commands": [{"command": c, "count": n}
                                 for c, n in self.observe_would_block_commands.most_common(top)],
            },
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
        }


def compute_stats(path: str, since: str | None = None) -> AuditStats:
    stats = AuditStats()
    for _, record in iter_records(path):
        if since is None or str(record.get("ts", "")) >= since:
            stats.add(record)
    return stats
