"""Shell word expansion from the raw source text, the way bash does it, as far as it can be known statically.

bashlex's own `word` attribute is not trustworthy for security decisions (it turns `$'\\x72\\x6d'` into `$x72x6d`
and keeps quotes in `"$x"'y'`), so every word is expanded here from its source slice: brace expansion, tilde,
parameters, command substitution (delegated back to the analyser), quote removal, ANSI-C quoting, field splitting
and glob detection. What cannot be known stays marked unknown instead of being guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Protocol

DEFAULT_IFS = " \t\n"
MAX_BRACE_FIELDS = 4096
GLOB_CHARS = frozenset("*?[")
# Unknown values that cannot contain "/" or "..": numbers and mktemp-style names. A path built from them keeps
# its known directory prefix; any other unknown part may redirect the path anywhere (`/tmp/$X` with X=../etc).
TRUSTED_SPECIALS = frozenset({"$", "!", "?", "#", "RANDOM", "LINENO", "SECONDS", "EPOCHSECONDS", "BASHPID", "PPID"})


class WordError(ValueError):
    """The word is malformed (unterminated quote or substitution)."""


@dataclass(frozen=True, slots=True)
class Part:
    text: str  # the value, or for unknown parts the source text as written
    known: bool
    quoted: bool
    trusted: bool = True  # for unknown parts: cannot contain "/" or ".."
    glob: bool = False  # an unquoted glob character
    expanded: bool = False  # came from a parameter or substitution (so it is subject to field splitting)
    decoded: bool = False  # produced at run time by decoding data (base64 -d, xxd -r): deliberately hidden
    fetched: bool = False  # produced at run time by a command that downloads (`$(curl -s URL)`)
    # "$@" makes one field per positional parameter even inside quotes: `boundary` parts separate them, and a
    # field made only of `vanish` parts (an empty "$@") disappears instead of becoming an empty word.
    boundary: bool = False
    vanish: bool = False
    secret: str = ""  # the name of a credential-like variable this came from (`$GITHUB_TOKEN`)


_BOUNDARY = Part(" ", True, True, expanded=True, boundary=True)
_VANISH = Part("", True, True, expanded=True, vanish=True)


@dataclass(frozen=True, slots=True)
class Field:
    """One word after expansion."""

    value: str  # expanded text; unknown parts appear as written in the source (`$X`, `$(cmd)`)
    known: bool = True
    glob: bool = False  # has unquoted glob characters the shell would expand
    prefix: str = ""  # text certain to begin the value (the whole value when known)
    suffix: str = ""  # text certain to end the value
    trusted: bool = True  # every unknown part is trusted (see TRUSTED_SPECIALS)
    decoded: bool = False  # part of it is decoded at run time from hidden data
    fetched: bool = False  # part of it is downloaded at run time (`bash -c "$(curl -fsSL URL)"`)
    secret: str = ""  # holds the value of a credential-like variable, by that variable's name


class ExpansionHost(Protocol):
    """What word expansion needs from the analyser that owns the shell state."""

    def lookup(self, name: str) -> str | None:
        """Value of a variable; "" when certainly unset; None when unknown."""

    def positional(self) -> tuple[str, ...] | None:
        """$1..$N, or None when unknown."""

    def substitute(self, script: str, kind: str) -> tuple[str | None, bool, str, bool, bool]:
        """Analyse a nested command ($(...), `...`, <(...), >(...)).

        Returns (its output when known, whether an unknown output is trusted, a known prefix of the output,
        whether the output is decoded from hidden data, whether it comes from a download)."""

    def home(self, user: str) -> str | None: ...

    @property
    def cwd(self) -> str: ...


_PLAIN_WORD = re.compile(r"[^$`'\"\\*?\[{}~()\s]+").fullmatch  # no quoting, expansion, glob or extglob


def literal(text: str) -> Field:
    return Field(text, True, False, text, text, True)


def expand_word(raw: str, host: ExpansionHost, *, assignment: bool = False, split: bool = True) -> list[Field]:
    """Expand one word (its raw source text) into the fields the shell would pass to a command."""
    if raw and _PLAIN_WORD(raw):
        # Most words are plain text (`git`, `-am`, `tests/unit`): nothing to expand, and field splitting only
        # ever applies to the results of expansions.
        return [literal(raw)]
    fields: list[Field] = []
    for braced in expand_braces(raw):
        parts = scan_parts(braced, host, assignment=assignment)
        fields.extend(_split_fields(parts, host) if split else [_join(parts)])
    return fields


def expand_single(raw: str, host: ExpansionHost, *, assignment: bool = False) -> Field:
    """Expand a word where no splitting happens (assignment values, redirect targets, case words)."""
    return _join(scan_parts(raw, host, assignment=assignment))


def expand_heredoc(body: str, host: ExpansionHost) -> Field:
    """An unquoted heredoc body: parameter, command and arithmetic expansion; quotes stay literal."""
    return _join(_scan(body, host, 0, len(body), in_dquote=True, heredoc=True)[0])


# --- brace expansion -------------------------------------------------------------------------------------------


def expand_braces(raw: str) -> list[str]:
    """Bash brace expansion on raw text: `{a,b}c`, `{1..3}`, `{a..e..2}`; quoted braces are literal."""
    if "{" not in raw:
        return [raw]
    results = _expand_braces_once(raw)
    if len(results) > MAX_BRACE_FIELDS:
        raise WordError(f"brace expansion yields more than {MAX_BRACE_FIELDS} words")
    return results


def _expand_braces_once(raw: str) -> list[str]:
    span = _find_brace_group(raw)
    if span is None:
        return [raw]
    start, end, alternatives = span
    head, tail = raw[:start], raw[end + 1 :]
    out: list[str] = []
    for alt in alternatives:
        for expanded in _expand_braces_once(head + alt + tail):
            out.append(expanded)
            if len(out) > MAX_BRACE_FIELDS:
                raise WordError(f"brace expansion yields more than {MAX_BRACE_FIELDS} words")
    return out


def _find_brace_group(raw: str) -> tuple[int, int, list[str]] | None:
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            i = _skip_single(raw, i + 1)
            continue
        if c == '"':
            i = _skip_double(raw, i + 1)
            continue
        if c == "$" and i + 1 < n and raw[i + 1] in "({":
            i = _skip_balanced(raw, i + 1)
            continue
        if c == "{":
            group = _parse_brace_group(raw, i)
            if group is not None:
                return group
        i += 1
    return None


def _parse_brace_group(raw: str, start: int) -> tuple[int, int, list[str]] | None:
    depth, i, n = 0, start, len(raw)
    commas: list[int] = []
    while i < n:
        c = raw[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            i = _skip_single(raw, i + 1)
            continue
        if c == '"':
            i = _skip_double(raw, i + 1)
            continue
        if c == "$" and i + 1 < n and raw[i + 1] in "({":
            i = _skip_balanced(raw, i + 1)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                inner = raw[start + 1 : i]
                if commas:
                    pieces, last = [], start + 1
                    for comma in commas:
                        pieces.append(raw[last:comma])
                        last = comma + 1
                    pieces.append(raw[last:i])
                    return start, i, pieces
                sequence = _brace_sequence(inner)
                if sequence is not None:
                    return start, i, sequence
                return None
        elif c == "," and depth == 1:
            commas.append(i)
        i += 1
    return None


def _is_integer(text: str) -> bool:
    digits = text[1:] if text[:1] in ("-", "+") else text
    return digits.isascii() and digits.isdigit()


def _brace_sequence(inner: str) -> list[str] | None:
    pieces = inner.split("..")
    if len(pieces) not in (2, 3):
        return None
    step = 1
    if len(pieces) == 3:
        try:
            step = abs(int(pieces[2])) or 1
        except ValueError:
            return None
    a, b = pieces[0], pieces[1]
    if _is_integer(a) and _is_integer(b):
        if len(a) > 18 or len(b) > 18:
            raise WordError("brace sequence bound out of range")
        lo, hi = int(a), int(b)
        # Checked before building the range: `{1..100000}` must not pass as the literal text it is not.
        if abs(hi - lo) // step + 1 > MAX_BRACE_FIELDS:
            raise WordError(f"brace expansion yields more than {MAX_BRACE_FIELDS} words")
        width = max(len(a), len(b)) if (a.lstrip("-").startswith("0") or b.lstrip("-").startswith("0")) else 0
        rng = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return [str(v).zfill(width) if width else str(v) for v in rng]
    if len(a) == 1 and len(b) == 1 and a.isalpha() and b.isalpha():
        lo_c, hi_c = ord(a), ord(b)
        rng = range(lo_c, hi_c + 1, step) if lo_c <= hi_c else range(lo_c, hi_c - 1, -step)
        return [chr(v) for v in rng]
    return None


# --- scanning helpers ------------------------------------------------------------------------------------------


def _skip_single(s: str, i: int) -> int:
    end = s.find("'", i)
    if end < 0:
        raise WordError("unterminated single quote")
    return end + 1


def _skip_double(s: str, i: int) -> int:
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if c == "$" and i + 1 < n and s[i + 1] in "({":
            i = _skip_balanced(s, i + 1)
            continue
        if c == "`":
            i = _skip_backtick(s, i + 1)
            continue
        i += 1
    raise WordError("unterminated double quote")


def _skip_backtick(s: str, i: int) -> int:
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "`":
            return i + 1
        i += 1
    raise WordError("unterminated backquote")


def _skip_balanced(s: str, i: int) -> int:
    """`s[i]` is "(" or "{": return the index after its match, skipping quotes inside."""
    open_c = s[i]
    close_c = ")" if open_c == "(" else "}"
    depth, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'" and open_c == "(":
            i = _skip_single(s, i + 1)
            continue
        if c == "'" and open_c == "{":
            # Inside ${...} single quotes only count within operator words; treat them as quotes too.
            end = s.find("'", i + 1)
            i = end + 1 if end >= 0 else n
            continue
        if c == '"':
            i = _skip_double(s, i + 1)
            continue
        if c == "`":
            i = _skip_backtick(s, i + 1)
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise WordError(f"unterminated {'$(' if open_c == '(' else '${'}")


def substitutions_in(text: str) -> list[str]:
    """The commands of the `$(...)` and backquote substitutions in text that will be evaluated again
    (arithmetic on a variable's value); malformed ones end the scan."""
    found: list[str] = []
    i, n = 0, len(text)
    try:
        while i < n:
            if text.startswith("$(", i):
                close = _skip_balanced(text, i + 1)
                found.append(text[i + 2 : close - 1])
                i = close
            elif text[i] == "`":
                close = _skip_backtick(text, i + 1)
                found.append(_unescape_backtick(text[i + 1 : close - 1]))
                i = close
            else:
                i += 1
    except WordError:
        pass  # an unterminated substitution is a syntax error when evaluated: nothing runs
    return found


_ANSI_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b",
                "E": "\x1b", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def decode_ansi_c(body: str) -> str:
    """The value of `$'...'`: backslash escapes as bash decodes them."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[e])
            i += 2
        elif e in "01234567":
            j = i + 1
            while j < n and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i + 1 : j], 8) & 0xFF))
            i = j
        elif e in "xuU":
            limit = {"x": 2, "u": 4, "U": 8}[e]
            j = i + 2
            while j < n and j < i + 2 + limit and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 2:
                out.append("\\" + e)
            else:
                out.append(chr(min(int(body[i + 2 : j], 16), 0x10FFFF)))
            i = j
        elif e == "c" and i + 2 < n:
            out.append(chr(ord(body[i + 2]) & 0x1F))
            i += 3
        else:
            out.append("\\" + e)
            i += 2
    return "".join(out)


# --- the scanner -----------------------------------------------------------------------------------------------


def scan_parts(raw: str, host: ExpansionHost, *, assignment: bool = False) -> list[Part]:
    parts, _ = _scan(raw, host, 0, len(raw), in_dquote=False, assignment=assignment)
    return parts


def _scan(s: str, host: ExpansionHost, i: int, end: int, *, in_dquote: bool, assignment: bool = False,
          heredoc: bool = False) -> tuple[list[Part], int]:
    parts: list[Part] = []
    buf: list[str] = []
    quoted = in_dquote

    def flush() -> None:
        if buf:
            parts.append(Part("".join(buf), True, quoted))
            buf.clear()

    if not in_dquote and i < end and s[i] == "~":
        j = i + 1
        while j < end and (s[j].isalnum() or s[j] in "_.-+"):
            j += 1
        if j == end or s[j] == "/" or (assignment and s[j] == ":"):
            user = s[i + 1 : j]
            home = _tilde(user, host)
            if home is None:
                parts.append(Part(s[i:j], False, False, trusted=False))
            else:
                parts.append(Part(home, True, True))
            i = j

    while i < end:
        c = s[i]
        if c == "\\":
            if i + 1 >= end:
                buf.append("\\")
                i += 1
                continue
            nxt = s[i + 1]
            if nxt == "\n":
                i += 2
                continue
            if in_dquote and nxt not in '$`"\\' and not (heredoc and nxt == "\n"):
                buf.append("\\")
                i += 1
                continue
            if heredoc and nxt == '"':
                buf.append("\\")
                i += 1
                continue
            flush_quoted = quoted
            flush()
            parts.append(Part(nxt, True, True))
            quoted = flush_quoted
            i += 2
            continue
        if c == "'" and not in_dquote:
            close = _skip_single(s, i + 1)
            flush()
            parts.append(Part(s[i + 1 : close - 1], True, True))
            i = close
            continue
        if c == '"' and not in_dquote:
            flush()
            inner_end = _skip_double(s, i + 1) - 1
            inner, _ = _scan(s, host, i + 1, inner_end, in_dquote=True)
            # An empty "" still makes a (possibly empty) field; mark it with an empty quoted part.
            parts.extend(inner or [Part("", True, True)])
            i = inner_end + 1
            continue
        if c == "$" and i + 1 < end:
            nxt = s[i + 1]
            if nxt == "'" and not in_dquote:
                close = s.find("'", i + 2)
                while close > 0 and _escaped(s, close, i + 2):
                    close = s.find("'", close + 1)
                if close < 0:
                    raise WordError("unterminated $'...' quote")
                flush()
                parts.append(Part(decode_ansi_c(s[i + 2 : close]), True, True))
                i = close + 1
                continue
            if nxt == '"' and not in_dquote:
                i += 1  # $"..." is a translatable string: the same as "..." here
                continue
            if nxt == "(":
                close = _skip_balanced(s, i + 1)
                flush()
                parts.extend(_substitution(s[i + 2 : close - 1], s[i:close], "$()", host, in_dquote))
                i = close
                continue
            if nxt == "{":
                close = _skip_balanced(s, i + 1)
                flush()
                body = s[i + 2 : close - 1]
                braced = _parameter_braced(body, s[i:close], host, in_dquote)
                for part in _credential(braced, _NAME_AT_START.match(body)):
                    parts.append(part if part.expanded else replace(part, expanded=True))
                i = close
                continue
            if nxt.isalpha() or nxt == "_":
                j = i + 1
                while j < end and (s[j].isalnum() or s[j] == "_"):
                    j += 1
                flush()
                parts.extend(_credential(_parameter_simple(s[i + 1 : j], s[i:j], host, in_dquote),
                                         _NAME_AT_START.match(s[i + 1 : j])))
                i = j
                continue
            if nxt.isdigit() or nxt in "@*#?$!-":
                flush()
                parts.extend(_parameter_simple(nxt, s[i : i + 2], host, in_dquote))
                i += 2
                continue
        if c == "`":
            close = _skip_backtick(s, i + 1)
            flush()
            inner = _unescape_backtick(s[i + 1 : close - 1])
            parts.extend(_substitution(inner, s[i:close], "``", host, in_dquote))
            i = close
            continue
        if c in "<>" and not in_dquote and i + 1 < end and s[i + 1] == "(":
            close = _skip_balanced(s, i + 1)
            flush()
            parts.extend(_substitution(s[i + 2 : close - 1], s[i:close], c + "()", host, False, process=True))
            i = close
            continue
        if not in_dquote and c in GLOB_CHARS:
            if c == "[" and "]" not in s[i + 1 : end]:
                buf.append(c)
                i += 1
                continue
            flush()
            parts.append(Part(c, True, False, glob=True))
            i += 1
            continue
        buf.append(c)
        i += 1
    flush()
    return parts, i


def _escaped(s: str, pos: int, start: int) -> bool:
    count, j = 0, pos - 1
    while j >= start and s[j] == "\\":
        count += 1
        j -= 1
    return count % 2 == 1


def _unescape_backtick(text: str) -> str:
    # Inside backquotes, backslash only escapes $, ` and \ (the rest is passed to the nested parse as is).
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] == "\\" and i + 1 < n and text[i + 1] in "$`\\":
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _tilde(user: str, host: ExpansionHost) -> str | None:
    if user == "+":
        return host.cwd or None
    if user == "-":
        return host.lookup("OLDPWD") or None
    return host.home(user)


def _substitution(script: str, source: str, kind: str, host: ExpansionHost, quoted: bool,
                  process: bool = False) -> list[Part]:
    output, trusted, prefix, decoded, fetched = host.substitute(script, kind)
    if output is not None:
        # Command substitution strips trailing newlines.
        return [Part(output.rstrip("\n"), True, quoted, expanded=True, decoded=decoded, fetched=fetched)]
    unknown = Part(source, False, quoted, trusted=trusted, expanded=True, decoded=decoded, fetched=fetched)
    return [Part(prefix, True, quoted, expanded=True), unknown] if prefix else [unknown]


# Variables whose names say they hold a credential. Their values are tracked through words so that sending one
# over the network can be told from sending anything else.
CREDENTIAL_NAME = re.compile(r"(?i)(?:TOKEN|SECRET|PASSW(?:OR)?D|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|"
                             r"CREDENTIAL|AUTH|_PAT\b|SESSION_?KEY|WEBHOOK)")
_NAME_AT_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _credential(parts: list[Part], name_match) -> list[Part]:
    name = name_match.group(0) if name_match else ""
    if not name or not CREDENTIAL_NAME.search(name):
        return parts
    return [replace(p, secret=name) if not p.boundary and not p.vanish else p for p in parts]


def _parameter_simple(name: str, source: str, host: ExpansionHost, quoted: bool) -> list[Part]:
    if name == "@" or (name == "*" and not quoted):
        return _positional_parts(source, host, quoted)
    value = _lookup(name, host)
    if value is None:
        return _unknown_parameter(name, source, host, quoted, name in TRUSTED_SPECIALS)
    return [Part(value, True, quoted, glob=_stands_for_matches(name, host), expanded=True)]


def _stands_for_matches(name: str, host: ExpansionHost) -> bool:
    """A loop variable bound to a glob (`for f in *.pem`) stands for each match, quoted or not."""
    probe = getattr(host, "is_glob", None)
    return probe is not None and _is_name(name) and bool(probe(name))


def _positional_parts(source: str, host: ExpansionHost, quoted: bool, offset: int = 1,
                      length: int | None = None) -> list[Part]:
    """`$@` (and unquoted `$*`): one word per positional parameter, each split on its own when unquoted."""
    positional = host.positional()
    if positional is None:
        return [Part(source, False, quoted, trusted=False, expanded=True)]
    # `${@:offset:length}` counts from $0; a negative offset counts back from one past the last parameter.
    start = offset if offset >= 0 else len(positional) + 1 + offset
    selected = ((host.lookup("0") or "",) + positional)[start:] if start >= 0 else ()
    if length is not None:
        selected = selected[: max(length, 0)]
    if not selected:
        return [_VANISH]
    parts: list[Part] = []
    for value in selected:
        if parts:
            parts.append(_BOUNDARY)
        parts.append(Part(value, True, quoted, expanded=True))
    return parts


def _unknown_parameter(name: str, source: str, host: ExpansionHost, quoted: bool, trusted: bool) -> list[Part]:
    """An unknown variable; one assigned from e.g. `$(mktemp -d)` still has a known prefix."""
    partial = getattr(host, "partial", None)
    known = partial(name) if partial is not None and _is_name(name) else None
    if known is not None:
        prefix, prefix_trusted, decoded, fetched = known
        unknown = Part(source, False, quoted, trusted=prefix_trusted, expanded=True, decoded=decoded,
                       fetched=fetched)
        return [Part(prefix, True, quoted, expanded=True), unknown] if prefix else [unknown]
    return [Part(source, False, quoted, trusted=trusted, expanded=True)]


def _lookup(name: str, host: ExpansionHost) -> str | None:
    if name.isdigit():
        pos = host.positional()
        if pos is None:
            return None
        index = int(name)
        if index == 0:
            return host.lookup("0")
        return pos[index - 1] if index <= len(pos) else ""
    if name in ("@", "*"):
        pos = host.positional()
        return None if pos is None else " ".join(pos)
    if name == "#":
        pos = host.positional()
        return None if pos is None else str(len(pos))
    if name in ("?", "$", "!", "-") or name in TRUSTED_SPECIALS:
        return None
    return host.lookup(name)


def _parameter_braced(body: str, source: str, host: ExpansionHost, quoted: bool) -> list[Part]:
    unknown = [Part(source, False, quoted, trusted=False)]
    if not body:
        raise WordError("bad substitution: ${}")
    if body[0] == "#" and len(body) > 1 and body[1] not in "}":
        # ${#name}: a length, always a number.
        value = _lookup(body[1:], host) if _is_name(body[1:]) else None
        return [Part(str(len(value)), True, quoted)] if value is not None else [Part(source, False, quoted)]
    if body[0] == "!":
        # ${!name}: indirection; resolvable only if the named variable's value is known.
        target = _lookup(body[1:], host) if _is_name(body[1:]) else None
        if target and _is_name(target):
            value = _lookup(target, host)
            if value is not None:
                return [Part(value, True, quoted)]
        return unknown
    j = 0
    if body[0].isdigit():
        while j < len(body) and body[j].isdigit():
            j += 1
    elif body[0] in "@*#?$!-":
        j = 1
    else:
        while j < len(body) and (body[j].isalnum() or body[j] == "_"):
            j += 1
    name, rest = body[:j], body[j:]
    if not name:
        return unknown
    if rest.startswith("["):
        return unknown  # arrays are not tracked
    if name in ("@", "*"):
        if not rest and (name == "@" or not quoted):
            return _positional_parts(source, host, quoted)
        if rest.startswith(":") and rest[1:2] not in ("-", "=", "+", "?") and (name == "@" or not quoted):
            pieces = rest[1:].split(":")
            try:
                offset = int(pieces[0].strip() or 0)
                length = int(pieces[1].strip()) if len(pieces) > 1 else None
            except ValueError:
                return unknown
            return _positional_parts(source, host, quoted, offset, length)
    value = _lookup(name, host)
    trusted = name in TRUSTED_SPECIALS
    # Substitutions inside the operator word may run (`${x:-$(rm -rf /)}`): they are analysed whatever the value,
    # once (where the word is not expanded below, it is scanned for its side effects only).
    runs = "$(" in rest or "`" in rest or "<(" in rest or ">(" in rest
    if not rest:
        if value is None:
            return _unknown_parameter(name, source, host, quoted, trusted)
        return [Part(value, True, quoted, glob=_stands_for_matches(name, host))]
    for op in (":-", ":=", ":+", ":?", "-", "=", "+", "?"):
        if rest.startswith(op):
            word = rest[len(op) :]
            colon = op.startswith(":")
            if value is None:
                # Unknown value: the result is the value or the word, so it is unknown either way.
                if runs:
                    _scan(word, host, 0, len(word), in_dquote=True)
                return [Part(source, False, quoted, trusted=False)]
            empty = value == "" if colon else False
            unset = value == "" and not _is_set(name, host)
            use_word = (empty or unset) if op[-1] in "-=?" else not (empty or unset)
            if use_word and op[-1] != "?":
                return _scan(word, host, 0, len(word), in_dquote=quoted)[0] or [Part("", True, quoted)]
            if runs:
                _scan(word, host, 0, len(word), in_dquote=True)
            if op[-1] == "?":
                return [Part(value, True, quoted)]
            return [Part(value if op[-1] in "-=" else "", True, quoted)]
    if runs:
        _scan(rest, host, 0, len(rest), in_dquote=True)
    if value is None:
        return [Part(source, False, quoted, trusted=trusted)]
    return [_pattern_operation(value, rest, source, quoted)]


def _is_set(name: str, host: ExpansionHost) -> bool:
    probe = getattr(host, "is_set", None)
    return bool(probe(name)) if probe else True


def _is_name(text: str) -> bool:
    return bool(text) and (text[0].isalpha() or text[0] == "_") and all(c.isalnum() or c == "_" for c in text)


def _pattern_operation(value: str, rest: str, source: str, quoted: bool) -> Part:
    import fnmatch

    def matches(pattern: str, text: str) -> bool:
        return fnmatch.fnmatchcase(text, pattern)

    if rest.startswith("##") or rest.startswith("#"):
        longest = rest.startswith("##")
        pattern = rest[2:] if longest else rest[1:]
        cuts = range(len(value), -1, -1) if longest else range(0, len(value) + 1)
        for k in cuts:
            if matches(pattern, value[:k]):
                return Part(value[k:], True, quoted)
        return Part(value, True, quoted)
    if rest.startswith("%%") or rest.startswith("%"):
        longest = rest.startswith("%%")
        pattern = rest[2:] if longest else rest[1:]
        cuts = range(0, len(value) + 1) if longest else range(len(value), -1, -1)
        for k in cuts:
            if matches(pattern, value[k:]):
                return Part(value[:k], True, quoted)
        return Part(value, True, quoted)
    if rest.startswith("^^"):
        return Part(value.upper(), True, quoted)
    if rest.startswith(",,"):
        return Part(value.lower(), True, quoted)
    if rest.startswith(":") and rest[1:2] not in "-=+?":
        pieces = rest[1:].split(":")
        try:
            offset = int(pieces[0].strip() or 0)
            length = int(pieces[1].strip()) if len(pieces) > 1 else None
        except ValueError:
            return Part(source, False, quoted, trusted=False)
        sub = value[offset:] if offset >= 0 else value[len(value) + offset :]
        if length is not None:
            sub = sub[:length] if length >= 0 else sub[:length]
        return Part(sub, True, quoted)
    if rest.startswith("/"):
        body = rest[1:]
        replace_all = body.startswith("/")
        if replace_all or body[:1] in "#%":
            body = body[1:] if replace_all else body
        if "/" in body:
            pattern, replacement = body.split("/", 1)
        else:
            pattern, replacement = body, ""
        if any(ch in pattern for ch in "*?[") or not pattern:
            return Part(source, False, quoted, trusted=False)
        result = value.replace(pattern, replacement) if replace_all else value.replace(pattern, replacement, 1)
        return Part(result, True, quoted)
    return Part(source, False, quoted, trusted=False)


# --- joining and field splitting -------------------------------------------------------------------------------


def _join(parts: list[Part]) -> Field:
    if not parts:
        return Field("", True, False, "", "", True)
    value = "".join(p.text for p in parts)
    known = all(p.known for p in parts)
    glob = any(p.glob for p in parts)
    decoded = any(p.decoded for p in parts)
    fetched = any(p.fetched for p in parts)
    secret = next((p.secret for p in parts if p.secret), "")
    if known:
        return Field(value, True, glob, value, value, True, decoded, fetched, secret)
    trusted = all(p.trusted for p in parts if not p.known)
    prefix_parts: list[str] = []
    for p in parts:
        if not p.known:
            break
        prefix_parts.append(p.text)
    suffix_parts: list[str] = []
    for p in reversed(parts):
        if not p.known:
            break
        suffix_parts.append(p.text)
    return Field(value, False, glob, "".join(prefix_parts), "".join(reversed(suffix_parts)), trusted, decoded,
                 fetched, secret)


def _split_fields(parts: list[Part], host: ExpansionHost) -> list[Field]:
    """Field splitting: the unquoted results of expansions split on IFS; literal text never splits."""
    splits = positional = False
    for p in parts:
        if p.boundary or p.vanish:
            positional = True
        elif p.expanded and not p.quoted:
            splits = True
    if not splits and not positional:
        return [_join(parts)]
    if all(p.vanish or (p.expanded and not p.quoted and p.known and p.text == "") for p in parts):
        return []  # an unquoted expansion to nothing vanishes: `$empty rm` runs rm
    ifs = host.lookup("IFS") if splits else DEFAULT_IFS
    if ifs is None:
        # IFS itself is unknown, so how the word splits cannot be known.
        return [Field("".join(p.text for p in parts), False, False, "", "", False)]
    fields: list[list[Part]] = [[]]
    for p in parts:
        if p.boundary:
            fields.append([])
            continue
        if p.quoted or not p.expanded or not p.known:
            fields[-1].append(p)
            continue
        # The pieces of an unquoted expansion are also subject to pathname expansion (`x='/srv/*'; rm $x`).
        for k, piece in enumerate(_ifs_split(p.text, ifs) if ifs else [p.text]):
            if k > 0:
                fields.append([])
            if piece:
                fields[-1].append(Part(piece, True, False, glob=p.glob or _has_glob(piece), decoded=p.decoded,
                                       fetched=p.fetched, secret=p.secret))
    return [_join(f) for f in fields if f and not all(p.vanish for p in f)]


def _has_glob(text: str) -> bool:
    return "*" in text or "?" in text or ("[" in text and "]" in text)


def _ifs_split(text: str, ifs: str) -> list[str]:
    whitespace = "".join(ch for ch in ifs if ch in " \t\n")
    others = "".join(ch for ch in ifs if ch not in " \t\n")
    pieces: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    # Leading IFS whitespace does not start an empty field, but separates the preceding text.
    while i < n:
        ch = text[i]
        if ch in whitespace:
            pieces.append("".join(current))
            current = []
            while i < n and text[i] in whitespace:
                i += 1
            if i < n and text[i] in others:
                i += 1
                while i < n and text[i] in whitespace:
                    i += 1
            continue
        if ch in others:
            pieces.append("".join(current))
            current = []
            i += 1
            while i < n and text[i] in whitespace:
                i += 1
            continue
        current.append(ch)
        i += 1
    pieces.append("".join(current))
    return pieces
