"""The lines of one input, streamed: numbered, as bytes, with how much has been read (for the progress bar).

Inputs are read in binary: JSON is parsed from bytes (its own UTF-8 handling), and each text format decodes its
lines its own way (zsh metafies non-ASCII bytes; the others are UTF-8, with undecodable bytes replaced so that
output stays printable)."""

from __future__ import annotations

from typing import BinaryIO, Iterable, Iterator, NamedTuple


class Line(NamedTuple):
    number: int  # 1-based
    raw: bytes  # without the line ending (\n or \r\n)
    terminated: bool  # False only for a final line without a newline (possibly a write in progress)


class LineSource:
    """Numbered lines of one input: an open stream (whose first lines, already read to detect its format, are in
    `head`), or a file named by `name`, opened when iteration starts and closed when it ends (OSError then
    propagates: the caller reports the input as unreadable)."""

    def __init__(self, name: str, handle: BinaryIO | None, *, head: Iterable[bytes] = (),
                 size: int | None = None) -> None:
        self.name = name
        self.handle = handle
        self.head = list(head)
        self.size = size  # bytes in the input, when known (regular files)
        self.bytes_read = 0

    def where(self, number: int) -> str:
        return f"{self.name}:{number}"

    def __iter__(self) -> Iterator[Line]:
        if self.handle is not None:
            yield from self._lines(self.handle)
            return
        with open(self.name, "rb") as handle:
            yield from self._lines(handle)

    def _lines(self, handle: BinaryIO) -> Iterator[Line]:
        number = 0
        for chunk in (self.head, handle):
            for raw in chunk:
                number += 1
                self.bytes_read += len(raw)
                if raw.endswith(b"\n"):
                    yield Line(number, raw[:-2] if raw.endswith(b"\r\n") else raw[:-1], True)
                else:
                    yield Line(number, raw, False)
        self.head = []


def decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")
