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
    if destination.known and not destination.glob:
        new = tuple(dict.fromkeys(paths.normalise(destination.value, cwd) for cwd in before))
        state.cwds = new if all(c.startswith("/") for c in new) else ("",)
    else:
        state.cwds = ("",)
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
    for arg in call.args:
        text = arg.value
        if arg.known and text.startswith(("-", "+")):
            continue
        name, eq, value = text.partition("=")
        name = name.rstrip("+")
        if not _is_name(name):
            continue
        if eq:
            if arg.known:
                call.state.vars[name] = literal(value)
            else:
                prefix = arg.prefix[len(name) + 1 :] if arg.prefix.startswith(name + "=") else ""
                call.state.vars[name] = Field(value, False, arg.glob, prefix, arg.suffix, arg.trusted, arg.decoded)
        elif call.program != "export" and name not in call.state.vars:
            call.state.vars[name] = literal("")
    for name, value in call.assignments:
        call.state.vars[name] = value
    return call.outcome(call.emit(BUILTIN))


@handles("unset")
def unset(call: Call) -> Outcome:
    functions = any(a.known and a.value == "-f" for a in call.args)
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
            call.state.aliases[name] = "__capfence_unknown_alias__"
            call.dynamic(f"alias {name} is defined from text not known statically")
    return call.outcome(call.emit(BUILTIN))


@handles("unalias")
def unalias(call: Call) -> Outcome:
    for arg in call.args:
        call.state.aliases.pop(arg.value, None)
    return call.outcome(call.emit(BUILTIN))


@handles("__capfence_unknown_alias__")
def unknown_alias(call: Call) -> Outcome:
    return call.dynamic("runs an alias whose text is not known statically")


@handles("set")
def set_builtin(call: Call) -> Outcome:
    args = call.args
    state = call.state
    for k, arg in enumerate(args):
        text = arg.value
        if text == "--":
            rest = args[k + 1 :]
            state.positional = tuple(a.value for a in rest) if all(a.known for a in rest) else None
            break
        if text in ("-o", "+o") and k + 1 < len(args) and args[k + 1].value == "errexit":
            state.errexit = text == "-o"
        elif text.startswith("-") and "e" in text[1:] and not text.startswith("--"):
            state.errexit = True
        elif text.startswith("+") and "e" in text[1:]:
            state.errexit = False
        elif not text.startswith(("-", "+")) and text != "errexit":
            rest = args[k:]
            state.positional = tuple(a.value for a in rest) if all(a.known for a in rest) else None
            break
    return call.outcome(call.emit(BUILTIN))


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
    action = call.emit(("shell.exec",), call.target(target, Access.EXEC))
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
        call.dynamic("sources the output of a command")
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
    return call.dynamic("eval of text not known statically")


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
    if call.cwd:
        call.stdout = call.cwd + "\n"
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
         "umask", "ulimit", "getopts", "hash", "type", "jobs", "fg", "bg", "disown", "history", "dirs", "caller",
         "help", "times", "suspend", "logout", "compgen", "complete", "compopt", "__capfence_cond__",
         "__capfence_arith__", "__capfence_case__", "__capfence_array__", "bind", "sleep", "expr",
         "seq", "yes", "basename", "dirname", "date", "tty", "clear", "reset", "tput", "stty", "nproc")
def plain(call: Call) -> Outcome:
    program = call.program
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


def _is_name(text: str) -> bool:
    return bool(text) and (text[0].isalpha() or text[0] == "_") and all(c.isalnum() or c == "_" for c in text)
