"""Split a script into its top-level commands without a full parse, for the narrower re-parse.

When bashlex rejects a script, each top-level command is parsed on its own so that one construct it cannot
handle does not make the whole script undecidable; only the pieces that still fail become `shell.unparsed`.
Splitting respects quotes, substitutions and compound commands (`if ... fi`, `{ ...; }`, `( ... )`, loops).
"""

from __future__ import annotations

_OPENERS = {"if": "fi", "case": "esac", "for": "done", "while": "done", "until": "done", "select": "done",
            "{": "}"}
_CLOSERS = {"fi", "esac", "done", "}"}


def split_top_level(text: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    depth = 0  # compound keywords and parentheses
    i, n = 0, len(text)
    at_command = True
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            at_command = False
            continue
        if c == "'":
            end = text.find("'", i + 1)
            i = n if end < 0 else end + 1
            at_command = False
            continue
        if c == '"':
            i = _skip_double(text, i + 1)
            at_command = False
            continue
        if c == "`":
            end = text.find("`", i + 1)
            i = n if end < 0 else end + 1
            continue
        if c == "$" and i + 1 < n and text[i + 1] in "({":
            i = _skip_group(text, i + 1)
            at_command = False
            continue
        if c == "#" and (i == 0 or text[i - 1] in " \t\n;&|()"):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c == "(":
            depth += 1
            i += 1
            at_command = True
            continue
        if c == ")":
            depth = max(0, depth - 1)
            i += 1
            continue
        if c in ";&|\n":
            if depth == 0 and not _is_redirect_amp(text, i):
                piece = text[start:i].strip()
                if piece:
                    pieces.append(piece)
                j = i + 1
                while j < n and text[j] in ";&|":
                    j += 1
                start = i = j
                at_command = True
                continue
            i += 1
            at_command = True
            continue
        if c in " \t":
            i += 1
            continue
        j = i
        while j < n and text[j] not in " \t\n;&|()<>'\"`$\\":
            j += 1
        word = text[i:j] if j > i else c
        if at_command:
            if word in _OPENERS:
                depth += 1
            elif word in _CLOSERS:
                depth = max(0, depth - 1)
            at_command = word in ("then", "do", "else", "elif", "if", "while", "until", "{", "!", "time")
        i = max(j, i + 1)
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)
    return pieces


def _is_redirect_amp(text: str, i: int) -> bool:
    c = text[i]
    if c != "&":
        return False
    return (i > 0 and text[i - 1] in "<>") or (i + 1 < len(text) and text[i + 1] == ">")


def _skip_double(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if c == "$" and i + 1 < n and text[i + 1] in "({":
            i = _skip_group(text, i + 1)
            continue
        i += 1
    return n


def _skip_group(text: str, i: int) -> int:
    open_c = text[i]
    close_c = ")" if open_c == "(" else "}"
    depth, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            end = text.find("'", i + 1)
            i = n if end < 0 else end + 1
            continue
        if c == '"':
            i = _skip_double(text, i + 1)
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n
