"""What every reader yields, whatever the input format: a command someone proposed, or a line that is not one.

Readers never decide anything; they turn a file's lines into these records. A reader yields exactly one event per
line it consumes that is not a command (skipped or malformed), so the summary can count them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from capfence_sh.decision import Decision


@dataclass(frozen=True, slots=True)
class ProposedCommand:
    """One command as it was proposed, with what the record says about where it ran."""

    text: str  # the script; for an argv, the argv shell-quoted (for display)
    source: str  # file:line (or <stdin>:line) where the record starts
    format: str  # the reader that produced it: audit, jsonl, text, bash-history, zsh-history, claude, codex
    argv: tuple[str, ...] | None = None  # set when the command is an argv to decide as such (no shell)
    cwd: str = ""  # "" when the record does not say
    workspace: str = ""  # the workspace the gate used (audit records); "" when unknown
    environment: str = ""  # the environment name the record names; "" when it names none
    actor: str = ""
    original: Decision | None = None  # the decision recorded with the command, when there is one
    original_rule: str = ""
    timestamp: str = ""


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """A line that is not a command (a chat message, an outcome record, a comment): counted, not reported."""

    source: str
    why: str


@dataclass(frozen=True, slots=True)
class MalformedLine:
    """A line that should have been a record of the format and is not: reported, and replay goes on."""

    source: str
    problem: str


ReadEvent = ProposedCommand | SkippedLine | MalformedLine

_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "busybox-sh"})
# Options that only change how the shell starts, not what the script does; anything else (-e, -x, -o ...) keeps
# the argv form, which the analyser reads exactly as the shell would.
_QUIET_LONG = frozenset({"--login", "--norc", "--noprofile", "--noediting"})


def shell_script_of(argv: list[str] | tuple[str, ...]) -> str | None:
    """The script of `bash -lc SCRIPT`, `sh -c SCRIPT`, `zsh -lc SCRIPT` (agents wrap every command so); None
    for any other argv, including a `-c` with positional arguments after the script, whose `$0`, `$1` only the
    argv form keeps."""
    if len(argv) < 3 or os.path.basename(argv[0]) not in _SHELLS:
        return None
    k = 1
    seen_c = False
    while k < len(argv) - 1:
        arg = argv[k]
        if arg in _QUIET_LONG:
            k += 1
            continue
        if len(arg) < 2 or arg[0] != "-" or arg[1] == "-" or not set(arg[1:]) <= {"l", "i", "c"}:
            return None
        seen_c = seen_c or "c" in arg
        k += 1
        if seen_c:
            break
    if not seen_c or k != len(argv) - 1:
        return None
    return argv[k]


def command_from_argv(argv: list[str], **fields) -> ProposedCommand:
    """An argv as a ProposedCommand: a shell wrapper is unwrapped into the script it runs; anything else is an
    argv, shown shell-quoted."""
    from capfence_sh.parse.walker import shell_quote

    script = shell_script_of(argv)
    if script is not None:
        return ProposedCommand(text=script, **fields)
    return ProposedCommand(text=" ".join(shell_quote(a) for a in argv), argv=tuple(argv), **fields)


def is_argv(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(a, str) for a in value)
