"""Text from the log or the approvals store made safe to show on a terminal."""

from __future__ import annotations


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """Text from the log made safe for a terminal: a proposed command may hold escape sequences (which would
    drive the reviewer's terminal) or bytes that are not UTF-8 (kept by Python as lone surrogates)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch.isprintable() or (keep_newlines and ch == "\n"):
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as surrogateescape keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


# --- tail ---------------------------------------------------------------------------------------------------
