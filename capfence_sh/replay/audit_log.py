"""capfence's own audit log: every segment, oldest first (audit_read), one decision record per proposed command.

The recorded `decision` is the "Original". Outcome records (how a command ended) are skipped. The gate recorded
the command with secrets redacted (`TOKEN=<redacted>`); `<redacted>` is replaced by a plain word before the
command is decided again, because its `<` and `>` would read as redirections and change the decision."""

from __future__ import annotations

import json
import os
import shlex
from typing import Any, Iterator

from capfence_sh.audit import is_record
from capfence_sh.audit_read import log_segments, open_log
from capfence_sh.decision import Decision
from capfence_sh.records import REDACTED
from capfence_sh.replay.jsonl import parse_json_line, text_field
from capfence_sh.replay.lines import LineSource
from capfence_sh.replay.proposed import MalformedLine, ProposedCommand, ReadEvent, SkippedLine, command_from_argv

REDACTED_WORD = "REDACTED"


class AuditLogReader:
    """All segments of the log at `path`, as the gate wrote them; `bytes_read` and `size` feed the progress bar."""

    def __init__(self, path: str) -> None:
        self.name = path
        self.bytes_read = 0
        self.size = 0
        for segment in log_segments(path):
            try:
                self.size += os.path.getsize(segment.path)
            except OSError:
                pass

    def __iter__(self) -> Iterator[ReadEvent]:
        with open_log(self.name) as log:
            for line in log.lines():
                self.bytes_read += len(line.raw) + 1
                where = f"{line.segment.path}:{line.lineno}"
                if not line.terminated:
                    yield SkippedLine(where, "incomplete final line")
                    continue
                yield from _events_of_line(line.raw, where)


def read_audit_lines(source: LineSource) -> Iterator[ReadEvent]:
    """One segment, or a log piped on stdin."""
    for line in source:
        value = parse_json_line(source, line)
        if isinstance(value, (SkippedLine, MalformedLine)):
            yield value
            continue
        yield from _events_of_record(value, source.where(line.number))


def _events_of_line(raw: bytes, where: str) -> Iterator[ReadEvent]:
    if not raw.strip():
        yield SkippedLine(where, "blank line")
        return
    try:
        value = json.loads(raw)
    except ValueError:
        yield MalformedLine(where, "not a valid audit record (not JSON); `capfence audit verify` says more")
        return
    yield from _events_of_record(value, where)


def _events_of_record(value: Any, where: str) -> Iterator[ReadEvent]:
    if not is_record(value):
        yield MalformedLine(where, "not an audit record (no seq, hash and prev); `capfence audit verify` says more")
        return
    if value.get("kind") != "decision":
        yield SkippedLine(where, f"{value.get('kind') or 'unknown'} record")
        return
    command = value.get("command")
    decision = value.get("decision")
    try:
        original = Decision.parse(decision) if isinstance(decision, str) else None
    except ValueError:
        original = None
    if not isinstance(command, str) or original is None:
        yield MalformedLine(where, "decision record without a command or a valid decision")
        return
    if not command.strip():
        yield SkippedLine(where, "empty command")
        return
    command = command.replace(REDACTED, REDACTED_WORD)
    fields = dict(source=where, format="audit", cwd=text_field(value, "cwd"),
                  workspace=text_field(value, "workspace"), environment=text_field(value, "environment"),
                  actor=text_field(value, "actor"), original=original, original_rule=text_field(value, "rule"),
                  timestamp=text_field(value, "ts"))
    if value.get("form") == "argv":
        try:
            argv = shlex.split(command)
        except ValueError:
            argv = []
        if argv:
            yield command_from_argv(argv, **fields)
            return
    yield ProposedCommand(text=command, **fields)
