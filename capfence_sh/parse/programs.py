"""From a command word to the program that runs, and to the handler that knows what that program does.

Handlers live in builtins.py (shell state), wrappers.py (commands that run other commands), shells.py (nested
shells and interpreters) and classify.py (everything else with a capability). A program with no handler is
`proc.exec`, and every path it is given may be touched in any way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from capfence_sh.actions import Access
from capfence_sh.parse import paths
from capfence_sh.parse.options import parse_options
from capfence_sh.parse.words import Field

if TYPE_CHECKING:
    from capfence_sh.parse.walker import Call, Outcome

Handler = Callable[["Call"], "Outcome"]
HANDLERS: dict[str, Handler] = {}
PREFIX_HANDLERS: list[tuple[str, Handler]] = []
_loaded = False

_VERSIONED = re.compile(r"^(python|pypy|pip|perl|ruby|php|lua|luajit|node|nodejs|gawk|tclsh|wish|irb|gem|bundle|"
                        r"psql|pg_\w+|clang|gcc|g\+\+|java|javac|go|bash|zsh|ksh|dash)[-\d.]*?(\d+(\.\d+)*)?$")
_FAMILIES = {"pypy": "python", "python": "python", "pip": "pip", "nodejs": "node", "luajit": "lua"}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            if name.endswith("*"):
                PREFIX_HANDLERS.append((name[:-1], fn))
            else:
                HANDLERS[name] = fn
        return fn

    return register


def _load() -> None:
    global _loaded
    if not _loaded:
        from capfence_sh.parse import builtins, classify, shells, vcs_cloud, wrappers  # noqa: F401  (register)

        _loaded = True


def normalise_program(name: str) -> str:
    """`/usr/bin/python3.11` -> python, `RM` -> rm, `pip3` -> pip."""
    base = name.rsplit("/", 1)[-1].lower()
    match = _VERSIONED.match(base)
    if match:
        family = match.group(1)
        return _FAMILIES.get(family, family)
    return base


def handler_for(program: str) -> Handler | None:
    _load()
    found = HANDLERS.get(program)
    if found is not None:
        return found
    for prefix, fn in PREFIX_HANDLERS:
        if program.startswith(prefix):
            return fn
    return None


def dispatch(call: Call) -> Outcome:
    _load()
    first = call.argv[0]
    if not first.known or first.glob or first.decoded:
        why = "command name is a glob" if first.glob and first.known else "command name is not known statically"
        return call.dynamic(f"{why}: {first.value}")
    name = first.value
    if not name:
        return call.dynamic("empty command name")
    state = call.state
    if "/" not in name and name in state.functions:
        from capfence_sh.parse.walker import Outcome

        outcome = call.analyser.call_function(name, call.args, state, call.where)
        return Outcome(outcome.action, outcome.stdout)
    if "/" in name:
        path = paths.normalise(name, call.cwd)
        copied = state.shared.programs.get(path)
        if copied:
            call.program = copied
            return _run(call, copied)
        if path in state.shared.files:
            return run_written_script(call, path)
    program = normalise_program(name)
    if "/" in name and not _in_system_bin(paths.normalise(name, call.cwd)):
        # `./cat`, `.venv/bin/rm`: a file that happens to share a system program's name. Analyse it as that
        # program, and also as the unknown executable it is (a local `cat` may do anything).
        call.emit(("proc.exec",), call.target(first, Access.EXEC), program=program,
                  note=f"runs {name}, a file outside the system program directories")
    if program.startswith("git-") and len(program) > 4:
        # Dashed git helpers (`git-reset --hard`) are git subcommands.
        call.program = "git"
        return _run(call, "git", subcommand_prefix=[Field(program[4:])])
    call.program = program
    return _run(call, program)


_SYSTEM_BIN = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/", "/usr/libexec/",
               "/opt/homebrew/bin/", "/snap/bin/", "/usr/games/")


def _in_system_bin(path: str) -> bool:
    return path.startswith(_SYSTEM_BIN)


def _run(call: Call, program: str, subcommand_prefix: list[Field] | None = None) -> Outcome:
    if subcommand_prefix:
        call.argv = [call.argv[0], *subcommand_prefix, *call.argv[1:]]
    handler = handler_for(program)
    if handler is None:
        return generic(call)
    outcome = handler(call)
    if any(f.decoded for f in call.argv[1:]):
        # An argument decoded at run time (`cat "$(echo fi4v | base64 -d)"`) hides what the command touches.
        call.dynamic(f"{program}: an argument is decoded at run time")
    return outcome


def generic(call: Call) -> Outcome:
    """A program the gate has no knowledge of: it runs, and may do anything to the paths it is given."""
    parsed = parse_options(call.args)
    targets = []
    for operand in parsed.operands:
        targets.extend(call.target(operand, Access.ANY))
    for values in parsed.values.values():
        for value in values:
            if value.known and ("/" in value.value or "." in value.value):
                targets.extend(call.target(value, Access.ANY))
    return call.outcome(call.emit(("proc.exec",), targets, flags=frozenset(parsed.flags)))


def run_written_script(call: Call, path: str) -> Outcome:
    """`./x.sh` where x.sh was written earlier in the same script: its content is what runs."""
    content = call.state.shared.files.get(path)
    action = call.emit(("shell.exec",), call.target(call.argv[0], Access.EXEC), program=call.program or "script")
    if path in call.state.shared.downloaded:
        call.emit(("net.exec",), note=f"runs {path}, downloaded earlier in this script")
        return call.outcome(action)
    if content is None:
        call.dynamic(f"runs {path}, written earlier in this script with content not known statically")
        return call.outcome(action)
    from capfence_sh.parse.shells import run_file_content

    run_file_content(call, content, path, call.args)
    return call.outcome(action)
