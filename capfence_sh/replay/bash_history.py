"""bash's history file (`~/.bash_history`).

With `HISTTIMEFORMAT` set, bash writes a `#<epoch>` line before each entry; an entry then runs until the next
such line, so multi-line commands saved with `lithist` come back whole (bash reads its own file the same way).
Without timestamps each line is an entry (multi-line commands are then usually saved joined with `;`), read like
plain text."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Iterator

from capfence_sh.replay.lines import LineSource, decode_text
from capfence_sh.replay.proposed import ProposedCommand, ReadEvent, SkippedLine
from capfence_sh.replay.text import continues

# bash writes the seconds since the epoch; fewer than 9 digits would be before 1973: a comment, not a timestamp.
TIMESTAMP = re.compile(rb"^#(\d{9,11})\s*$")


def epoch_text(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return ""


def read_bash_history(source: LineSource) -> Iterator[ReadEvent]:
    timed = False  # seen a timestamp: from then on, entries run from one timestamp line to the next
    stamp = ""
    entry: list[str] = []
    start = 0

    def flush() -> Iterator[ReadEvent]:
        while entry and not entry[-1].strip():
            entry.pop()
        text = "\n".join(entry)
        stripped = text.strip()
        if not stripped:
            return
        if stripped.startswith("#") and "\n" not in stripped:
            yield SkippedLine(source.where(start), "comment")
            return
        yield ProposedCommand(text=text, source=source.where(start), format="bash-history", timestamp=stamp)

    for line in source:
        match = TIMESTAMP.match(line.raw)
        if match:
            yield from flush()
            entry, start, timed = [], line.number + 1, True
            stamp = epoch_text(int(match.group(1)))
            yield SkippedLine(source.where(line.number), "timestamp")
            continue
        text = decode_text(line.raw)
        if timed:
            if not entry:
                start = line.number
            if entry or text.strip():
                entry.append(text)
            else:
                yield SkippedLine(source.where(line.number), "blank line")
            continue
        # Before any timestamp: one entry per line, with the shell's backslash continuation.
        if not entry:
            start = line.number
            if not text.strip():
                yield SkippedLine(source.where(line.number), "blank line")
                continue
        entry.append(text)
        if continues(text):
            continue
        yield from flush()
        entry = []
    yield from flush()
