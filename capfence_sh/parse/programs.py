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
    if call.assignments and not (first.known and normalise_program(first.value) == "env"):
        # `GIT_PAGER='...' git log`, `LD_PRELOAD=./x.so ls`: variables that the program runs or loads. (env
        # hands its assignments to the command it runs, which is checked here in turn.)
        from capfence_sh.parse.shells import dangerous_assignments

        dangerous_assignments(call, call.assignments)
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
    if "/" not in name and name in state.hashed and name not in SHELL_BUILTINS:
        hashed = state.hashed[name]
        if hashed is None:
            return call.dynamic(f"{name} is hashed to a path not known statically")
        name = hashed
    if "/" not in name and name not in SHELL_BUILTINS and (state.shared.programs or state.shared.files):
        # `cp /bin/rm /tmp/ls; PATH=/tmp:$PATH ls -rf /`: a bare name runs the first file of that name on PATH,
        # which may be one this script created.
        found = _created_on_path(call, name)
        if found and found in state.shared.programs:
            call.program = state.shared.programs[found]
            return _run(call, call.program)
        if found:
            return run_written_script(call, found)
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
        # program, and also as the unknown executable it is (a local `cat` may do anything, to any path it is
        # given: `/tmp/ls -rf /` may be a renamed rm from an earlier command).
        parsed = parse_options(call.args)
        call.emit(("proc.exec",), call.target(first, Access.EXEC) + _operand_targets(call, parsed), program=program,
                  flags=frozenset(parsed.flags), note=f"runs {name}, a file outside the system program directories")
    if program.startswith("git-") and len(program) > 4:
        # Dashed git helpers (`git-reset --hard`) are git subcommands.
        call.program = "git"
        return _run(call, "git", subcommand_prefix=[Field(program[4:])])
    call.program = program
    return _run(call, program)


# Names bash runs as builtins whatever files PATH holds.
SHELL_BUILTINS = frozenset({
    ".", ":", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen", "complete",
    "compopt", "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit", "export",
    "false", "fc", "fg", "getopts", "hash", "help", "history", "jobs", "kill", "let", "local", "logout",
    "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "set", "shift",
    "shopt", "source", "suspend", "test", "times", "trap", "true", "type", "typeset", "ulimit", "umask",
    "unalias", "unset", "wait",
})


def _created_on_path(call: Call, name: str) -> str:
    """The file named `name` that this script created (copied, linked, written, downloaded) and that the
    current PATH would find first; "" when there is none."""
    shared = call.state.shared
    search = None
    for assigned, value in call.assignments:
        if assigned == "PATH":
            search = value  # `PATH=/tmp:$PATH ls`: the lookup itself uses the temporary value
    if search is None:
        search = call.analyser.lookup_field("PATH", call.state)
    suffix = "/" + name
    created = [p for p in (*shared.programs, *shared.files) if p.endswith(suffix) or p == name]
    if not created:
        return ""
    if search is None or not search.known:
        # PATH is not known: any directory holding such a file may be on it.
        return created[0]
    cwds = call.state.cwds
    for entry in search.value.split(":"):
        # An empty entry or "." is the working directory; relative entries follow it.
        directories = [paths.normalise(entry or ".", cwd) for cwd in cwds] if not entry.startswith("/") else [
            paths.normalise(entry, "")]
        for directory in directories:
            if not directory.startswith("/"):
                # The working directory is not known: a file created in any directory might be the one.
                return created[0]
            candidate = directory.rstrip("/") + suffix
            if candidate in shared.programs or candidate in shared.files:
                return candidate
    return ""


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
    return call.outcome(call.emit(("proc.exec",), _operand_targets(call, parsed), flags=frozenset(parsed.flags)))


def _operand_targets(call: Call, parsed) -> list:
    targets = []
    for operand in parsed.operands:
        targets.extend(call.target(operand, Access.ANY))
    for values in parsed.values.values():
        for value in values:
            if value.known and ("/" in value.value or "." in value.value):
                targets.extend(call.target(value, Access.ANY))
    return targets


def run_written_script(call: Call, path: str) -> Outcome:
    """`./x.sh` where x.sh was written earlier in the same script: its content is what runs."""
    content = call.state.shared.files.get(path)
    action = call.emit(("shell.exec",), call.target(Field(path), Access.EXEC), program=call.program or "script")
    if path in call.state.shared.downloaded:
        call.emit(("net.exec",), note=f"runs {path}, downloaded earlier in this script")
        return call.outcome(action)
    if content is None:
        call.dynamic(f"runs {path}, written earlier in this script with content not known statically")
        return call.outcome(action)
    from capfence_sh.parse.shells import run_file_content

    run_file_content(call, content, path, call.args)
    return call.outcome(action)
