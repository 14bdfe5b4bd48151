"""From the INPUT arguments to streams of read events: files, directories (walked recursively, keeping the files
whose format is recognised), `-` for stdin. Each input is opened lazily, one at a time, and read line by line.

What cannot be read is reported (an `UnreadableInput`) and the other inputs are still replayed."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from capfence_sh.audit import segment_numbers
from capfence_sh.replay.audit_log import AuditLogReader, read_audit_lines
from capfence_sh.replay.bash_history import read_bash_history
from capfence_sh.replay.claude import read_claude
from capfence_sh.replay.codex import read_codex
from capfence_sh.replay.detect import HEAD_BYTES, HEAD_LINES, Detected, detect_format
from capfence_sh.replay.jsonl import read_jsonl
from capfence_sh.replay.lines import LineSource
from capfence_sh.replay.proposed import ReadEvent
from capfence_sh.replay.text import read_text
from capfence_sh.replay.zsh_history import read_zsh_history

READERS: dict[str, Callable[[LineSource], Iterator[ReadEvent]]] = {
    "audit": read_audit_lines,
    "jsonl": read_jsonl,
    "text": read_text,
    "bash-history": read_bash_history,
    "zsh-history": read_zsh_history,
    "claude": read_claude,
    "codex": read_codex,
}
STDIN = "-"
STDIN_NAME = "<stdin>"
_SEGMENT = re.compile(r"^(.*)\.(\d+)$")
# Directories that never hold sessions and can be huge.
_SKIP_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv", ".hg", ".svn"})


class OpenInput:
    """One input being read: its events, and how far through it the reading is (for the progress bar)."""

    def __init__(self, name: str, format: str, events: Iterator[ReadEvent], progress) -> None:
        self.name = name
        self.format = format
        self.events = events
        self._progress = progress  # has .bytes_read and .size (None when unknown)

    @property
    def bytes_read(self) -> int:
        return self._progress.bytes_read

    @property
    def size(self) -> int | None:
        return self._progress.size


@dataclass(frozen=True, slots=True)
class UnreadableInput:
    name: str
    problem: str


@dataclass(frozen=True, slots=True)
class IgnoredFile:
    """A file inside a directory input whose format is not recognised: counted, not an error."""

    name: str
    why: str


InputEvent = OpenInput | UnreadableInput | IgnoredFile


def open_inputs(names: list[str], format: str = "auto", *, stdin: BinaryIO | None = None) -> Iterator[InputEvent]:
    """Each input in turn, its format detected from its first lines; its lines are read when its events are."""
    seen: set[str] = set()
    for name in names:
        if name == STDIN:
            yield from _open_stream(STDIN_NAME, stdin if stdin is not None else sys.stdin.buffer, format)
        elif os.path.isdir(name):
            for path in _walk(name):
                yield from _open_file(path, format, seen, in_directory=True)
        else:
            yield from _open_file(name, format, seen, in_directory=False)


def total_size(names: list[str]) -> int | None:
    """Bytes in all the inputs (None when one is a stream): the progress bar's total."""
    total = 0
    for name in names:
        if name == STDIN:
            return None
        if os.path.isdir(name):
            for path in _walk(name):
                total += _size(path)
        else:
            total += _size(name) + sum(_size(f"{name}.{n}") for n in segment_numbers(name))
    return total


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _walk(top: str) -> Iterator[str]:
    for root, dirs, files in os.walk(top, onerror=None):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for file in sorted(files):
            yield os.path.join(root, file)


def _read_head(handle: BinaryIO, *, whole_lines: bool) -> list[bytes]:
    head: list[bytes] = []
    total = 0
    while len(head) < HEAD_LINES and total < HEAD_BYTES:
        raw = handle.readline() if whole_lines else handle.readline(HEAD_BYTES)
        if not raw:
            break
        head.append(raw)
        total += len(raw)
    return head


def _open_file(path: str, format: str, seen: set[str], *, in_directory: bool) -> Iterator[InputEvent]:
    real = os.path.realpath(path)
    if real in seen:
        return
    if not os.path.exists(path):
        if segment_numbers(path) and format in ("auto", "audit"):
            # An audit log whose active file is not there (yet): its rotated segments are.
            seen.add(real)
            reader = AuditLogReader(path)
            yield OpenInput(path, "audit", iter(reader), reader)
            return
        yield UnreadableInput(path, "no such file or directory")
        return
    try:
        with open(path, "rb") as handle:
            head = _read_head(handle, whole_lines=False)
    except OSError as exc:
        yield UnreadableInput(path, f"cannot read: {exc.strerror}")
        return
    detected = detect_format(path, head) if format == "auto" else Detected(format, True)
    chosen = detected.format
    if chosen is None or (in_directory and not detected.certain):
        if in_directory:
            yield IgnoredFile(path, detected.why or "format not recognised")
        else:
            yield UnreadableInput(path, f"cannot tell its format ({detected.why}); name it with --format")
        return
    if chosen == "audit":
        base = _log_base(path, in_directory=in_directory)
        if base is not None:
            if os.path.realpath(base) in seen:
                return  # its log was read whole already
            seen.update(os.path.realpath(p) for p in _log_files(base))
            reader = AuditLogReader(base)
            yield OpenInput(base, "audit", iter(reader), reader)
            return
    seen.add(real)
    # Opened again when its events are read (and closed when they end): a directory of thousands of transcripts
    # never holds more than one file open, however the events are consumed.
    source = LineSource(path, None, size=_size(path))
    yield OpenInput(path, chosen, READERS[chosen](source), source)


def _log_base(path: str, *, in_directory: bool) -> str | None:
    """The log whose segments are all read, in order, for this file: the file itself when it is a log's active
    file, the log it belongs to when it is a rotated segment met in a directory; None for a rotated segment named
    on its own (then only that segment is read)."""
    match = _SEGMENT.match(path)
    if match and int(match.group(2)) in segment_numbers(match.group(1)):
        return match.group(1) if in_directory else None
    return path


def _log_files(base: str) -> list[str]:
    return [base] + [f"{base}.{n}" for n in segment_numbers(base)]


def _open_stream(name: str, handle: BinaryIO, format: str) -> Iterator[InputEvent]:
    try:
        head = _read_head(handle, whole_lines=True)
    except OSError as exc:
        yield UnreadableInput(name, f"cannot read: {exc.strerror}")
        return
    detected = detect_format(name, head) if format == "auto" else Detected(format, True)
    if detected.format is None:
        yield UnreadableInput(name, f"cannot tell its format ({detected.why}); name it with --format")
        return
    source = LineSource(name, handle, head=head)
    yield OpenInput(name, detected.format, READERS[detected.format](source), source)
