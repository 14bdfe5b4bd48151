"""The history the review UI browses: the decision and approval records of the audit log, newest first, without
loading the log.

`HistoryIndex` keeps, per record, only where its line is (file, offset, length, kind: 15 bytes). It is built by reading
the files backwards in chunks from where the log ended when the UI opened (so the newest page is there at once,
however large the log), and forwards for what is appended while the UI runs, across rotation. Each call does a
bounded amount of work; the UI calls it between key presses.

`HistoryView` is the index seen through a filter: the positions of the records that match, found the same way
(newest first, a bounded number per call). Only the rows on screen are read and parsed.
"""

from __future__ import annotations

import json
import os
import time
from array import array
from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, BinaryIO

from capfence_sh.audit import segment_numbers, segment_path
from capfence_sh.audit_read import parse_record
from capfence_sh.review.query import HistoryQuery

CHUNK = 1 << 20  # bytes read per step when indexing backwards
KINDS = (b'"kind":"decision"', b'"kind":"approval"')  # canonical JSON (sorted keys, no spaces) spells them so
KIND_NAMES = ("decision", "approval")
SINCE_MARGIN = 2000  # records older than `since:` in a row before a newest-first scan stops (clock steps aside)


@dataclass
class _File:
    """One file of the log. The active file is held open: when rotation renames it, the handle still reads it."""

    path: str
    handle: BinaryIO | None = None
    identity: tuple[int, int] | None = None

    def read(self, offset: int, length: int) -> bytes:
        if self.handle is None:
            self.handle = open(self.path, "rb")
        return os.pread(self.handle.fileno(), length, offset)

    def size(self) -> int:
        if self.handle is None:
            self.handle = open(self.path, "rb")
        return os.fstat(self.handle.fileno()).st_size

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class HistoryIndex:
    """Where each decision/approval record of the log is. Positions count from the newest (0) and shift as records
    arrive; ordinals are stable: appended records get 0, 1, 2, ... and the ones found backwards -1, -2, ..."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.files: list[_File] = []
        # Found backwards (newest first), and appended since the UI opened (oldest first).
        self._back = (array("H"), array("Q"), array("I"), array("B"))
        self._new = (array("H"), array("Q"), array("I"), array("B"))
        self._back_file = -1  # the file being read backwards; -1 when done
        self._back_pos = 0  # bytes before this offset are still to read in that file
        self._back_pending = b""  # the start of a line whose beginning lies before _back_pos
        self._tail_file = -1  # the file being followed for appended records
        self._tail_pos = 0
        self.error = ""
        self._open()

    # --- building -------------------------------------------------------------------------------------------

    def _open(self) -> None:
        from capfence_sh.audit_read import open_log
        from capfence_sh.errors import AuditError

        try:
            snapshot = open_log(self.path)
        except AuditError:
            return  # no log yet: followed once it appears
        for segment in snapshot.segments:
            handle = snapshot.active if segment.active else None
            entry = _File(segment.path, handle)
            if handle is not None:
                held = os.fstat(handle.fileno())
                entry.identity = (held.st_dev, held.st_ino)
            else:  # a rotated segment keeps its name and inode for good
                entry.identity = _identity(segment.path)
            self.files.append(entry)
        last = len(self.files) - 1
        end = self._complete_end(last)
        self._back_file, self._back_pos = last, end
        self._tail_file, self._tail_pos = last, end

    def _complete_end(self, file_no: int) -> int:
        """The offset just past the last newline of a file: what follows is a write in progress (or torn)."""
        f = self.files[file_no]
        size = f.size()
        pos = size
        while pos > 0:
            step = min(pos, 1 << 16)
            cut = f.read(pos - step, step).rfind(b"\n")
            if cut >= 0:
                return pos - step + cut + 1
            pos -= step
        return 0

    @property
    def complete(self) -> bool:
        """Every record that was in the log when the UI opened is indexed."""
        return self._back_file < 0

    def __len__(self) -> int:
        return len(self._back[0]) + len(self._new[0])

    @property
    def back_count(self) -> int:
        return len(self._back[0])

    @property
    def new_count(self) -> int:
        return len(self._new[0])

    def scan_back(self, deadline: float) -> bool:
        """Index older records, backwards, until `deadline` (time.monotonic). Returns whether anything was done."""
        worked = False
        while self._back_file >= 0 and time.monotonic() < deadline:
            worked = True
            f = self.files[self._back_file]
            step = min(self._back_pos, CHUNK)
            start = self._back_pos - step
            try:
                data = f.read(start, step) + self._back_pending
            except OSError as exc:
                self.error = f"cannot read {f.path}: {exc.strerror}"
                self._back_file = -1
                break
            parts = data.split(b"\n")
            if start > 0:
                self._back_pending = parts[0]
                first, offset = 1, start + len(parts[0]) + 1
            else:
                self._back_pending = b""
                first, offset = 0, 0
            found = []
            for part in parts[first:]:
                kind = _kind(part)
                if kind >= 0:
                    found.append((offset, len(part), kind))
                offset += len(part) + 1
            files, offsets, lengths, kinds = self._back
            for offset, length, kind in reversed(found):
                files.append(self._back_file)
                offsets.append(offset)
                lengths.append(length)
                kinds.append(kind)
            self._back_pos = start
            if start == 0:
                self._back_file -= 1
                if self._back_file >= 0:
                    self._back_pos = self._complete_end(self._back_file)
        return worked

    def scan_new(self) -> bool:
        """Index what was appended since the last call (across rotation). Returns whether records were found."""
        before = self.new_count
        if not self.files:
            if not os.path.exists(self.path):
                return False
            self._discover_after(None)
        for _ in range(64):  # bounded: each pass either reads a file to its end or moves to the next file
            if self._tail_file < 0:
                if not self._discover_after(len(self.files) - 1):
                    break
                continue
            f = self.files[self._tail_file]
            try:
                size = f.size()
            except OSError:
                break
            if size > self._tail_pos:
                data = f.read(self._tail_pos, min(size - self._tail_pos, 16 * CHUNK))
                cut = data.rfind(b"\n")
                if cut >= 0:
                    self._add_new(self._tail_file, self._tail_pos, data[:cut])
                    self._tail_pos += cut + 1
                    continue
            # Nothing (complete) left in this file. Is it still the active one?
            if _identity(self.path) == f.identity:
                break
            if self._tail_file < len(self.files) - 1:  # rotated away, and what followed it is already known
                self._tail_file, self._tail_pos = self._tail_file + 1, 0
                continue
            if not self._discover_after(self._tail_file):
                break
        return self.new_count > before

    def _add_new(self, file_no: int, start: int, data: bytes) -> None:
        files, offsets, lengths, kinds = self._new
        offset = start
        for part in data.split(b"\n"):
            kind = _kind(part)
            if kind >= 0:
                files.append(file_no)
                offsets.append(offset)
                lengths.append(len(part))
                kinds.append(kind)
            offset += len(part) + 1

    def _discover_after(self, file_no: int | None) -> bool:
        """The file rotated away (or none yet): add the segments written after it and the active file, and follow
        the first of them. Returns whether there was one."""
        known = {f.identity for f in self.files if f.identity is not None}
        current = self.files[file_no] if file_no is not None and file_no >= 0 else None
        start_number = 0
        if current is not None:
            for number in segment_numbers(self.path):
                if _identity(segment_path(self.path, number)) == current.identity:
                    start_number = number
        added = False
        for number in segment_numbers(self.path):
            if number <= start_number:
                continue
            ident = _identity(segment_path(self.path, number))
            if ident is None or ident in known:
                continue
            self.files.append(_File(segment_path(self.path, number), identity=ident))
            known.add(ident)
            added = True
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            handle = None
        if handle is not None:
            held = os.fstat(handle.fileno())
            if (held.st_dev, held.st_ino) in known:
                handle.close()
            else:
                self.files.append(_File(self.path, handle, (held.st_dev, held.st_ino)))
                added = True
        if not added:
            return False
        self._tail_file = (file_no + 1) if file_no is not None and file_no >= 0 else 0
        self._tail_file = min(self._tail_file, len(self.files) - 1)
        self._tail_pos = 0
        return True

    # --- reading --------------------------------------------------------------------------------------------

    def ordinal(self, position: int) -> int:
        """The stable ordinal of the record at `position` (0: the newest)."""
        new = self.new_count
        return new - 1 - position if position < new else -(position - new) - 1

    def locate(self, ordinal: int) -> tuple[int, int, int, int]:
        table, index = (self._new, ordinal) if ordinal >= 0 else (self._back, -ordinal - 1)
        return table[0][index], table[1][index], table[2][index], table[3][index]

    def kind(self, ordinal: int) -> str:
        return KIND_NAMES[self.locate(ordinal)[3]]

    def read(self, ordinal: int) -> bytes:
        file_no, offset, length, _ = self.locate(ordinal)
        return self.files[file_no].read(offset, length)

    def file_of(self, ordinal: int) -> _File:
        return self.files[self.locate(ordinal)[0]]

    def close(self) -> None:
        for f in self.files:
            f.close()


def _kind(line: bytes) -> int:
    if KINDS[0] in line:
        return 0
    if KINDS[1] in line:
        return 1
    return -1


class HistoryView:
    """The index through a filter: matching records newest first, found a bounded number at a time."""

    def __init__(self, index: HistoryIndex, query: HistoryQuery) -> None:
        self.index = index
        self.query = query
        self._new_matches = array("q")  # ordinals >= 0, ascending
        self._back_matches = array("q")  # ordinals < 0, newest first
        self._new_scanned = 0
        self._back_scanned = 0
        self._older_in_a_row = 0  # for `since:`: records older than it seen one after another
        self._cache: OrderedDict[int, dict[str, Any] | None] = OrderedDict()

    @property
    def filtered(self) -> bool:
        return not self.query.empty

    def __len__(self) -> int:
        if not self.filtered:
            return len(self.index)
        return len(self._new_matches) + len(self._back_matches)

    @property
    def complete(self) -> bool:
        """Every record of the log (as indexed) has been tested: no more rows will turn up below."""
        if not self.filtered:
            return self.index.complete
        if self._new_scanned < self.index.new_count:
            return False
        return self._stopped_early or (self.index.complete and self._back_scanned >= self.index.back_count)

    @property
    def _stopped_early(self) -> bool:
        return self._older_in_a_row >= SINCE_MARGIN

    @property
    def scanned(self) -> int:
        return len(self.index) if not self.filtered else self._new_scanned + self._back_scanned

    def scan(self, deadline: float) -> bool:
        """Test more indexed records against the filter, until `deadline`. Returns whether anything was done."""
        if not self.filtered:
            return False
        worked = False
        query = self.query
        while self._new_scanned < self.index.new_count and time.monotonic() < deadline:
            ordinal = self._new_scanned
            if self._test(ordinal, query):
                self._new_matches.append(ordinal)
            self._new_scanned += 1
            worked = True
        while (not self._stopped_early and self._back_scanned < self.index.back_count
               and time.monotonic() < deadline):
            for _ in range(64):
                if self._back_scanned >= self.index.back_count:
                    break
                ordinal = -self._back_scanned - 1
                if self._test(ordinal, query):
                    self._back_matches.append(ordinal)
                self._back_scanned += 1
            worked = True
        return worked

    def _test(self, ordinal: int, query: HistoryQuery) -> bool:
        if not query.matches_kind(self.index.kind(ordinal)):
            return False
        if not query.needs_record:
            return True
        record = self._parse(ordinal)
        if record is None:
            return False
        if query.since and ordinal < 0:
            self._older_in_a_row = self._older_in_a_row + 1 if str(record.get("ts", "")) < query.since else 0
        return query.matches(record)

    def ordinal_at(self, row: int) -> int | None:
        """The ordinal of the row-th matching record (0: the newest), or None when not (yet) known."""
        if row < 0:
            return None
        if not self.filtered:
            return self.index.ordinal(row) if row < len(self.index) else None
        new = len(self._new_matches)
        if row < new:
            return self._new_matches[new - 1 - row]
        row -= new
        return self._back_matches[row] if row < len(self._back_matches) else None

    def row_of(self, ordinal: int) -> int | None:
        """Where a record is now (rows shift as newer records arrive), or None when it does not match."""
        if not self.filtered:
            new = self.index.new_count
            return new - 1 - ordinal if ordinal >= 0 else new + (-ordinal - 1)
        new = len(self._new_matches)
        if ordinal >= 0:
            i = bisect_left(self._new_matches, ordinal)
            found = i < new and self._new_matches[i] == ordinal
            return new - 1 - i if found else None
        i = bisect_left(self._back_matches, -ordinal, key=lambda o: -o)  # newest first: ordinals descend
        found = i < len(self._back_matches) and self._back_matches[i] == ordinal
        return new + i if found else None

    def record(self, ordinal: int) -> dict[str, Any] | None:
        """The parsed record (cached: the rows on screen are parsed once, not on every refresh)."""
        if ordinal in self._cache:
            self._cache.move_to_end(ordinal)
            return self._cache[ordinal]
        return self._parse(ordinal, keep=True)

    def _parse(self, ordinal: int, keep: bool = False) -> dict[str, Any] | None:
        try:
            record = parse_record(self.index.read(ordinal))
        except (OSError, ValueError):
            record = None
        if keep:
            self._cache[ordinal] = record
            while len(self._cache) > 512:
                self._cache.popitem(last=False)
        return record


def find_outcome(index: HistoryIndex, ordinal: int, seq: int, limit: int = 1 << 18) -> dict[str, Any] | None:
    """The outcome record of decision `seq`: it follows its decision closely (written by the same gate when the
    command ends), so only the next `limit` bytes of the same file are searched."""
    f = index.file_of(ordinal)
    _, offset, length, _ = index.locate(ordinal)
    try:
        data = f.read(offset + length + 1, limit)
    except OSError:
        return None
    needle = b'"ref":%d,' % seq
    for line in data.split(b"\n"):
        if needle in line and b'"kind":"outcome"' in line:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("ref") == seq:
                return record
    return None
