"""Verifying the audit log: walk every segment in order, check each record's hash, its link to the one before
(`prev`), its `seq`, and with a key its `hmac`; report the first broken link, classified.

What a chain can prove, and what it cannot:
- Without a key, the chain shows that the log is internally consistent. Editing, deleting, inserting or
  reordering records in the middle (or at the start) breaks it. Whoever can write the file can still rewrite it
  end to end with fresh hashes, append well-formed forgeries, or cut whole records off the end.
- With the key (HMAC-SHA256 over each record, the key in a file the agent cannot read), a rewritten chain or a
  forged record is detected: each record's hmac is checked.
- Cutting records off the end leaves a shorter valid chain. Only an anchor kept elsewhere catches it: `verify`
  prints the last seq and hash; `verify --anchor SEQ:HASH` later checks that record is still there, unchanged.
"""

from __future__ import annotations

import hmac as _hmac
import json
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Iterator

from capfence_sh.audit import GENESIS, is_record, record_hash, record_hmac
from capfence_sh.audit_read import LogLine, Segment, open_log, read_quarantine

LOOKAHEAD = 256  # lines read past a break to tell a reordering from a deletion

# Classifications of a broken link, in the words a reviewer reads.
EDITED = "edited"  # contents no longer match the record's own hash
EDITED_REHASHED = "edited_rehashed"  # a record changed and its hash recomputed: the next one no longer links to it
DELETED = "deleted"  # records missing in the middle
INSERTED = "inserted"  # a record that is not part of the chain sits between two that are
DUPLICATED = "duplicated"  # the same record twice
REORDERED = "reordered"  # records out of order (swapped or moved)
SEQ_GAP = "seq_gap"  # the link is intact but seq jumps: written by something that is not capfence
MISSING_START = "missing_start"  # the first record present is not seq 1: records or segments cut from the start
MISSING_SEGMENT = "missing_segment"  # a numbered segment is absent
TRUNCATED = "truncated"  # records cut off the end (found only against an anchor)
ANCHOR_MISMATCH = "anchor_mismatch"  # the anchored record has another hash: the chain was rewritten
FORGED = "forged"  # hmac wrong: forged, or the chain rewritten by someone without the key
HMAC_MISSING = "hmac_missing"  # no hmac although a key is given
DAMAGED = "damaged"  # a line that is not JSON
NOT_A_RECORD = "not_a_record"  # JSON, but without seq/prev/hash
TORN_SEGMENT = "torn_segment"  # a rotated segment ending in a partial line (a rotated segment is always complete)


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        seq, sep, digest = text.partition(":")
        digest = digest.strip().lower()
        if not sep or not seq.strip().isdigit() or len(digest) != 64 or digest.strip("0123456789abcdef"):
            raise ValueError(f"anchor {text!r}: expected SEQ:HASH, as printed by `capfence audit verify`")
        return cls(int(seq), digest)


@dataclass(frozen=True, slots=True)
class Break:
    kind: str
    message: str
    segment: str  # path of the segment holding the line
    line: int
    offset: int
    seq: int | None  # the seq found on the line, when it is a record
    expected_seq: int | None = None
    found_seq: int | None = None
    expected_prev: str | None = None
    found_prev: str | None = None
    expected_hash: str | None = None  # what the line's contents hash to
    found_hash: str | None = None  # what the line says its hash is
    related: str = ""  # another line the classification points to ("line 12 of audit.jsonl.2")

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass
class VerifyReport:
    path: str
    segments: list[str] = field(default_factory=list)
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    kinds: Counter = field(default_factory=Counter)
    decisions: Counter = field(default_factory=Counter)
    hmac_checked: bool = False
    hmac_present: int = 0  # records that carry an hmac (checked only with the key)
    anchors_checked: int = 0
    torn_tail: dict[str, Any] | None = None  # an unterminated final line not yet moved to quarantine
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    recovered: list[dict[str, Any]] = field(default_factory=list)  # records that say a torn line was moved aside
    warnings: list[str] = field(default_factory=list)
    broken: Break | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "path": self.path, "segments": self.segments, "records": self.records,
            "first_seq": self.first_seq, "last_seq": self.last_seq, "last_hash": self.last_hash,
            "kinds": dict(self.kinds), "decisions": dict(self.decisions), "hmac_checked": self.hmac_checked,
            "hmac_present": self.hmac_present,
            "anchors_checked": self.anchors_checked, "torn_tail": self.torn_tail, "quarantined": self.quarantined,
            "recovered": self.recovered, "warnings": self.warnings,
            "break": self.broken.as_dict() if self.broken else None,
        }


