"""The chain status and the summary counts the review UI shows, worked out beside it.

One background thread walks the log once, oldest first, with `audit_verify`'s own verifier (so the UI says
exactly what `capfence audit verify` would), counting decisions and denied programs on the way; then it follows
the log and checks each appended record's link to the one before. The UI only reads the results: a huge log
never makes it wait, it shows "verifying (n%)" until the walk is done. The result is cached for the whole
session: "is the chain intact up to seq N" is then a comparison.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from capfence_sh.audit import GENESIS, is_record, record_hash, record_hmac

_SEQ = re.compile(rb'"seq":(\d+)')  # top-level only: no nested object has a `seq` key, strings escape quotes
_DECISION = b'"kind":"decision"'
_MERGE_EVERY = 2000  # lines counted before the counts the UI reads are updated (under the lock)


@dataclass
class ChainState:
    """What the UI reads: a copy, taken under the lock."""

    verified_through: int = 0  # every record up to this seq has been verified, from seq 1
    broken_seq: int | None = None
    broken_kind: str = ""
    broken_message: str = ""
    done: bool = False  # the walk over the log as it was when the UI opened is finished
    progress: float = 0.0  # of that walk, 0..1
    error: str = ""
    records: int = 0
    decisions: Counter = field(default_factory=Counter)
    denied_programs: Counter = field(default_factory=Counter)
    hmac_checked: bool = False

    def status_of(self, seq: int) -> tuple[str, str]:
        """(state, words) for the record `seq`: state is ok, broken, pending or error."""
        if self.broken_seq is not None and (seq >= self.broken_seq or (self.done and seq > self.verified_through)):
            return "broken", f"BROKEN at seq {self.broken_seq} ({self.broken_kind}): {self.broken_message}"
        if seq <= self.verified_through:
            later = f"; the chain breaks later, at seq {self.broken_seq}" if self.broken_seq is not None else ""
            key = " and hmac" if self.hmac_checked else ""
            return "ok", f"intact from seq 1 to here (hashes, links{key} checked){later}"
        if self.error:
            return "error", f"not verified: {self.error}"
        return "pending", f"not verified yet (verified through seq {self.verified_through}" + \
            (f", {self.progress:.0%} of the log)" if not self.done else ")")


class ChainWatch:
    def __init__(self, path: str, key: bytes | None) -> None:
        self.path = path
        self.key = key
        self._lock = threading.Lock()
        self._state = ChainState(hmac_checked=key is not None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capfence-review-chain", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)

    def state(self) -> ChainState:
        with self._lock:
            s = self._state
            return ChainState(s.verified_through, s.broken_seq, s.broken_kind, s.broken_message, s.done, s.progress,
                              s.error, s.records, Counter(s.decisions), Counter(s.denied_programs), s.hmac_checked)

    # --- the thread -----------------------------------------------------------------------------------------

    def _run(self) -> None:
        from capfence_sh.audit_read import follow, log_segments
        from capfence_sh.errors import AuditError

        try:
            while not log_segments(self.path):
                self._set(done=True, progress=1.0)  # no log yet: nothing to walk
                if self._stop.wait(0.3):
                    return
            self._set(done=False, progress=0.0)
            # Follow first (it notes where the log ends now), then walk the log: a record appended in between is
            # seen twice and skipped the second time, none is missed.
            appended = follow(self.path, backlog=1, poll=0.3, stop=self._stop.is_set)
            first_followed = next(appended, None)
            if self._stop.is_set():
                return
            last_seq, last_hash = self._walk()
            if self._stop.is_set() or self._state.broken_seq is not None:
                return
            if first_followed is not None:
                appended = _chain_iter([first_followed], appended)
            self._follow(appended, last_seq, last_hash)
        except AuditError as exc:
            self._set(error=str(exc), done=True)
        except OSError as exc:
            self._set(error=f"cannot read the log: {exc.strerror}", done=True)

    def _walk(self) -> tuple[int, str]:
        from capfence_sh.audit_read import open_log
        from capfence_sh.audit_verify import verify_lines
        from capfence_sh.errors import AuditError

        try:
            snapshot = open_log(self.path)
        except AuditError:
            self._set(done=True, progress=1.0)  # no log yet: everything arrives through follow()
            return 0, GENESIS
        with snapshot:
            total = sum(_size(s.path) for s in snapshot.segments) or 1
            counting = _CountingLog(self, snapshot, total)
            # The verifier of `capfence audit verify`, over the same lines: the same verdict, the same words.
            report = verify_lines(self.path, counting, self.key)
        if self._stop.is_set():
            return 0, GENESIS
        counting.flush()
        with self._lock:
            self._state.done, self._state.progress = True, 1.0
            if report.broken is not None:
                b = report.broken
                self._state.broken_seq = b.seq if b.seq is not None else (report.last_seq or 0) + 1
                self._state.broken_kind, self._state.broken_message = b.kind, b.message
                self._state.verified_through = report.last_seq or 0
            else:
                self._state.verified_through = report.last_seq or 0
        return report.last_seq or 0, report.last_hash or GENESIS

    def _follow(self, lines: Iterator[bytes], last_seq: int, last_hash: str) -> None:
        """Records appended while the UI runs: each must be a record, hash to itself and link to the last."""
        decisions: Counter = Counter()
        denied: Counter = Counter()
        for raw in lines:
            if self._stop.is_set():
                return
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # follow() yields record lines only
            if not is_record(record) or record["seq"] <= last_seq:
                continue  # already walked
            problem = ""
            if record_hash(record) != record["hash"]:
                problem = "edited: its contents do not match its hash"
            elif self.key is not None and record.get("hmac") != record_hmac(record, self.key):
                problem = "forged: the hmac does not match"
            elif record["seq"] != last_seq + 1 or record["prev"] != last_hash:
                problem = f"does not link to seq {last_seq} (run `capfence audit verify` for details)"
            if problem:
                self._set(broken_seq=record["seq"], broken_kind="appended", broken_message=problem)
                return
            last_seq, last_hash = record["seq"], record["hash"]
            _count(record, decisions, denied)
            with self._lock:
                self._state.verified_through = last_seq
                self._state.records += 1
                self._state.decisions.update(decisions)
                self._state.denied_programs.update(denied)
            decisions.clear()
            denied.clear()

    def _set(self, **values: Any) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self._state, name, value)


class _CountingLog:
    """The snapshot as `audit_verify.verify_lines` reads it, counting as the lines go by. A line handed out has been
    checked once the next one is asked for, so the seq before it is verified."""

    def __init__(self, watch: ChainWatch, snapshot, total: int) -> None:
        self.segments = snapshot.segments
        self._snapshot = snapshot
        self._watch = watch
        self._total = total
        self._read = 0
        self._decisions: Counter = Counter()
        self._denied: Counter = Counter()
        self._records = 0
        self._checked_seq = 0
        self._since_merge = 0

    def lines(self):
        previous_seq = 0
        for line in self._snapshot.lines():
            if self._watch._stop.is_set():
                return
            self._checked_seq = previous_seq
            self._read += len(line.raw) + 1
            found = _SEQ.search(line.raw)
            previous_seq = int(found.group(1)) if found else previous_seq
            if line.terminated:
                self._records += 1
                if _DECISION in line.raw:
                    try:
                        _count(json.loads(line.raw), self._decisions, self._denied)
                    except ValueError:
                        pass  # the verifier reports it
            self._since_merge += 1
            if self._since_merge >= _MERGE_EVERY:
                self.flush()
            yield line
        self._checked_seq = previous_seq

    def flush(self) -> None:
        self._since_merge = 0
        with self._watch._lock:
            state = self._watch._state
            state.decisions.update(self._decisions)
            state.denied_programs.update(self._denied)
            state.records += self._records
            state.progress = min(self._read / self._total, 1.0)
            state.verified_through = max(state.verified_through, self._checked_seq)
        self._decisions.clear()
        self._denied.clear()
        self._records = 0


def _count(record: Any, decisions: Counter, denied: Counter) -> None:
    if not isinstance(record, dict) or record.get("kind") != "decision":
        return
    decision = str(record.get("decision"))
    decisions[decision] += 1
    if decision == "deny":
        actions = record.get("actions") if isinstance(record.get("actions"), list) else []
        programs = {str(a.get("program")) for a in actions
                    if isinstance(a, dict) and a.get("decision") == "deny" and a.get("program")}
        for program in programs or {"?"}:
            denied[program] += 1


def _chain_iter(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
