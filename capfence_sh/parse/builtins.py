"""Shell builtins: the ones that change what later commands mean (cd, variables, aliases, set, source, eval,
trap, exec) and the ones that only print (echo, printf), whose output matters when it is piped into a shell."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from capfence_sh.actions import Access
from capfence_sh.parse import paths
from capfence_sh.parse.programs import handles
from capfence_sh.parse.words import Field, decode_ansi_c, literal

if TYPE_CHECKING:
    from capfence_sh.parse.walker import Call, Outcome

BUILTIN = ("shell.builtin",)

# `eval "$(tool ...)"` where the tool prints shell setup code for the current shell: a fixed, well-known
# program's output, not text an agent controls.
_TRUSTED_EVAL = re.compile(
    r"""^\s*(?:builtin\s+)?eval\s+["']?\$\(\s*(?:ssh-agent|pyenv|rbenv|nodenv|goenv|jenv|plenv|direnv|opam|"""
    r"""(?:/\S+/)?brew|conda|micromamba|mamba|fnm|mise|rtx|asdf|starship|zoxide|thefuck|dircolors|"""
    r"""gpg-agent|keychain|luarocks|rustup|nvm|volta|pdm|poetry|uv|gh|kubectl|helm)\b"""
)


@handles("cd")
def cd(call: Call) -> Outcome:
    args = [a for a in call.args if not (a.known and a.value in ("-P", "-L", "-e", "-@", "--"))]
    state = call.state
    before = state.cwds
    if not args:
        home = call.analyser.lookup_field("HOME", state)
        destination = home if home is not None else Field("~", False, False, "", "", False)
    elif args[0].known and args[0].value == "-":
        destination = literal(state.oldpwd) if state.oldpwd else Field("-", False, False, "", "", False)
    else:
        destination = args[0]
    state.oldpwd = state.cwd
    # An unknown destination may still be certain to lie under a directory (`cd "$(mktemp -d)"`, `cd /srv/*`).
    new = tuple(dict.fromkeys(paths.change_directory(cwd, destination) for cwd in before))
    state.cwds = new if all(new) else ("",)
    return call.outcome(call.emit(BUILTIN))


@handles("pushd")
def pushd(call: Call) -> Outcome:
    call.state.dirstack.append(call.state.cwds)
    operands = [a for a in call.args if not (a.known and a.value.startswith(("-", "+")))]
    if operands:
        call.argv = [call.argv[0], operands[0]]
        return cd(call)
    return call.outcome(call.emit(BUILTIN))


@handles("popd")
def popd(call: Call) -> Outcome:
    if call.state.dirstack:
        call.state.cwds = call.state.dirstack.pop()
    else:
        call.state.cwds = ("",)
    return call.outcome(call.emit(BUILTIN))


@handles("export", "declare", "typeset", "local", "readonly")
def declare(call: Call) -> Outcome:
    exports = call.program == "export"
    nameref = False
    assigned: list[tuple[str, Field]] = []
    for arg in call.args:
        text = arg.value
        if arg.known and text.startswith(("-", "+")):
            exports = exports or (text.startswith("-") and "x" in text)
            # `declare -n r=c` makes r another name for c (for export, -n removes the export instead).
            nameref = nameref or (call.program != "export" and text.startswith("-") and "n" in text)
            continue
        name, eq, value = text.partition("=")
        append = name.endswith("+")
        name = name.rstrip("+")
        if not _is_name(name):
            continue
        if eq:
            head = text[: len(text) - len(value)]  # "name=" or "name+="
            if nameref:
                # A reference follows whatever the other variable holds later: not tracked.
                field = Field(f"${{{name}}}", False, False, "", "", False)
            elif append:
                # `export PATH+=:/opt/bin` appends to the current value.
                previous = call.analyser.lookup_field(name, call.state)
                if arg.known and previous is not None and previous.known:
                    field = literal(previous.value + value)
                else:
                    field = Field(f"${name}{value}", False, False, "", "", False)
            elif arg.known:
                field = literal(value)
            else:
                prefix = arg.prefix[len(head) :] if arg.prefix.startswith(head) else ""
                field = Field(value, False, False, prefix, arg.suffix, arg.trusted, arg.decoded, arg.fetched)
            call.state.vars[name] = field
            assigned.append((name, field))
        elif call.program != "export" and name not in call.state.vars:
            call.state.vars[name] = literal("")
    for name, value in call.assignments:
        call.state.vars[name] = value
    _set_names(call, [a.value.partition("=")[0].rstrip("+") for a in call.args
                      if not (a.known and a.value.startswith(("-", "+")))])
    names_given = any(not (a.known and a.value.startswith(("-", "+"))) for a in call.args)
    functions_only = any(a.known and a.value.startswith("-") and ("f" in a.value or "F" in a.value) for a in call.args)
    # `export`, `export -p`, `declare -x`: a listing of variables with their values (tokens included).
    listing = not names_given and not functions_only and call.program in ("export", "declare", "typeset")
    action = call.emit(BUILTIN + ("env.read",) if listing else BUILTIN)
    if exports and assigned:
        # `export GIT_PAGER='...'`, `export LD_PRELOAD=./x.so`: every later program sees them.
        from capfence_sh.parse.shells import dangerous_assignments

        dangerous_assignments(call, [(n, v) for n, v in assigned if not n.startswith("CAPFENCE_")])
    return call.outcome(action)