@dataclass(frozen=True, slots=True)
class _Link:
    """A verified record: where it is and what the next one must point to."""

    seq: int
    hash: str
    segment: Segment
    line: int


def verify_log(path: str, *, key: bytes | None = None, anchors: tuple[Anchor, ...] = ()) -> VerifyReport:
    """Verify the whole log (every segment, in order). Raises AuditError when there is no log at `path`."""
    with open_log(path) as log:
        return verify_lines(path, log, key, anchors)


def verify_lines(path: str, log, key: bytes | None = None, anchors: tuple[Anchor, ...] = ()) -> VerifyReport:
    """Verify an opened log snapshot (anything with `.segments` and `.lines()`), e.g. one that reports progress."""
    segments = log.segments
    report = VerifyReport(path, [s.path for s in segments], hmac_checked=key is not None)
    expected_anchor = {a.seq: a.hash for a in anchors}
    lines = _Lookahead(log.lines())
    last: _Link | None = None
    before_last: _Link | None = None
    for line in lines:
        if not line.terminated:
            if line.segment.active:
                report.torn_tail = {"segment": line.segment.path, "offset": line.offset, "length": len(line.raw)}
                continue  # always the last line of the last file
            report.broken = _break(TORN_SEGMENT, "a rotated segment ends in a partial line (segments are closed "
                                   "only after their last record is complete): damaged or cut", line)
            break
        found = _check_line(line, key, last, before_last, lines)
        if isinstance(found, Break):
            report.broken = found
            break
        record = found
        anchor = expected_anchor.pop(record["seq"], None)
        if anchor is not None:
            report.anchors_checked += 1
            if anchor != record["hash"]:
                report.broken = _break(ANCHOR_MISMATCH, f"seq {record['seq']} has another hash than the anchor: "
                                       f"the chain was rewritten from here or earlier", line, record,
                                       expected_hash=anchor, found_hash=record["hash"])
                break
        report.records += 1
        report.first_seq = record["seq"] if report.first_seq is None else report.first_seq
        report.kinds[str(record.get("kind"))] += 1
        report.hmac_present += "hmac" in record
        if record.get("kind") == "decision":
            report.decisions[str(record.get("decision"))] += 1
        if isinstance(record.get("recovered"), dict):
            report.recovered.append({"seq": record["seq"], **record["recovered"]})
        before_last, last = last, _Link(record["seq"], record["hash"], line.segment, line.lineno)
    if last is not None:
        report.last_seq, report.last_hash = last.seq, last.hash
    if report.broken is None and expected_anchor:
        seq = min(expected_anchor)
        report.broken = Break(TRUNCATED, f"the log ends at seq {report.last_seq} but the anchor names seq {seq}: "
                              f"records were cut off the end", segments[-1].path, 0, 0, None,
                              expected_seq=seq, found_seq=report.last_seq, expected_hash=expected_anchor[seq])
    report.quarantined = read_quarantine(path)
    known = {entry.get("sha256") for entry in report.quarantined}
    missing = [r for r in report.recovered if r.get("sha256") not in known]
    if missing:
        report.warnings.append(f"{len(missing)} crash recover{'y' if len(missing) == 1 else 'ies'} recorded in the "
                               f"chain (seq {', '.join(str(r['seq']) for r in missing[:5])}) "
                               f"{'has' if len(missing) == 1 else 'have'} no entry in the quarantine file")
    return report


def _check_line(line: LogLine, key: bytes | None, last: _Link | None, before_last: _Link | None,
                lines: _Lookahead) -> dict[str, Any] | Break:
    try:
        record = json.loads(line.raw)
    except ValueError:
        return _break(DAMAGED, "the line is not valid JSON: damaged or edited", line)
    if not is_record(record):
        return _break(NOT_A_RECORD, "the line is JSON but not an audit record (no valid seq, prev and hash)", line)
    computed = record_hash(record)
    if computed != record["hash"]:
        return _break(EDITED, "the record was edited (or forged): its contents do not match its hash", line, record,
                      expected_hash=computed, found_hash=record["hash"])
    if key is not None:
        mac = record.get("hmac")
        if not isinstance(mac, str):
            return _break(HMAC_MISSING, "the record has no hmac: forged, or written without the key", line, record)
        if not _hmac.compare_digest(mac, record_hmac(record, key)):
            return _break(FORGED, "the hmac does not match: the record was forged or the chain rewritten by "
                          "someone without the key (or the key is not the one the log was written with)",
                          line, record)
    expected_seq = last.seq + 1 if last else 1
    expected_prev = last.hash if last else GENESIS
    if record["seq"] == expected_seq and record["prev"] == expected_prev:
        return record
    return _classify(line, record, last, before_last, lines, expected_seq, expected_prev)


