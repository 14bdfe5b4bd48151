"""Command-line option parsing that is independent of spelling: `-rf`, `-fr`, `-r -f`, `-Rf`, `--recursive --force`.

Each program that matters has a spec: which options take a value (so `-C dir` is not read as flags C, d, i, r),
and aliases that map every spelling to one canonical name. Policies name flags by any spelling; both sides are
canonicalised with the same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from capfence_sh.parse.words import Field


@dataclass(frozen=True, slots=True)
class OptSpec:
    short_with_value: str = ""  # letters whose option takes a value: "C" for `git -C dir`
    long_with_value: frozenset[str] = frozenset()  # long names taking a value (`--output file`)
    aliases: dict[str, str] = field(default_factory=dict)  # spelling (letter or long name) -> canonical name
    # Options end at the first operand (wrappers: `sudo -u x CMD -rf` must not read -rf as sudo's flags).
    stop_at_operand: bool = False
    # Single-dash long options (`find -name`, `java -jar`): a "-word" is one option, not a cluster of letters.
    single_dash_long: bool = False
    optional_value_long: frozenset[str] = frozenset()  # `--color[=when]`: a value only with "="


@dataclass(slots=True)
class Parsed:
    flags: set[str] = field(default_factory=set)  # canonical names of every option present
    values: dict[str, list[Field]] = field(default_factory=dict)  # canonical name -> values given
    operands: list[Field] = field(default_factory=list)
    rest: list[Field] = field(default_factory=list)  # with stop_at_operand: the operand and everything after it
    order: list[str] = field(default_factory=list)  # canonical option names in the order given

    def has(self, *names: str) -> bool:
        return any(name in self.flags for name in names)

    def value(self, *names: str) -> Field | None:
        for name in names:
            got = self.values.get(name)
            if got:
                return got[-1]
        return None

    def all_values(self, *names: str) -> list[Field]:
        out: list[Field] = []
        for name in names:
            out.extend(self.values.get(name, ()))
        return out


GENERIC = OptSpec()


def canonical(spec: OptSpec, name: str) -> str:
    return spec.aliases.get(name, name)


def parse_options(args: list[Field], spec: OptSpec = GENERIC) -> Parsed:
    parsed = Parsed()
    i, n = 0, len(args)
    while i < n:
        arg = args[i]
        text = arg.value
        if not arg.known:
            # An unknown word might be an option or an operand; record it as an operand (the conservative
            # reading for targets) and keep going.
            if spec.stop_at_operand:
                parsed.rest = args[i:]
                return parsed
            parsed.operands.append(arg)
            i += 1
            continue
        if text == "--":
            rest = args[i + 1 :]
            if spec.stop_at_operand:
                parsed.rest = rest
            else:
                parsed.operands.extend(rest)
            return parsed
        if text.startswith("--") and len(text) > 2:
            name, eq, value = text[2:].partition("=")
            key = canonical(spec, name)
            _add_flag(parsed, key)
            if eq:
                parsed.values.setdefault(key, []).append(_sub(arg, value))
            elif name in spec.long_with_value and name not in spec.optional_value_long and i + 1 < n:
                parsed.values.setdefault(key, []).append(args[i + 1])
                i += 1
            i += 1
            continue
        if _is_number(text) and not (len(text) == 2 and text[1] in spec.aliases):
            # `head -20`, `kill -9`, `nice -5`: a numeric option, never a path.
            _add_flag(parsed, text[1:])
            i += 1
            continue
        if text.startswith("-") and len(text) > 1:
            if spec.single_dash_long and len(text) > 2:
                name = text[1:]
                key = canonical(spec, name)
                _add_flag(parsed, key)
                if name in spec.long_with_value and i + 1 < n:
                    parsed.values.setdefault(key, []).append(args[i + 1])
                    i += 1
                i += 1
                continue
            letters = text[1:]
            for k, letter in enumerate(letters):
                key = canonical(spec, letter)
                _add_flag(parsed, key)
                if letter in spec.short_with_value:
                    attached = letters[k + 1 :]
                    if attached:
                        parsed.values.setdefault(key, []).append(_sub(arg, attached))
                    elif i + 1 < n:
                        parsed.values.setdefault(key, []).append(args[i + 1])
                        i += 1
                    break
            i += 1
            continue
        if spec.stop_at_operand:
            parsed.rest = args[i:]
            return parsed
        parsed.operands.append(arg)
        i += 1
    return parsed


def _add_flag(parsed: Parsed, key: str) -> None:
    parsed.flags.add(key)
    parsed.order.append(key)


def _sub(arg: Field, value: str) -> Field:
    if arg.known:
        return Field(value, True, arg.glob, value, value, True)
    return Field(value, False, arg.glob, "", arg.suffix, arg.trusted)


def _is_number(text: str) -> bool:
    """`-20`, `-9`, `-1.5`: a numeric option. A bare number (`chrt 10 cmd`, `kill 1234`) is an operand."""
    return text.startswith("-") and text[1:].replace(".", "", 1).isdigit()


# Flag aliases of the programs whose flags policies commonly name. Programs absent here use their spellings
# as written (`-x` -> "x", `--long` -> "long").
FLAG_ALIASES: dict[str, dict[str, str]] = {
    "rm": {"r": "recursive", "R": "recursive", "recursive": "recursive", "f": "force", "force": "force",
           "i": "interactive", "I": "interactive", "d": "dir", "dir": "dir", "v": "verbose",
           "no-preserve-root": "no-preserve-root", "preserve-root": "preserve-root", "one-file-system": "one-file-system"},
    "cp": {"r": "recursive", "R": "recursive", "recursive": "recursive", "a": "archive", "archive": "archive",
           "f": "force", "force": "force", "t": "target-directory", "target-directory": "target-directory",
           "T": "no-target-directory", "no-target-directory": "no-target-directory", "S": "suffix"},
    "mv": {"f": "force", "force": "force", "t": "target-directory", "target-directory": "target-directory",
           "T": "no-target-directory", "no-target-directory": "no-target-directory", "S": "suffix"},
    "chmod": {"R": "recursive", "recursive": "recursive", "f": "silent", "v": "verbose", "c": "changes"},
    "chown": {"R": "recursive", "recursive": "recursive", "h": "no-dereference", "v": "verbose"},
    "chgrp": {"R": "recursive", "recursive": "recursive"},
    "git": {"f": "force", "force": "force", "n": "dry-run", "dry-run": "dry-run", "d": "delete", "delete": "delete",
            "D": "force-delete", "q": "quiet", "v": "verbose", "a": "all", "all": "all", "m": "message",
            "message": "message", "u": "set-upstream", "set-upstream": "set-upstream"},
    "kubectl": {"A": "all-namespaces", "all-namespaces": "all-namespaces", "n": "namespace",
                "namespace": "namespace", "f": "filename", "filename": "filename", "l": "selector",
                "selector": "selector"},
    "curl": {"o": "output", "output": "output", "O": "remote-name", "remote-name": "remote-name",
             "d": "data", "data": "data", "F": "form", "form": "form", "T": "upload-file",
             "upload-file": "upload-file", "X": "request", "request": "request", "H": "header", "header": "header",
             "L": "location", "location": "location", "s": "silent", "silent": "silent", "S": "show-error",
             "f": "fail", "fail": "fail", "k": "insecure", "insecure": "insecure", "u": "user", "user": "user",
             "K": "config", "config": "config"},
    "wget": {"O": "output-document", "output-document": "output-document", "q": "quiet", "P": "directory-prefix",
             "directory-prefix": "directory-prefix", "i": "input-file", "input-file": "input-file"},
    "tar": {"c": "create", "create": "create", "x": "extract", "extract": "extract", "get": "extract",
            "t": "list", "list": "list", "f": "file", "file": "file", "C": "directory", "directory": "directory",
            "r": "append", "append": "append", "u": "update", "update": "update", "z": "gzip", "j": "bzip2",
            "J": "xz", "v": "verbose", "I": "use-compress-program", "use-compress-program": "use-compress-program",
            "T": "files-from", "files-from": "files-from", "A": "catenate", "remove-files": "remove-files"},
    "sed": {"i": "in-place", "in-place": "in-place", "e": "expression", "expression": "expression",
            "f": "file", "file": "file", "n": "quiet", "quiet": "quiet", "silent": "quiet", "E": "regexp-extended",
            "r": "regexp-extended", "s": "separate", "z": "null-data"},
    "docker": {"f": "force", "force": "force", "a": "all", "all": "all", "v": "volumes", "volumes": "volumes",
               "it": "interactive-tty", "i": "interactive", "t": "tty", "d": "detach", "rm": "rm"},
    "dd": {},
    "find": {},
    "sudo": {"u": "user", "user": "user", "g": "group", "group": "group", "E": "preserve-env",
             "preserve-env": "preserve-env", "i": "login", "login": "login", "s": "shell", "shell": "shell",
             "n": "non-interactive", "non-interactive": "non-interactive"},
}

_SPEC_CACHE: dict[str, OptSpec] = {}


def aliases_for(program: str) -> dict[str, str]:
    return FLAG_ALIASES.get(program, {})


def canonical_flag(program: str, flag: str) -> str:
    """Canonical name of a flag as a policy writes it: "-r", "--recursive", "recursive", "R" all -> "recursive"."""
    name = flag.lstrip("-") if flag.startswith("-") else flag
    table = aliases_for(program)
    return table.get(name, name)