def _set_names(call: Call, names: list[str]) -> None:
    from capfence_sh.parse.shells import capfence_variables

    capfence_variables(call, [n for n in names if _is_name(n)])


@handles("unset")
def unset(call: Call) -> Outcome:
    functions = any(a.known and a.value == "-f" for a in call.args)
    if not functions:
        _set_names(call, [a.value for a in call.args if not a.value.startswith("-")])
    for arg in call.args:
        if arg.known and not arg.value.startswith("-"):
            if functions:
                call.state.functions.pop(arg.value, None)
            else:
                call.state.vars[arg.value] = None
    return call.outcome(call.emit(BUILTIN))


@handles("alias")
def alias(call: Call) -> Outcome:
    for arg in call.args:
        name, eq, value = arg.value.partition("=")
        if not eq or arg.value.startswith("-"):
            continue
        if arg.known:
            call.state.aliases[name] = value
        else:
            # An alias whose text is not known: any later use of the name runs something unknown.
            call.state.aliases[name] = None
            call.dynamic(f"alias {name} is defined from text not known statically")
    return call.outcome(call.emit(BUILTIN))


@handles("unalias")
def unalias(call: Call) -> Outcome:
    for arg in call.args:
        call.state.aliases.pop(arg.value, None)
    return call.outcome(call.emit(BUILTIN))


@handles("hash")
def hash_builtin(call: Call) -> Outcome:
    """`hash -p /bin/rm ls` makes `ls` run /bin/rm."""
    args = call.args
    hashed = call.state.hashed
    if len(args) >= 3 and args[0].known and args[0].value == "-p":
        for name in args[2:]:
            if name.known:
                hashed[name.value] = args[1].value if args[1].known else None
    elif args and args[0].known and args[0].value == "-d":
        for name in args[1:]:
            hashed.pop(name.value, None)
    elif any(a.known and a.value == "-r" for a in args):
        hashed.clear()
    return call.outcome(call.emit(BUILTIN))


@handles("set")
def set_builtin(call: Call) -> Outcome:
    args = call.args
    state = call.state
    k = 0
    while k < len(args):
        arg = args[k]
        text = arg.value
        if text == "--" or (text == "-" and arg.known):
            rest = args[k + 1 :]
            if text == "--" or rest:
                state.positional = tuple(a.value for a in rest) if all(a.known for a in rest) else None
            break
        if not arg.known or not text.startswith(("-", "+")):
            rest = args[k:]
            state.positional = tuple(a.value for a in rest) if all(a.known for a in rest) else None
            break
        letters = text[1:]
        # Each `o` in a cluster takes the next word as an option name: `set -euo pipefail`, `set -o errexit`.
        names = [a.value for a in args[k + 1 : k + 1 + letters.count("o")]]
        if "e" in letters or "errexit" in names:
            state.errexit = text.startswith("-")
        k += 1 + len(names)
    # Plain `set` prints every variable, the environment's tokens included.
    return call.outcome(call.emit(BUILTIN + ("env.read",) if not args else BUILTIN))


@handles("shift")
def shift(call: Call) -> Outcome:
    count = 1
    if call.args and call.args[0].known and call.args[0].value.isdigit():
        count = int(call.args[0].value)
    if call.state.positional is not None:
        call.state.positional = call.state.positional[count:]
    return call.outcome(call.emit(BUILTIN))


@handles("source", ".")
def source(call: Call) -> Outcome:
    if not call.args:
        return call.outcome(call.emit(BUILTIN))
    target = call.args[0]
    # Sourcing reads the file into the shell (`set -a; . ./.env`), then runs it.
    action = call.emit(("shell.exec", "fs.read"), call.target(target, Access.EXEC) + call.target(target, Access.READ))
    if target.known:
        path = paths.normalise(target.value, call.cwd)
        if path in ("/dev/stdin", "/proc/self/fd/0", "/dev/fd/0"):
            from capfence_sh.parse.shells import run_stdin_as

            run_stdin_as(call, "bash")
            return call.outcome(action)
        if path in call.state.shared.files:
            content = call.state.shared.files[path]
            if content is None:
                call.dynamic(f"sources {path}, written earlier in this script with content not known statically")
            else:
                positional = tuple(a.value for a in call.args[1:]) if len(call.args) > 1 else False
                call.run_script(content, f"source {path}", positional=positional, share_state=True)
    elif target.value.startswith("<(") or target.value.startswith("/dev/fd/"):
        from capfence_sh.parse.shells import unknown_code

        unknown_code(call, target, "sources the output of a command")
    return call.outcome(action)