def _classify(line: LogLine, record: dict[str, Any], last: _Link | None, before_last: _Link | None,
              lines: _Lookahead, expected_seq: int, expected_prev: str) -> Break:
    seq, prev = record["seq"], record["prev"]
    details = {"expected_seq": expected_seq, "found_seq": seq, "expected_prev": expected_prev, "found_prev": prev}
    if seq > expected_seq:
        ahead = lines.find(lambda r: r.get("seq") == expected_seq and r.get("prev") == expected_prev)
        if ahead is not None:
            return _break(REORDERED, f"records are out of order: seq {seq} comes before seq {expected_seq}, "
                          f"which is at {_where(ahead)}", line, record, related=_where(ahead), **details)
    if last is None:
        return _break(MISSING_START, f"the log does not start at its first record: it starts at seq {seq}, "
                      f"so records 1..{seq - 1} were deleted (or older segments pruned)"
                      if seq > 1 else "the first record does not start the chain (its prev is not the genesis "
                      "hash): records before it were deleted, or it was forged", line, record, **details)
    if prev == expected_prev:
        return _break(SEQ_GAP, f"seq jumps from {last.seq} to {seq} although the record links to its "
                      f"predecessor: not written by capfence", line, record, **details)
    if seq == expected_seq:
        return _break(EDITED_REHASHED, f"the record does not link to the one before it ({_where(last)}, seq "
                      f"{last.seq}): that record was altered and its hash recomputed, or replaced, or this record "
                      f"was forged", line, record, related=_where(last), **details)
    if seq > expected_seq:
        gap = _missing_segment(last.segment, line.segment)
        if gap:
            return _break(MISSING_SEGMENT, f"segment {gap} is missing: seq {expected_seq}"
                          f"{f'..{seq - 1}' if seq - expected_seq > 1 else ''} gone", line, record, **details)
        return _break(DELETED, f"record{'s' if seq - expected_seq > 1 else ''} seq {expected_seq}"
                      f"{f'..{seq - 1}' if seq - expected_seq > 1 else ''} "
                      f"{'are' if seq - expected_seq > 1 else 'is'} missing: deleted", line, record, **details)
    if record["hash"] == last.hash:
        return _break(DUPLICATED, f"the record repeats the one before it ({_where(last)})", line, record,
                      related=_where(last), **details)
    if before_last is not None and seq == last.seq and prev == before_last.hash:
        return _break(INSERTED, f"the record before this one ({_where(last)}, seq {last.seq}) is not part of the "
                      f"chain: it was inserted (forged)", line, record, related=_where(last), **details)
    if before_last is None and seq == last.seq and prev == GENESIS:
        return _break(INSERTED, f"the first record ({_where(last)}) is not part of the chain: it was inserted "
                      f"(forged)", line, record, related=_where(last), **details)
    if seq < last.seq:
        return _break(REORDERED, f"records are out of order: seq {seq} comes after seq {last.seq}", line, record,
                      **details)
    return _break(INSERTED, "the record does not belong to the chain here: inserted or forged", line, record,
                  **details)


def _missing_segment(before: Segment, after: Segment) -> str:
    """The name of a numbered segment missing between two consecutive ones, if any."""
    if before.number is None or after.number is None or after.number - before.number <= 1:
        return ""
    return f"{before.path[: -len(str(before.number))]}{before.number + 1}"


def _where(item: LogLine | _Link) -> str:
    return f"line {item.line if isinstance(item, _Link) else item.lineno} of {item.segment.name}"


def _break(kind: str, message: str, line: LogLine, record: dict[str, Any] | None = None, **details: Any) -> Break:
    return Break(kind, message, line.segment.path, line.lineno, line.offset,
                 record.get("seq") if record else None, **details)


class _Lookahead:
    """An iterator over lines that can peek ahead (bounded) to classify a break."""

    def __init__(self, lines: Iterator[LogLine]) -> None:
        self._lines = lines
        self._buffer: deque[LogLine] = deque()

    def __iter__(self) -> _Lookahead:
        return self

    def __next__(self) -> LogLine:
        if self._buffer:
            return self._buffer.popleft()
        return next(self._lines)

    def find(self, wanted) -> LogLine | None:
        while len(self._buffer) < LOOKAHEAD:
            try:
                self._buffer.append(next(self._lines))
            except StopIteration:
                break
        for line in self._buffer:
            try:
                record = json.loads(line.raw)
            except ValueError:
                continue
            if isinstance(record, dict) and wanted(record):
                return line
        return None
