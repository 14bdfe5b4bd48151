"""The vocabulary every step speaks: what a proposed command would do, as data.

A script becomes a tuple of `Action`s, one per command that would run (including the commands hidden in
substitutions, nested shells, wrappers and inline interpreter programs). Policies match on these, never on raw text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    PERM = "perm"
    EXEC = "exec"
    ANY = "any"  # a program the gate does not know was given this path: it may do anything to it


@dataclass(frozen=True, slots=True)
class Target:
    """A path an action touches, normalised against the directory the action runs in.

    `known` is False when part of the path comes from something the gate cannot know (an unset variable in a
    hook, a command substitution): `path` then holds the known prefix followed by the unknown part as written,
    and `prefix` holds the directory the path is certain to be under ("" when nothing is certain).
    """

    path: str
    access: Access
    known: bool = True
    prefix: str = ""
    recursive: bool = False  # the whole tree under `path` is touched (rm -r, cp -r, tar c, chmod -R)
    glob: bool = False  # `path` is a glob pattern that the shell would expand
    remote: str = ""  # host, for paths on another machine (scp, rsync, ssh payloads)
    suffix: str = ""  # for unknown paths: text the path is certain to end with (`$dir/notes.txt` -> "/notes.txt")


@dataclass(frozen=True, slots=True)
class Redirect:
    fd: int
    op: str  # as written: <  >  >>  <>  >|  &>  &>>  <<  <<<  >&  <&
    target: str  # normalised path, or the heredoc/here-string marker, or the fd duplicated
    mode: str  # read | write | append | readwrite | dup | heredoc | herestring


@dataclass(frozen=True, slots=True)
class Action:
    """One command that would run."""

    program: str  # resolved basename: `/bin/rm`, `\\rm`, `'r'm` all give `rm`; "" when it cannot be known
    written: str  # the command word as written in the source
    argv: tuple[str, ...]  # after quote removal and expansion of what is known
    capabilities: tuple[str, ...]  # e.g. ("fs.delete",); see capfence_sh.parse.capabilities
    targets: tuple[Target, ...] = ()
    subcommand: str = ""  # git push -> "push"; kubectl delete -> "delete"; aws s3 rm -> "s3 rm"
    flags: frozenset[str] = frozenset()  # canonical flag names: rm -Rf / -r -f / --recursive --force -> recursive, force
    cwd: str = ""  # directory it would run in ("" when unknown)
    assignments: tuple[tuple[str, str], ...] = ()  # FOO=1 cmd, env FOO=1 cmd
    redirects: tuple[Redirect, ...] = ()
    stdin: str = ""  # where stdin comes from: "" inherited, "pipe:<program>", "file:<path>", "heredoc", "herestring"
    in_pipeline: bool = False
    via: tuple[str, ...] = ()  # what it is nested in: ("sudo",), ("bash -c",), ("$(...)",), ("find -exec",)
    depth: int = 0  # nesting depth of the analysis that found it
    text: str = ""  # the source text of the command, for explanations
    note: str = ""  # why it is dynamic / unparsed / what an inline program does
    remote: str = ""  # host when the command runs on another machine (ssh host 'cmd')

    @property
    def display(self) -> str:
        return self.text or " ".join(self.argv)


@dataclass(frozen=True, slots=True)
class Analysis:
    """The result of parsing one proposed command."""

    source: str  # the command exactly as proposed (script text, or argv joined with shell quoting)
    actions: tuple[Action, ...]
    form: str = "script"  # "script" (exec -c / bash -c) or "argv" (exec -- prog args, a per-program shim)
    warnings: tuple[str, ...] = field(default=())