@handles("eval")
def eval_builtin(call: Call) -> Outcome:
    args = call.args
    if not args:
        return call.outcome(call.emit(BUILTIN))
    if all(a.known for a in args) and not any(a.decoded for a in args):
        text = " ".join(a.value for a in args)
        action = call.emit(("shell.exec",), note="eval of literal text")
        call.run_script(text, "eval", share_state=True)
        return call.outcome(action)
    if _TRUSTED_EVAL.match(call.text) and not any(a.decoded for a in args):
        return call.outcome(call.emit(BUILTIN, note="eval of a well-known tool's shell setup output"))
    from capfence_sh.parse.shells import unknown_code

    unknown_code(call, _joined(args), "eval of text not known statically")
    return call.outcome(call.analyser.actions[-1])


@handles("trap")
def trap(call: Call) -> Outcome:
    args = [a for a in call.args if not (a.known and a.value in ("-p", "-l", "--"))]
    action = call.emit(BUILTIN)
    if len(args) >= 2:
        handler = args[0]
        if handler.known:
            if handler.value not in ("", "-"):
                call.run_script(handler.value, "trap")
        else:
            call.dynamic("trap handler is not known statically")
    return call.outcome(action)


@handles("exec")
def exec_builtin(call: Call) -> Outcome:
    args = call.args
    k = 0
    while k < len(args) and args[k].known and args[k].value.startswith("-"):
        if args[k].value == "--":
            k += 1
            break
        k += 2 if args[k].value == "-a" else 1
    if k >= len(args):
        # `exec >log 2>&1`, `exec 3<file`: only redirections of the current shell.
        return call.outcome(call.emit(BUILTIN))
    call.emit(BUILTIN, note="exec replaces the shell with the command")
    return call.run_argv(args[k:], "exec", keep_redirects=True)


@handles("command")
def command_builtin(call: Call) -> Outcome:
    args = call.args
    k = 0
    lookup_only = False
    while k < len(args) and args[k].known and args[k].value.startswith("-") and args[k].value != "-":
        if args[k].value == "--":
            k += 1
            break
        if "v" in args[k].value or "V" in args[k].value:
            lookup_only = True
        k += 1
    if lookup_only or k >= len(args):
        if lookup_only and k < len(args) and args[k].known:
            call.stdout = args[k].value + "\n"
        return call.outcome(call.emit(BUILTIN))
    return call.run_argv(args[k:], "command", keep_redirects=True)


@handles("builtin")
def builtin_builtin(call: Call) -> Outcome:
    if not call.args:
        return call.outcome(call.emit(BUILTIN))
    return call.run_argv(call.args, "builtin", keep_redirects=True)


@handles("read", "mapfile", "readarray")
def read(call: Call) -> Outcome:
    names = []
    takes_value = {"-p", "-d", "-n", "-N", "-t", "-u", "-i", "-C", "-c", "-O", "-s"}
    args = call.args
    k = 0
    while k < len(args):
        text = args[k].value
        if args[k].known and text.startswith("-"):
            k += 2 if text in takes_value else 1
            continue
        if _is_name(text):
            names.append(text)
        k += 1
    for name in names or (["REPLY"] if call.program == "read" else ["MAPFILE"]):
        call.state.vars[name] = Field(f"${name}", False, False, "", "", False)
    _set_names(call, names)
    return call.outcome(call.emit(BUILTIN))


@handles("echo")
def echo(call: Call) -> Outcome:
    args = call.args
    newline, escapes = True, False
    k = 0
    while k < len(args) and args[k].known and re.fullmatch(r"-[neE]+", args[k].value):
        newline = newline and "n" not in args[k].value
        escapes = "e" in args[k].value or (escapes and "E" not in args[k].value)
        k += 1
    words = args[k:]
    if all(w.known for w in words):
        text = " ".join(w.value for w in words)
        call.stdout = (decode_ansi_c(text) if escapes else text) + ("\n" if newline else "")
    return call.outcome(call.emit(BUILTIN))


@handles("printf")
def printf(call: Call) -> Outcome:
    args = list(call.args)
    assign_to = ""
    if len(args) >= 2 and args[0].known and args[0].value == "-v":
        assign_to = args[1].value
        args = args[2:]
    if args and args[0].known and args[0].value == "--":
        args = args[1:]
    output: str | None = None
    if args and all(a.known for a in args):
        output = format_printf(args[0].value, [a.value for a in args[1:]])
    if assign_to:
        call.state.vars[assign_to] = literal(output) if output is not None else Field("$" + assign_to, False)
        _set_names(call, [assign_to.split("[", 1)[0]])
    else:
        call.stdout = output
    return call.outcome(call.emit(BUILTIN))


