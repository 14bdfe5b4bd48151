"""Plain text: one command per line. A line ending in an unescaped backslash continues on the next (as in the
shell, the backslash-newline is kept: the parser reads it as bash does); blank lines and comment-only lines are
skipped."""

from __future__ import annotations

from typing import Iterator

from capfence_sh.replay.lines import LineSource, decode_text
from capfence_sh.replay.proposed import ProposedCommand, ReadEvent, SkippedLine


def continues(text: str) -> bool:
    """Does the line end in a backslash that escapes the newline (an odd number of trailing backslashes)?"""
    if not text.endswith("\\"):
        return False
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def read_text(source: LineSource, *, format: str = "text") -> Iterator[ReadEvent]:
    pending: list[str] = []
    start = 0
    for line in source:
        text = decode_text(line.raw)
        if not pending:
            start = line.number
            stripped = text.strip()
            if not stripped:
                yield SkippedLine(source.where(line.number), "blank line")
                continue
            if stripped.startswith("#"):
                yield SkippedLine(source.where(line.number), "comment")
                continue
        pending.append(text)
        if continues(text):
            continue
        yield ProposedCommand(text="\n".join(pending), source=source.where(start), format=format)
        pending = []
    if pending:  # the file ended inside a continued line: replay what is there
        yield ProposedCommand(text="\n".join(pending), source=source.where(start), format=format)
