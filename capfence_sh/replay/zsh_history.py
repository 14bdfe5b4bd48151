"""zsh's history file, with or without `EXTENDED_HISTORY` (`: <epoch>:<duration>;command`).

zsh writes a newline inside a command as a backslash at the end of the line, and reads a line ending in a
backslash as continuing on the next, the backslash standing for the newline. It also "metafies" the file: bytes
0x83-0x9d and 0xa0 (so most non-ASCII UTF-8) are written as 0x83 followed by the byte xor 0x20; reading undoes
that before decoding UTF-8."""

from __future__ import annotations

import re
from typing import Iterator

from capfence_sh.replay.bash_history import epoch_text
from capfence_sh.replay.lines import LineSource
from capfence_sh.replay.proposed import ProposedCommand, ReadEvent, SkippedLine

EXTENDED = re.compile(r"^: *(\d+):(\d+);")
META = 0x83


def unmetafy(raw: bytes) -> bytes:
    if META not in raw:
        return raw
    out = bytearray()
    escaped = False
    for byte in raw:
        if escaped:
            out.append(byte ^ 0x20)
            escaped = False
        elif byte == META:
            escaped = True
        else:
            out.append(byte)
    return bytes(out)


def decode_zsh(raw: bytes) -> str:
    # A file written by zsh is metafied; one converted by another tool may be plain UTF-8 (where 0x83 is an
    # ordinary continuation byte). Whichever reading is valid UTF-8 wins, zsh's first.
    for candidate in (unmetafy(raw), raw):
        try:
            return candidate.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return unmetafy(raw).decode("utf-8", "replace")


def read_zsh_history(source: LineSource) -> Iterator[ReadEvent]:
    entry: list[str] = []
    start = 0
    stamp = ""
    for line in source:
        text = decode_zsh(line.raw)
        if not entry:
            start = line.number
            match = EXTENDED.match(text)
            if match:
                stamp = epoch_text(int(match.group(1)))
                text = text[match.end():]
            else:
                stamp = ""
            if not text.strip():
                if not text.endswith("\\"):
                    yield SkippedLine(source.where(line.number), "blank line")
                    continue
        if text.endswith("\\"):
            entry.append(text[:-1])
            continue
        entry.append(text)
        command = "\n".join(entry)
        entry = []
        if command.strip().startswith("#") and "\n" not in command.strip():
            yield SkippedLine(source.where(start), "comment")
        elif command.strip():
            yield ProposedCommand(text=command, source=source.where(start), format="zsh-history", timestamp=stamp)
        else:
            yield SkippedLine(source.where(start), "blank line")
    if entry and "\n".join(entry).strip():
        yield ProposedCommand(text="\n".join(entry), source=source.where(start), format="zsh-history",
                              timestamp=stamp)
