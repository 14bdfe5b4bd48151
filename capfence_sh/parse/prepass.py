"""Rewrite bash syntax that bashlex 0.18 cannot parse into text it can, for analysis only.

The rewritten text is never executed (the original script is), so constructs bashlex lacks are
replaced by pseudo-commands that keep what matters to a security analysis: which commands run,
their words and redirects, and every command substitution, process substitution and expansion.

One hand-written, quote-aware scanner walks the script once. Text that needs no change is copied
by slicing (``_flush``); rewrites append replacement pieces. Recursion follows the nesting of the
script and is bounded by ``MAX_DEPTH`` so hostile input ends in ``PrepassError``, never a hang.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

RESERVED_PREFIX = "__capfence_"  # every pseudo-command and placeholder starts with it
HEREDOC_PREFIX = "__capfence_heredoc_"
COND = "__capfence_cond__"
ARITH = "__capfence_arith__"
CASE = "__capfence_case__"
ARRAY = "__capfence_array__"
FOR_VARIABLE = "__capfence_i__"

MAX_DEPTH = 200

__all__ = [
    "ARITH",
    "ARRAY",
    "CASE",
    "COND",
    "FOR_VARIABLE",
    "HEREDOC_PREFIX",
    "MAX_DEPTH",
    "RESERVED_PREFIX",
    "Heredoc",
    "PrepassError",
    "Prepassed",
    "prepass",
]


class PrepassError(ValueError):
    """The script cannot be parsed (unterminated quote, substitution, construct, or too deep)."""


@dataclass(frozen=True, slots=True)
class Heredoc:
    index: int  # N in the placeholder name
    body: str  # lines between the operator line and the delimiter line; <<- strips leading tabs
    quoted: bool  # delimiter was quoted in any way: the body is literal, no expansions
    delimiter: str  # unquoted delimiter word


@dataclass(frozen=True, slots=True)
class Prepassed:
    text: str  # rewritten text for bashlex
    heredocs: tuple[Heredoc, ...]
    rewritten: bool  # False when text is the input unchanged


# Substrings without which no rewrite can apply; checked before any scanning.
_TRIGGERS = ("[[", "((", "$[", "case", "time", "<<", "select", "coproc", "=(", "#", "\\\n", "\\`")

_META = frozenset(" \t\n;&|()<>")
_DOLLAR_OPENERS = frozenset("({['\"")
_STOP_EOF, _STOP_PAREN, _STOP_CASE = 0, 1, 2

# Reserved words after which the next word is again in command position.
_KEEP_COMMAND_POSITION = frozenset(("then", "do", "else", "elif", "if", "while", "until", "!", "{"))
_COMPOUND_KEYWORDS = frozenset(("if", "while", "until", "for", "select", "case"))
# Builtins whose arguments may be array assignments: `declare -a a=(1 2)`.
_DECLARATION_BUILTINS = frozenset(("declare", "typeset", "local", "readonly", "export"))

_WORD_RUN = re.compile(r"[^ \t\n;&|()<>'\"\\$`=]+")
_DQ_RUN = re.compile(r'[^"\\$`]+')
_BRACE_RUN = re.compile(r"[^{}'\"\\$`]+")
_BLANKS = re.compile(r"[ \t]*")
_KEYWORD = re.compile(r"[a-z]+|[!{}]")
_REDIRECTION = re.compile(r"<<<|<>|<&|<|>>|>&|>\||>")
_PAREN_PROBE = re.compile(r"[()'\"\\`]")
_BRACKET_PROBE = re.compile(r"[\[\]'\"\\`]")
_DQ_PROBE = re.compile(r'["\\]')
_BACKTICK_END = re.compile(r"[`\\]")
_ANSI_C_END = re.compile(r"['\\]")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_ARRAY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?")
_FD_WORD = re.compile(r"[0-9]+|\{[A-Za-z_][A-Za-z0-9_]*\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BACKTICK_ESCAPES = re.compile(r"\\([\\$`])")
_BACKTICK_ESCAPES_IN_DQ = re.compile(r"\\([\\$`\"])")


def prepass(text: str, *, checked: bool = False) -> Prepassed:
    """Rewrite `text` so bashlex 0.18 can parse it; raise PrepassError if bash could not either.

    `checked`: the text is a piece (a command substitution) of a script that already went through the pre-pass,
    so our own pseudo-commands in it are legitimate.
    """
    if RESERVED_PREFIX in text and not checked:
        # A script could otherwise pass off its own command as one of our pseudo-commands.
        offset = text.index(RESERVED_PREFIX)
        raise PrepassError(f"reserved name prefix {RESERVED_PREFIX!r} at offset {offset}")
    if not _needs_scan(text):
        if text and text.isspace():
            return Prepassed("", (), True)
        return Prepassed(text, (), False)
    ledger = _HeredocLedger()
    try:
        out = _Scanner(text, ledger, 0, 0).run()
    except RecursionError:
        raise PrepassError(f"script nested too deeply (limit {MAX_DEPTH})") from None
    if out.isspace():
        out = ""
    heredocs = tuple(sorted(ledger.records, key=lambda heredoc: heredoc.index))
    return Prepassed(out, heredocs, out != text)


class _HeredocLedger:
    """Heredoc numbering and records, shared with the sub-scanners of backquoted substitutions."""

    __slots__ = ("records", "next_index")

    def __init__(self) -> None:
        self.records: list[Heredoc] = []
        self.next_index = 0


_PendingHeredoc = tuple[int, str, bool, bool]  # index, delimiter, quoted, strip_tabs


class _Scanner:
    __slots__ = ("src", "n", "pos", "mark", "out", "ledger", "pending", "depth", "base", "close_cache")

    def __init__(self, src: str, ledger: _HeredocLedger, depth: int, base: int) -> None:
        self.src = src
        self.n = len(src)
        self.pos = 0
        self.mark = 0  # src[mark:pos] is copied verbatim at the next flush
        self.out: list[str] = []
        self.ledger = ledger
        self.pending: list[_PendingHeredoc] = []  # heredocs whose body starts after the next newline
        self.depth = depth
        self.base = base  # offset of src in the original script, for error messages
        self.close_cache: dict[str, dict[int, int]] = {}  # matching_close answers by opening

    def run(self) -> str:
        self.scan_list(_STOP_EOF)
        self._flush()
        if self.pending:
            self.read_heredoc_bodies()  # no newline after the operator: empty bodies
        return "".join(self.out)

    # ----- output bookkeeping -------------------------------------------------------------

    def _flush(self) -> None:
        if self.pos > self.mark:
            self.out.append(self.src[self.mark : self.pos])
        self.mark = self.pos

    def _replace(self, end: int, replacement: str) -> None:
        """Replace src[pos:end] by `replacement`."""
        self._flush()
        if replacement:
            self.out.append(replacement)
        self.pos = self.mark = end

    def _drop_and_emit(self, end: int, replacement: str) -> None:
        """Drop src[mark:end] (a construct already scanned) and append `replacement`."""
        self.out.append(replacement)
        self.pos = self.mark = end

    def _capture(self, scan: Callable[..., object], *args: object) -> str:
        """Run `scan` into a fresh buffer and return its output; text before pos is dropped."""
        saved = self.out
        self.out = []
        self.mark = self.pos
        scan(*args)
        self._flush()
        captured = "".join(self.out)
        self.out = saved
        return captured

    def _error(self, what: str, at: int) -> PrepassError:
        return PrepassError(f"{what} at offset {self.base + at}")

    def _enter(self, at: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(f"nesting deeper than {MAX_DEPTH}", at)

    def _delimited(self, at: int) -> bool:
        return at >= self.n or self.src[at] in _META

    def _skip_blanks(self, at: int) -> int:
        return _BLANKS.match(self.src, at).end()  # type: ignore[union-attr]

    def _joined(self, at: int) -> int:
        """First index at or after `at` that does not start a line continuation.

        bash removes backslash-newline before it tokenises, so `$\\<newline>(`, `]\\<newline>]`
        and `<\\<newline><` are `$(`, `]]` and `<<`; every multi-character look-ahead goes
        through here.
        """
        src = self.src
        while src.startswith("\\\n", at):
            at += 2
        return at

    def _keyword_end(self, at: int, keyword: str) -> int:
        """End of `keyword` spelled at `at` (continuations allowed) as a whole word, else -1."""
        src = self.src
        for ch in keyword:
            at = self._joined(at)
            if not src.startswith(ch, at):
                return -1
            at += 1
        return at if self._delimited(self._joined(at)) else -1

    # ----- command lists ------------------------------------------------------------------

    def scan_list(self, stop: int) -> bool:
        """Scan commands until end of input, or the `)` / case-clause end that `stop` names.

        Returns whether a `;`, `&`, `&&` or `||` joined commands at this level.
        """
        src = self.src
        n = self.n
        command_position = True  # reserved words are recognised here
        arrays_ok = True  # `name=(` starts an array literal here
        have_command = False
        after_pipe = False
        redirect_target = False
        function_name = False
        joined = False
        while self.pos < n:
            pos = self.pos
            c = src[pos]
            if c == " " or c == "\t":
                self.pos = pos + 1
                continue
            if c == "\n":
                self.newline(keep=True)
                command_position = arrays_ok = True
                have_command = redirect_target = function_name = False
                continue
            if c == "\\" and src.startswith("\n", pos + 1):
                self._replace(pos + 2, "")
                continue
            if c == "#":  # only reached at the start of a word
                end = src.find("\n", pos)
                self._replace(n if end < 0 else end, "")
                continue
            if c == ";" or c == "&" or c == "|":
                nxt = src[pos + 1] if pos + 1 < n else ""
                after_pipe = False
                if c == ";":
                    second = self._joined(pos + 1) if nxt == "\\" else pos + 1
                    if src.startswith((";", "&"), second):
                        if stop == _STOP_CASE:
                            return joined
                        self.pos = second + 1  # outside case a syntax error, left for bashlex
                    else:
                        self.pos = pos + 1
                    joined = True
                elif c == "&":
                    if nxt == ">":  # &> and &>> redirect stdout and stderr
                        self.pos = pos + (3 if src.startswith(">", pos + 2) else 2)
                        redirect_target = True
                        command_position = False
                        continue
                    self.pos = pos + (2 if nxt == "&" else 1)
                    joined = True
                else:
                    self.pos = pos + (2 if nxt == "|" or nxt == "&" else 1)
                    after_pipe = nxt != "|"
                    joined = joined or nxt == "|"
                command_position = arrays_ok = True
                have_command = redirect_target = function_name = False
                continue
            if c == ")":
                if stop != _STOP_EOF:
                    return joined
                self.pos = pos + 1  # unbalanced: left for bashlex to reject
                command_position = False
                continue
            if c == "(":
                after_pipe = False
                if command_position and src.startswith("(", pos + 1) and self.arith_command():
                    command_position = arrays_ok = False
                    have_command = True
                    continue
                # `f ()` (empty parens) is a function definition: its body is a command.
                command_position = self.group()
                arrays_ok = False
                have_command = True
                continue
            # `<(` and `>(` start a word (a process substitution), like `$(`.
            second = self._joined(pos + 1) if c == "<" or c == ">" else pos
            if second > pos and not src.startswith("(", second):
                if c == "<" and src.startswith("<", second):
                    third = self._joined(second + 1)
                    if src.startswith("<", third):
                        self._replace(third + 1, "<<<")  # a here-string, not a heredoc
                        redirect_target = True
                    else:
                        self.heredoc_operator(third)
                else:
                    self.pos = _REDIRECTION.match(src, pos).end()  # type: ignore[union-attr]
                    redirect_target = True
                command_position = False
                continue
            if command_position:
                if c == "e" and stop == _STOP_CASE and self._keyword_end(pos, "esac") >= 0:
                    return joined
                if c == "[":
                    if src.startswith("[[", pos) and self._delimited(pos + 2):
                        self.cond()
                        command_position = arrays_ok = after_pipe = False
                        have_command = True
                        continue
                else:
                    match = _KEYWORD.match(src, pos)
                    if match is not None and self._delimited(match.end()):
                        keyword = match.group()
                        if keyword in _KEEP_COMMAND_POSITION:
                            self.pos = match.end()
                            after_pipe = False
                            continue
                        # bash: `time` right after a pipe is the external /usr/bin/time.
                        if keyword == "time":
                            if not after_pipe:
                                self.time_keyword()
                                continue
                            # bash runs the external `time` here; bashlex needs it quoted.
                            self._replace(pos, "\\")
                        if keyword == "coproc":
                            self.coproc()
                            continue
                        if keyword == "esac" and stop == _STOP_CASE:
                            return joined
                        if keyword == "case":
                            self.case()
                            command_position = arrays_ok = after_pipe = False
                            have_command = True
                            continue
                        if keyword == "for" or keyword == "select":
                            if self.for_keyword(keyword):
                                command_position = arrays_ok = True
                                have_command = False
                            else:
                                command_position = arrays_ok = False
                                have_command = True
                            after_pipe = False
                            continue
                        if keyword == "function":
                            self.pos = match.end()
                            command_position = arrays_ok = after_pipe = False
                            function_name = have_command = True
                            continue
            start = pos
            self.read_word(arrays_ok and not redirect_target)
            after_pipe = False
            if redirect_target:
                redirect_target = False
                continue
            if function_name:
                function_name = have_command = arrays_ok = False
                command_position = True
                continue
            if self.pos < n and src[self.pos] in "<>" and _FD_WORD.fullmatch(src, start, self.pos):
                continue  # `2>` / `{fd}>`: the word belongs to the redirection
            command_position = False
            if have_command:
                continue
            if arrays_ok and _ASSIGNMENT.match(src, start, self.pos):
                continue  # still in the assignment prefix of the command
            have_command = True
            arrays_ok = src[start : self.pos] in _DECLARATION_BUILTINS
        return joined

    def newline(self, keep: bool) -> None:
        """Step over an unquoted newline; heredoc bodies pending on this line follow it."""
        self.pos += 1
        if self.pending:
            if keep:
                self._flush()
            self.read_heredoc_bodies()

    def group(self) -> bool:
        """Scan `( ... )`; return True when it is empty, as in a function definition `f ()`."""
        start = self.pos
        self._enter(start)
        self.pos = start + 1
        self.scan_list(_STOP_PAREN)
        if self.pos >= self.n:
            raise self._error("unterminated '('", start)
        empty = self.pos - start < 64 and self.src[start + 1 : self.pos].strip() == ""
        self.pos += 1
        self.depth -= 1
        return empty

    def substitution_body(self, start: int) -> None:
        """Scan the command list of `$(`, `<(` or `>(` (pos is after the paren) and its `)`."""
        self._enter(start)
        # bash reads heredocs begun inside a substitution from its own lines; outer ones wait.
        outer_pending = self.pending
        self.pending = []
        joined = self.scan_list(_STOP_PAREN)
        if self.pos >= self.n:
            raise self._error("unterminated command or process substitution", start)
        if joined:
            self._flush()
            # bashlex rejects `$(a && b)`, `$(a; b || c)`, `<(a &)`... unless a newline ends the list.
            if not (self.out and self.out[-1].endswith("\n")):
                self.out.append("\n")
        self.pos += 1
        self.pending = outer_pending + self.pending if self.pending else outer_pending
        self.depth -= 1

    # ----- words and quoting --------------------------------------------------------------

    def read_word(self, arrays_ok: bool) -> None:
        src = self.src
        n = self.n
        start = self.pos
        while self.pos < n:
            pos = self.pos
            c = src[pos]
            if c in _META:
                # bash keeps reading the word across a process substitution: `a<(ls)#x` is one word.
                if (c == "<" or c == ">") and src.startswith("(", self._joined(pos + 1)):
                    self.process_substitution()
                    continue
                return
            if c == "'":
                self.skip_single_quote()
            elif c == '"':
                self.double_quote()
            elif c == "\\":
                if src.startswith("\n", pos + 1):
                    self._replace(pos + 2, "")
                else:
                    self.pos = min(pos + 2, n)
            elif c == "$":
                self.dollar(in_dq=False)
            elif c == "`":
                self.backtick(in_dq=False)
            elif c == "=":
                if arrays_ok and src.startswith("(", pos + 1) and _ARRAY_NAME.fullmatch(src, start, pos):
                    # bash goes on reading the word after `)`: `a=(1)#x; cmd` runs cmd.
                    self.array_literal()
                    arrays_ok = False
                    continue
                self.pos = pos + 1
            else:
                self.pos = _WORD_RUN.match(src, pos).end()  # type: ignore[union-attr]

    def skip_single_quote(self) -> None:
        end = self.src.find("'", self.pos + 1)
        if end < 0:
            raise self._error("unterminated single quote", self.pos)
        self.pos = end + 1

    def skip_ansi_c(self) -> None:
        """Skip the `'...'` of `$'...'`, where backslash escapes a quote."""
        start = self.pos
        at = start + 1
        while True:
            match = _ANSI_C_END.search(self.src, at)
            if match is None:
                raise self._error("unterminated $'...' quote", start)
            if match.group() == "'":
                self.pos = match.end()
                return
            at = match.end() + 1

    def double_quote(self) -> None:
        src = self.src
        n = self.n
        start = self.pos
        self._enter(start)
        self.pos = start + 1
        while True:
            pos = self.pos
            if pos >= n:
                raise self._error("unterminated double quote", start)
            c = src[pos]
            if c == '"':
                self.pos = pos + 1
                break
            if c == "\\":
                if src.startswith("\n", pos + 1):
                    self._replace(pos + 2, "")
                else:
                    self.pos = min(pos + 2, n)
            elif c == "$":
                self.dollar(in_dq=True)
            elif c == "`":
                self.backtick(in_dq=True)
            else:
                self.pos = _DQ_RUN.match(src, pos).end()  # type: ignore[union-attr]
        self.depth -= 1

    def dollar(self, in_dq: bool) -> None:
        src = self.src
        start = self.pos
        opening = self._joined(start + 1)
        nxt = src[opening] if opening < self.n else ""
        self.pos = start + 1
        if nxt not in _DOLLAR_OPENERS or (in_dq and (nxt == "'" or nxt == '"')):
            return
        if opening != self.pos:
            self._replace(opening, "")  # keep the `$`, drop the continuations after it
        if nxt == "(":
            second = self._joined(opening + 1)
            if src.startswith("(", second):
                end = self.matching_close(second + 1, _PAREN_PROBE, "(", ")")
                closing = self._joined(end + 1) if end >= 0 else -1
                # bash: `$((` is arithmetic only if its first unmatched `)` is followed by `)`.
                if end >= 0 and src.startswith(")", closing):
                    self._flush()
                    subs = self.collect_arithmetic(start, second + 1, end)
                    self._drop_and_emit(closing + 1, f"({ARITH}{_as_words(subs)})")
                    return
                # bashlex reads every `$((` as arithmetic; a space keeps it a subshell.
                self.pos = opening + 1
                self._replace(second, " ")
            self.pos = opening + 1
            self.substitution_body(start)
        elif nxt == "{":
            self.braces(start, opening, in_dq)
        elif nxt == "[":  # deprecated $[ expr ] arithmetic
            end = self.matching_close(opening + 1, _BRACKET_PROBE, "[", "]")
            if end < 0:
                raise self._error("unterminated $[", start)
            self._flush()
            subs = self.collect_arithmetic(start, opening + 1, end)
            self._drop_and_emit(end + 1, f"({ARITH}{_as_words(subs)})")
        elif nxt == "'":
            self.skip_ansi_c()
        else:
            self.double_quote()

    def braces(self, start: int, opening: int, in_dq: bool) -> None:
        """Scan `${ ... }` (`{` at `opening`), rewriting what it contains."""
        src = self.src
        n = self.n
        self._enter(start)
        self.pos = opening + 1
        nesting = 0
        while True:
            pos = self.pos
            if pos >= n:
                raise self._error("unterminated ${", start)
            c = src[pos]
            if c == "}":
                self.pos = pos + 1
                if nesting == 0:
                    break
                nesting -= 1
            elif c == "{":
                nesting += 1
                self.pos = pos + 1
            elif c == '"':
                self.double_quote()
            elif c == "'":
                # Inside "${...}" a single quote is an ordinary character.
                if in_dq:
                    self.pos = pos + 1
                else:
                    self.skip_single_quote()
            elif c == "\\":
                if src.startswith("\n", pos + 1):
                    self._replace(pos + 2, "")
                else:
                    self.pos = min(pos + 2, n)
            elif c == "$":
                self.dollar(in_dq)
            elif c == "`":
                self.backtick(in_dq)
            else:
                self.pos = _BRACE_RUN.match(src, pos).end()  # type: ignore[union-attr]
        self.depth -= 1

    def backtick(self, in_dq: bool) -> None:
        """Scan `` `...` ``; its unescaped text is a script, rewritten by a sub-scanner."""
        src = self.src
        start = self.pos
        at = start + 1
        nested = False
        while True:
            match = _BACKTICK_END.search(src, at)
            if match is None:
                raise self._error("unterminated backquote", start)
            if match.group() == "`":
                end = match.start()
                break
            if src.startswith("`", match.end()):
                nested = True
            at = match.end() + 1
        raw = src[start + 1 : end]
        escapes = _BACKTICK_ESCAPES_IN_DQ if in_dq else _BACKTICK_ESCAPES
        inner = escapes.sub(r"\1", raw) if "\\" in raw else raw
        if self.depth + 1 > MAX_DEPTH:
            raise self._error(f"nesting deeper than {MAX_DEPTH}", start)
        rewritten = _Scanner(inner, self.ledger, self.depth + 1, self.base + start + 1).run()
        # bashlex cannot parse escaped nested backquotes, so those also become $( ); the
        # newline keeps bashlex from rejecting a list joined by ; & && || before the `)`.
        if nested or rewritten != inner:
            ending = "" if rewritten.endswith("\n") else "\n"
            self._replace(end + 1, f"$({rewritten}{ending})")
        else:
            self.pos = end + 1

    # ----- substitution collection (for constructs replaced by pseudo-commands) -----------

    def collect_item(self, subs: list[str], in_dq: bool) -> bool:
        """Consume a quote, escape or expansion at pos, adding substitutions to `subs`."""
        c = self.src[self.pos]
        if c == "$":
            self.collect_dollar(subs, in_dq)
        elif c == "`":
            subs.append(f'"{self._capture(self.backtick, in_dq)}"')
        elif c == "\\":
            self.pos = min(self.pos + 2, self.n)
        elif in_dq:
            return False
        elif c == "'":
            self.skip_single_quote()
        elif c == '"':
            self.collect_double_quote(subs)
        else:
            return False
        return True

    def collect_dollar(self, subs: list[str], in_dq: bool) -> None:
        src = self.src
        start = self.pos
        opening = self._joined(start + 1)
        nxt = src[opening] if opening < self.n else ""
        if nxt not in _DOLLAR_OPENERS or (in_dq and (nxt == "'" or nxt == '"')):
            self.pos = start + 1
            return
        if nxt == "(":
            second = self._joined(opening + 1)
            if src.startswith("(", second):
                end = self.matching_close(second + 1, _PAREN_PROBE, "(", ")")
                closing = self._joined(end + 1) if end >= 0 else -1
                if end >= 0 and src.startswith(")", closing):
                    subs.extend(self.collect_arithmetic(start, second + 1, end))
                    self.pos = closing + 1
                    return
            subs.append(f'"{self._capture(self.dollar, in_dq)}"')
        elif nxt == "{":
            self.collect_braces(subs, start, opening, in_dq)
        elif nxt == "[":
            end = self.matching_close(opening + 1, _BRACKET_PROBE, "[", "]")
            if end < 0:
                raise self._error("unterminated $[", start)
            subs.extend(self.collect_arithmetic(start, opening + 1, end))
            self.pos = end + 1
        elif nxt == "'":
            self.pos = opening
            self.skip_ansi_c()
        else:
            self.pos = opening
            self.collect_double_quote(subs)

    def collect_double_quote(self, subs: list[str]) -> None:
        src = self.src
        start = self.pos
        self._enter(start)
        self.pos = start + 1
        while True:
            if self.pos >= self.n:
                raise self._error("unterminated double quote", start)
            if src[self.pos] == '"':
                self.pos += 1
                break
            if not self.collect_item(subs, in_dq=True):
                self.pos += 1
        self.depth -= 1

    def collect_braces(self, subs: list[str], start: int, opening: int, in_dq: bool) -> None:
        src = self.src
        self._enter(start)
        self.pos = opening + 1
        nesting = 0
        while True:
            pos = self.pos
            if pos >= self.n:
                raise self._error("unterminated ${", start)
            c = src[pos]
            if c == "}":
                self.pos = pos + 1
                if nesting == 0:
                    break
                nesting -= 1
            elif c == "{":
                nesting += 1
                self.pos = pos + 1
            elif c == '"':
                self.collect_double_quote(subs)
            elif c == "'" and not in_dq:
                self.skip_single_quote()
            elif not self.collect_item(subs, in_dq=True):
                self.pos = pos + 1
        self.depth -= 1

    def collect_arithmetic(self, start: int, begin: int, end: int) -> list[str]:
        """Substitutions inside the arithmetic text src[begin:end]."""
        self._enter(start)
        subs: list[str] = []
        self.pos = begin
        while self.pos < end:
            if not self.collect_item(subs, in_dq=False):
                self.pos += 1
        if self.pos != end:
            raise self._error("arithmetic expression with unbalanced quoting", start)
        self.depth -= 1
        return subs

    def matching_close(self, at: int, probe: re.Pattern[str], opening: str, closing: str) -> int:
        """Index of the first unmatched `closing` from `at`, skipping quotes; -1 if none.

        A cheap non-recursive look-ahead, like bash's own, used to tell `$((`/`((` arithmetic
        from a substitution or subshell that starts with a subshell. Every nested opening it
        passes is answered too and cached, so nested look-aheads cost linear time in total.
        """
        cache = self.close_cache.setdefault(opening, {})
        known = cache.get(at)
        if known is not None:
            return known
        src = self.src
        start = at
        found = -1
        openings: list[int] = []  # positions just after each unmatched opening
        while True:
            match = probe.search(src, at)
            if match is None:
                break
            i = match.start()
            ch = src[i]
            if ch == opening:
                openings.append(i + 1)
                at = i + 1
            elif ch == closing:
                if not openings:
                    found = i
                    break
                cache[openings.pop()] = i
                at = i + 1
            elif ch == "\\":
                at = i + 2
            elif ch == "'":
                at = src.find("'", i + 1) + 1
                if at == 0:
                    break
            else:
                at = self._skip_quoted(i + 1, _DQ_PROBE if ch == '"' else _BACKTICK_END)
                if at < 0:
                    break
        for position in openings:
            cache[position] = -1
        cache[start] = found
        return found

    def _skip_quoted(self, at: int, ender: re.Pattern[str]) -> int:
        """Position after the unescaped end of a quoted string from `at`; -1 if unterminated."""
        while True:
            match = ender.search(self.src, at)
            if match is None:
                return -1
            if match.group() != "\\":
                return match.end()
            at = match.end() + 1

    # ----- rewritten constructs -----------------------------------------------------------

    def cond(self) -> None:
        """`[[ ... ]]` -> __capfence_cond__ plus the substitutions inside, one word each."""
        src = self.src
        n = self.n
        start = self.pos
        self._flush()
        self._enter(start)
        self.pos = start + 2
        subs: list[str] = []
        word_start = True
        while True:
            pos = self.pos
            if pos >= n:
                raise self._error("unterminated [[", start)
            c = src[pos]
            if c == " " or c == "\t":
                self.pos = pos + 1
                word_start = True
                continue
            if c == "\n":
                self.newline(keep=False)
                word_start = True
                continue
            if c == "\\" and src.startswith("\n", pos + 1):
                self.pos = pos + 2  # a continuation does not end the word or start one
                continue
            if word_start and c == "]":
                second = self._joined(pos + 1)
                if src.startswith("]", second) and self._delimited(self._joined(second + 1)):
                    self.pos = second + 1
                    break
            if word_start:
                if c == "#":  # bash's lexer starts a comment here even inside [[ ]]
                    end = src.find("\n", pos)
                    self.pos = n if end < 0 else end
                    continue
            if c in "<>" and src.startswith("(", self._joined(pos + 1)):
                subs.append(self._capture(self.process_substitution))
                word_start = False
                continue
            if c in _META:  # && || ( ) < > are operands' separators, not list operators, here
                self.pos = pos + 1
                word_start = True
                continue
            if not self.collect_item(subs, in_dq=False):
                self.pos = pos + 1
            word_start = False
        self.depth -= 1
        self._drop_and_emit(self.pos, COND + _as_words(subs))

    def process_substitution(self) -> None:
        start = self.pos
        opening = self._joined(start + 1)
        self.pos = start + 1
        if opening != self.pos:
            self._replace(opening, "")
        self.pos = opening + 1
        self.substitution_body(start)

    def arith_command(self) -> bool:
        """`(( ... ))` at command position -> __capfence_arith__; False if it is `( (...) )`."""
        src = self.src
        start = self.pos
        end = self.matching_close(start + 2, _PAREN_PROBE, "(", ")")
        closing = self._joined(end + 1) if end >= 0 else -1
        if end < 0 or not src.startswith(")", closing):
            return False
        self._flush()
        subs = self.collect_arithmetic(start, start + 2, end)
        self._drop_and_emit(closing + 1, ARITH + _as_words(subs))
        return True

    def for_keyword(self, keyword: str) -> bool:
        """`select` -> `for`; `for (( ... ))` -> `for __capfence_i__ in ...`.

        Returns True when a `;` was inserted, so the next word is in command position.
        """
        src = self.src
        start = self.pos
        after = start + len(keyword)
        if keyword == "select":
            self._replace(after, "for   ")
            return False
        at = self._skip_blanks(after)
        if not src.startswith("((", at):
            self.pos = after
            return False
        end = self.matching_close(at + 2, _PAREN_PROBE, "(", ")")
        closing = self._joined(end + 1) if end >= 0 else -1
        if end < 0 or not src.startswith(")", closing):
            raise self._error("unterminated for ((", start)
        self._flush()
        subs = self.collect_arithmetic(start, at + 2, end)
        end = closing - 1
        following = self._skip_blanks(end + 2)
        # bash allows `for ((;;)) do`; bashlex needs a separator before `do`.
        separate = following < self.n and src[following] not in ";\n#"
        words = " ".join(subs) if subs else "1"
        self._drop_and_emit(end + 2, f"for {FOR_VARIABLE} in {words}{';' if separate else ''}")
        return separate

    def time_keyword(self) -> None:
        """Blank out `time`, `time -p`, `time --` (bash's options to the keyword)."""
        src = self.src
        start = self.pos
        end = start + 4
        at = self._skip_blanks(end)
        if src.startswith("-p", at) and self._delimited(at + 2):
            end = at + 2
            at = self._skip_blanks(end)
        if src.startswith("--", at) and self._delimited(at + 2):
            end = at + 2
            at = self._skip_blanks(end)
        # A bare `time` times an empty pipeline; keep a no-op so the list stays parseable.
        alone = at >= self.n or src[at] in ";\n&|)#"
        self._replace(end, (":" if alone else " ") + " " * (end - start - 1))

    def coproc(self) -> None:
        """Drop `coproc` (and the NAME that only a compound command may have)."""
        src = self.src
        start = self.pos
        end = start + 6
        at = self._skip_blanks(end)
        if not self.compound_command_at(at):
            name = _NAME.match(src, at)
            if name is not None and self._delimited(name.end()):
                if self.compound_command_at(self._skip_blanks(name.end())):
                    end = name.end()
        self._replace(end, " " * (end - start))

    def compound_command_at(self, at: int) -> bool:
        src = self.src
        if src.startswith("(", at):
            return True
        if src.startswith("{", at) or src.startswith("[[", at):
            return self._delimited(at + (1 if src[at] == "{" else 2))
        keyword = _KEYWORD.match(src, at)
        if keyword is None or keyword.group() not in _COMPOUND_KEYWORDS:
            return False
        return self._delimited(keyword.end())

    def array_literal(self) -> None:
        """`name=(a b)` -> `name="$(__capfence_array__ a b)"`, elements kept as written."""
        src = self.src
        n = self.n
        start = self.pos
        self.pos = start + 1
        self._replace(start + 2, f'"$({ARRAY} ')
        self._enter(start)
        while True:
            pos = self.pos
            if pos >= n:
                raise self._error("unterminated array literal", start)
            c = src[pos]
            if c == ")":
                self._replace(pos + 1, ')"')
                break
            if c == "\n":
                # bash does not read pending heredoc bodies at newlines inside ( ).
                self._replace(pos + 1, " ")
            elif c == " " or c == "\t":
                self.pos = pos + 1
            elif c == "\\" and src.startswith("\n", pos + 1):
                self._replace(pos + 2, "")
            elif c == "#":
                end = src.find("\n", pos)
                self._replace(n if end < 0 else end, "")
            elif c in _META and not (c in "<>" and src.startswith("(", pos + 1)):
                raise self._error(f"unexpected {c!r} in array literal", pos)
            else:
                self.read_word(arrays_ok=False)
        self.depth -= 1

    def case(self) -> None:
        """`case W in P) B;; ... esac` -> `{ __capfence_case__ W <pattern subs>; B ; ... ; }`."""
        src = self.src
        start = self.pos
        self._flush()
        self._enter(start)
        self.pos = self._skip_blanks_and_continuations(start + 4)
        if self.pos >= self.n or src[self.pos] in _META:
            raise self._error("case without a word", start)
        word = self._capture(self.read_word, False)
        self.skip_separators()
        after_in = self._keyword_end(self.pos, "in")
        if after_in < 0:
            raise self._error("case without 'in'", start)
        self.pos = after_in
        subs: list[str] = []
        bodies: list[str] = []
        while True:
            self.skip_separators()
            pos = self.pos
            if pos >= self.n:
                raise self._error("case without esac", start)
            after_esac = self._keyword_end(pos, "esac")
            if after_esac >= 0:
                self.pos = after_esac
                break
            if src[pos] == "(":
                self.pos = pos + 1
            self.case_patterns(subs, start)
            body = self._capture(self.scan_list, _STOP_CASE).strip()
            if body:
                bodies.append(body if body.endswith((";", "&")) else body + " ;")
            pos = self.pos
            if src.startswith(";", pos):
                second = self._joined(pos + 1)
                self.pos = second + 1  # ;; or ;&
                if src.startswith(";", second):
                    third = self._joined(second + 1)
                    if src.startswith("&", third):
                        self.pos = third + 1  # ;;&
            elif self._keyword_end(pos, "esac") < 0:
                raise self._error("case without esac", start)
        self.depth -= 1
        self._drop_and_emit(self.pos, f"{{ {CASE} {word}{_as_words(subs)};{_as_words(bodies)} }}")

    def case_patterns(self, subs: list[str], start: int) -> None:
        """Skip `pat | pat )`, collecting the substitutions the patterns contain."""
        src = self.src
        nesting = 0  # extglob groups such as @(a|b)
        while True:
            self.pos = self._skip_blanks_and_continuations(self.pos)
            pos = self.pos
            if pos >= self.n:
                raise self._error("unterminated case pattern", start)
            c = src[pos]
            if c == ")":
                self.pos = pos + 1
                if nesting == 0:
                    return
                nesting -= 1
            elif c == "(":
                nesting += 1
                self.pos = pos + 1
            elif c == "|":
                self.pos = pos + 1
            elif c in _META:
                raise self._error(f"unexpected {c!r} in case pattern", pos)
            elif not self.collect_item(subs, in_dq=False):
                self.pos = pos + 1

    def skip_separators(self) -> None:
        """Drop blanks, newlines and comments (inside a case statement's frame)."""
        src = self.src
        while self.pos < self.n:
            pos = self.pos
            c = src[pos]
            if c == " " or c == "\t":
                self.pos = pos + 1
            elif c == "\n":
                self.newline(keep=False)
            elif c == "\\" and src.startswith("\n", pos + 1):
                self.pos = pos + 2
            elif c == "#":
                end = src.find("\n", pos)
                self.pos = self.n if end < 0 else end
            else:
                break
        self.mark = self.pos

    def _skip_blanks_and_continuations(self, at: int) -> int:
        src = self.src
        while True:
            at = self._skip_blanks(at)
            if not src.startswith("\\\n", at):
                return at
            at += 2

    # ----- heredocs -----------------------------------------------------------------------

    def heredoc_operator(self, at: int) -> None:
        """`[n]<<[-]DELIM` -> `[n]<__capfence_heredoc_N__`; the body is read after the newline.

        pos is at the first `<`, `at` after the second.
        """
        src = self.src
        n = self.n
        start = self.pos
        strip_tabs = src.startswith("-", at)
        if strip_tabs:
            at += 1
        at = self._skip_blanks_and_continuations(at)
        word_start = at
        delimiter: list[str] = []
        quoted = False
        while at < n and src[at] not in _META:
            c = src[at]
            if c == "\\" and src.startswith("\n", at + 1):
                at += 2
            elif c == "'" or (c == "$" and src.startswith("'", at + 1)):
                begin = at + 1 if c == "'" else at + 2
                end = src.find("'", begin)
                if end < 0:
                    raise self._error("unterminated quote in heredoc delimiter", at)
                delimiter.append(src[begin:end])
                quoted = True
                at = end + 1
            elif c == '"' or (c == "$" and src.startswith('"', at + 1)):
                at += 1 if c == '"' else 2
                while True:
                    if at >= n:
                        raise self._error("unterminated quote in heredoc delimiter", word_start)
                    if src[at] == '"':
                        at += 1
                        break
                    if src.startswith("\\\n", at):
                        at += 2
                        continue
                    if src[at] == "\\" and at + 1 < n and src[at + 1] in '"\\$`':
                        at += 1
                    delimiter.append(src[at])
                    at += 1
                quoted = True
            elif c == "\\":
                quoted = True
                if at + 1 < n:
                    delimiter.append(src[at + 1])
                at += 2
            else:
                delimiter.append(c)
                at += 1
        if at == word_start:
            raise self._error("heredoc operator without a delimiter", start)
        index = self.ledger.next_index
        self.ledger.next_index += 1
        self.pending.append((index, "".join(delimiter), quoted, strip_tabs))
        self._replace(min(at, n), f"<{HEREDOC_PREFIX}{index}__")

    def read_heredoc_bodies(self) -> None:
        """Consume the bodies of the pending heredocs, in order, starting at pos."""
        src = self.src
        n = self.n
        at = self.pos
        for index, delimiter, quoted, strip_tabs in self.pending:
            body: list[str] = []
            while at < n:
                line_start = len(body)
                logical: list[str] = []
                while True:
                    end = src.find("\n", at)
                    line = src[at : n if end < 0 else end]
                    body.append(line.lstrip("\t") if strip_tabs and not logical else line)
                    if end < 0:
                        at = n
                        logical.append(line)
                        break
                    body.append("\n")
                    at = end + 1
                    # bash joins backslash-newline lines of unquoted heredocs before comparing
                    # with the delimiter: `E\` + `OF` ends a body delimited by EOF.
                    trailing = len(line) - len(line.rstrip("\\"))
                    if quoted or trailing % 2 == 0:
                        logical.append(line)
                        break
                    logical.append(line[:-1])
                candidate = "".join(logical)
                if strip_tabs:
                    candidate = candidate.lstrip("\t")
                if candidate == delimiter:
                    del body[line_start:]
                    break
            self.ledger.records.append(Heredoc(index, "".join(body), quoted, delimiter))
        self.pending = []
        self.pos = self.mark = at


def _needs_scan(text: str) -> bool:
    for trigger in _TRIGGERS:
        if trigger in text:
            return True
    # A substitution whose list is joined by ; & && || needs a newline added for bashlex.
    return ("$(" in text or "<(" in text or ">(" in text) and ("&" in text or ";" in text or "||" in text)


def _as_words(words: list[str]) -> str:
    return "".join(" " + word for word in words)