def format_printf(fmt: str, values: list[str]) -> str:
    """Enough of printf(1) to know what a literal format prints: %s %b %d %c %q %%, escapes, reuse."""
    fmt = decode_ansi_c(fmt)
    out: list[str] = []
    queue = list(values)
    while True:
        used = False
        i = 0
        while i < len(fmt):
            c = fmt[i]
            if c != "%":
                out.append(c)
                i += 1
                continue
            match = re.match(r"%([-+ #0]*\d*(?:\.\d+)?)([sbdiucqxXoeEfgG%])", fmt[i:])
            if not match:
                out.append(c)
                i += 1
                continue
            conv = match.group(2)
            if conv == "%":
                out.append("%")
            else:
                value = queue.pop(0) if queue else ""
                used = True
                out.append(decode_ansi_c(value) if conv == "b" else value)
            i += match.end()
        if not queue or not used:
            break
    return "".join(out)


@handles("pwd")
def pwd(call: Call) -> Outcome:
    cwds = call.state.cwds
    if call.cwd:
        call.stdout = call.cwd + "\n"
    elif len(cwds) == 1 and cwds[0].startswith(paths.UNDER):
        call.stdout_prefix = cwds[0][len(paths.UNDER) :].rstrip("/") + "/"
        call.stdout_trusted = True
    return call.outcome(call.emit(BUILTIN))


@handles("fc")
def fc(call: Call) -> Outcome:
    if any(a.value.startswith("-") and ("s" in a.value or "e" in a.value) for a in call.args) or not call.args:
        return call.dynamic("fc re-runs commands from the shell history")
    return call.outcome(call.emit(BUILTIN))


@handles("enable")
def enable(call: Call) -> Outcome:
    if any(a.value == "-f" for a in call.args):
        return call.dynamic("enable -f loads a builtin from a shared library")
    return call.outcome(call.emit(BUILTIN))


@handles("true", "false", ":", "test", "[", "[[", "let", "return", "exit", "break", "continue", "wait", "shopt",
         "umask", "ulimit", "getopts", "type", "jobs", "fg", "bg", "disown", "history", "dirs", "caller",
         "help", "times", "suspend", "logout", "compgen", "complete", "compopt", "__capfence_cond__",
         "__capfence_arith__", "__capfence_case__", "__capfence_array__", "bind", "sleep", "expr",
         "seq", "yes", "basename", "dirname", "date", "tty", "clear", "reset", "tput", "stty", "nproc")
def plain(call: Call) -> Outcome:
    program = call.program
    if program in ("__capfence_arith__", "let"):
        _arithmetic_indirection(call)
    if program == "basename" and len(call.args) >= 1 and all(a.known for a in call.args):
        operands = [a.value for a in call.args if not a.value.startswith("-")]
        if operands:
            base = operands[0].rstrip("/").rsplit("/", 1)[-1] or "/"
            if len(operands) > 1 and base.endswith(operands[1]) and base != operands[1]:
                base = base[: -len(operands[1])]
            call.stdout = base + "\n"
    elif program == "dirname" and call.args and all(a.known for a in call.args):
        value = call.args[-1].value.rstrip("/")
        call.stdout = (value.rsplit("/", 1)[0] or "/" if "/" in value else ".") + "\n"
    elif program == "type" and call.args and call.args[0].known and call.args[0].value == "-p" and len(call.args) > 1:
        call.stdout = call.args[1].value + "\n"
    elif program in ("seq", "date", "expr", "nproc"):
        call.stdout_trusted = True
    caps = ("sys.read",) if program in ("date", "tty", "nproc") else BUILTIN
    return call.outcome(call.emit(caps))


def _arithmetic_indirection(call: Call) -> None:
    """`x='a[$(reboot)]'; echo $((x))`: arithmetic evaluates a variable's value as an expression, and array
    subscripts in it run their substitutions. The pre-pass does not pass the names an expression uses, so every
    variable this script set to text holding a substitution is taken as possibly used."""
    from capfence_sh.parse.words import substitutions_in

    for name, value in list(call.state.vars.items()):
        if value is not None and value.known and ("$(" in value.value or "`" in value.value):
            for script in substitutions_in(value.value):
                call.run_script(script, f"arithmetic on ${name}")


def _joined(fields: list[Field]) -> Field:
    return Field(" ".join(f.value for f in fields), all(f.known for f in fields), False, "", "",
                 all(f.trusted for f in fields), any(f.decoded for f in fields), any(f.fetched for f in fields))


def _is_name(text: str) -> bool:
    return bool(text) and (text[0].isalpha() or text[0] == "_") and all(c.isalnum() or c == "_" for c in text)
