"""Commands that run other commands: each is an action of its own, and the command it runs is analysed as if
written directly (`sudo rm -rf /` is a sudo action and an rm action), however the wrapper's options are spelled."""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import TYPE_CHECKING

from capfence_sh.actions import Access
from capfence_sh.parse import paths
from capfence_sh.parse.options import OptSpec, parse_options
from capfence_sh.parse.programs import handles
from capfence_sh.parse.words import Field, literal

if TYPE_CHECKING:
    from capfence_sh.parse.walker import Call, Outcome

MAX_ITEMS = 32


def _spec(short: str = "", long: tuple[str, ...] = (), aliases: dict[str, str] | None = None) -> OptSpec:
    return OptSpec(short_with_value=short, long_with_value=frozenset(long), aliases=aliases or {},
                   stop_at_operand=True)


def _wrap(call: Call, spec: OptSpec, capabilities: tuple[str, ...], label: str, *, cwd_option: str = "",
          note: str = "") -> Outcome:
    parsed = parse_options(call.args, spec)
    action = call.emit(capabilities, flags=frozenset(parsed.flags), note=note)
    if not parsed.rest:
        return call.outcome(action)
    cwd = None
    if cwd_option:
        value = parsed.value(cwd_option)
        if value is not None:
            cwd = paths.normalise(value.value, call.cwd) if value.known else ""
    return call.run_argv(parsed.rest, label, keep_redirects=True, cwd=cwd)


_SUDO = _spec("ugCDhpRrtTU", ("user", "group", "chdir", "host", "prompt", "role", "type", "close-from",
                               "command-timeout", "other-user"),
              {"D": "chdir", "u": "user", "g": "group", "E": "preserve-env", "e": "edit", "edit": "edit",
               "s": "shell", "i": "login", "l": "list", "list": "list", "v": "validate", "k": "reset-timestamp"})


@handles("sudo", "sudoedit")
def sudo(call: Call) -> Outcome:
    parsed = parse_options(call.args, _SUDO)
    if call.program == "sudoedit" or parsed.has("edit"):
        targets = [t for f in (parsed.rest or parsed.operands) for t in call.target(f, Access.WRITE)]
        return call.outcome(call.emit(("priv.escalate", "fs.write"), targets, flags=frozenset(parsed.flags)))
    if parsed.has("list", "validate", "reset-timestamp", "K") and not parsed.rest:
        return call.outcome(call.emit(("sys.read",), flags=frozenset(parsed.flags)))
    if not parsed.rest and call.stdin is not None:
        # `echo cmd | sudo -s`, `sudo -i <<< cmd`: the root shell reads its commands from standard input.
        action = call.emit(("priv.escalate",), flags=frozenset(parsed.flags), note="root shell reading stdin")
        from capfence_sh.parse.shells import run_stdin_as

        call.where = replace(call.where, via=call.where.via + ("sudo",))
        run_stdin_as(call, "sh")
        return call.outcome(action)
    note = "interactive root shell" if not parsed.rest else ""
    return _wrap(call, _SUDO, ("priv.escalate",), "sudo", cwd_option="chdir", note=note)


@handles("doas")
def doas(call: Call) -> Outcome:
    return _wrap(call, _spec("uC"), ("priv.escalate",), "doas")


@handles("run0")
def run0(call: Call) -> Outcome:
    # systemd's sudo: `run0 [--user=U] [--chdir=D] CMD...`; no command means a root shell.
    spec = _spec("ugD", ("user", "group", "chdir", "nice", "setenv", "unit", "property", "description", "slice",
                         "machine", "background"))
    note = "" if parse_options(call.args, spec).rest else "interactive root shell"
    return _wrap(call, spec, ("priv.escalate",), "run0", note=note)


@handles("pkexec")
def pkexec(call: Call) -> Outcome:
    return _wrap(call, _spec("", ("user",)), ("priv.escalate",), "pkexec")


@handles("su", "runuser", "sg")
def su(call: Call) -> Outcome:
    spec = OptSpec(short_with_value="cgGsuw", long_with_value=frozenset(
        {"command", "group", "supp-group", "shell", "user", "whitelist-environment", "session-command"}),
        aliases={"c": "command", "session-command": "command", "s": "shell", "u": "user"})
    parsed = parse_options(call.args, spec)
    action = call.emit(("priv.escalate",), flags=frozenset(parsed.flags))
    command = parsed.value("command")
    if command is not None:
        if command.known:
            call.run_script(command.value, call.program + " -c")
        else:
            call.dynamic(f"{call.program} -c with a command not known statically")
    elif call.program == "runuser" and parsed.operands:
        rest = parsed.operands
        if parsed.has("user"):
            return call.run_argv(rest, "runuser")
    elif call.program == "sg" and len(parsed.operands) > 1:
        return call.run_script(" ".join(f.value for f in parsed.operands[1:]), "sg")
    elif call.stdin is not None:
        # `echo cmd | su`: the user's shell reads its commands from standard input.
        from capfence_sh.parse.shells import run_stdin_as

        run_stdin_as(call, "sh")
    return call.outcome(action)


_ENV = OptSpec(short_with_value="uCS", long_with_value=frozenset(
    {"unset", "chdir", "split-string", "ignore-signal", "block-signal", "default-signal"}),
    aliases={"u": "unset", "C": "chdir", "S": "split-string", "i": "ignore-environment", "0": "null"},
    stop_at_operand=True, optional_value_long=frozenset({"ignore-signal", "block-signal", "default-signal"}))


@handles("env")
def env(call: Call) -> Outcome:
    args = list(call.args)
    # `env -S 'rm -rf /'` splits its argument into words like a shell would.
    expanded: list[Field] = []
    k = 0
    while k < len(args):
        arg = args[k]
        text = arg.value
        if arg.known and (text in ("-S", "--split-string") or text.startswith("--split-string=") or
                          (text.startswith("-S") and len(text) > 2)):
            if text in ("-S", "--split-string"):
                payload = args[k + 1] if k + 1 < len(args) else literal("")
                k += 2
            else:
                payload = literal(text.split("=", 1)[1] if "=" in text else text[2:])
                k += 1
            if not payload.known:
                return call.dynamic("env -S with a string not known statically")
            try:
                expanded.extend(literal(w) for w in shlex.split(payload.value))
            except ValueError:
                return call.dynamic("env -S string cannot be split")
            continue
        expanded.append(arg)
        k += 1
    parsed = parse_options(expanded, _ENV)
    rest = parsed.rest
    assignments: list[tuple[str, Field]] = list(call.assignments)
    while rest and "=" in rest[0].value and not rest[0].value.startswith("="):
        name, _, value = rest[0].value.partition("=")
        assignments.append((name, literal(value) if rest[0].known else Field(value, False)))
        rest = rest[1:]
    if not rest:
        return call.outcome(call.emit(("sys.read", "env.read"), flags=frozenset(parsed.flags)))
    action = call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    cwd = None
    chdir = parsed.value("chdir")
    if chdir is not None:
        cwd = paths.normalise(chdir.value, call.cwd) if chdir.known else ""
    # The assignments go with the command, whose dispatch checks them (`env LD_PRELOAD=x.so ls`).
    outcome = call.run_argv(rest, "env", assignments=assignments, keep_redirects=True, cwd=cwd)
    return outcome if outcome.action else call.outcome(action)


@handles("nice")
def nice(call: Call) -> Outcome:
    args = list(call.args)
    # `nice -5 cmd` is an old spelling of `nice -n 5 cmd`.
    if args and args[0].known and args[0].value[1:].lstrip("-").isdigit() and args[0].value.startswith("-"):
        args = args[1:]
        call.argv = [call.argv[0], *args]
    return _wrap(call, _spec("n", ("adjustment",)), ("shell.builtin",), "nice")


@handles("catchsegv", "eatmydata", "nocache", "dbus-launch", "tini", "dumb-init", "noglob", "nocorrect", "chronic",
         "unbuffer", "torify", "tsocks", "proxychains", "proxychains4", "torsocks", "firejail", "fakeroot",
         "fakeroot-ng", "rlwrap", "setpriv", "numactl", "prlimit", "cgexec", "xvfb-run", "setarch", "linux32",
         "linux64", "ssh-agent", "chpst", "with-contenv", "stdbuf", "ionice", "trickle", "pv-run", "sem",
         "systemd-inhibit", "caffeinate", "taskset", "time", "gtime", "strace", "ltrace", "valgrind", "perf",
         "unshare", "nsenter", "systemd-run", "flatpak-spawn", "distrobox-enter", "toolbox")
def passthrough(call: Call) -> Outcome:
    program = call.program
    spec = _PASSTHROUGH_SPECS.get(program, _GENERIC_WRAPPER)
    args = call.args
    if program == "perf":
        # perf record/stat/trace CMD
        if args and args[0].known and args[0].value in ("record", "stat", "trace", "top", "sched", "mem"):
            call.argv = [call.argv[0], *args[1:]]
        else:
            return call.outcome(call.emit(("sys.read",)))
    if program == "taskset":
        parsed = parse_options(call.args, spec)
        rest = parsed.rest[1:] if parsed.rest and not parsed.has("p", "pid") else []
        action = call.emit(("shell.builtin",))
        return call.run_argv(rest, "taskset", keep_redirects=True) if rest else call.outcome(action)
    capabilities = _PASSTHROUGH_CAPS.get(program, ("shell.builtin",))
    parsed = parse_options(call.args, spec)
    if program in ("time", "gtime"):
        output = parsed.value("o", "output")
        if output is not None:
            call.emit(("fs.write",), call.target(output, Access.WRITE))
    if program in ("strace", "ltrace", "valgrind", "perf"):
        output = parsed.value("o", "output", "log-file")
        if output is not None:
            call.emit(("fs.write",), call.target(output, Access.WRITE))
    if program in ("ionice", "chrt") and parsed.has("p", "pid"):
        return call.outcome(call.emit(capabilities))
    return _wrap(call, spec, capabilities, program)


_GENERIC_WRAPPER = OptSpec(stop_at_operand=True)
_PASSTHROUGH_SPECS: dict[str, OptSpec] = {
    "stdbuf": _spec("ioe", ("input", "output", "error")),
    "ionice": _spec("cnpPu", ("class", "classdata", "pid", "pgid", "uid")),
    "time": _spec("fo", ("format", "output")),
    "gtime": _spec("fo", ("format", "output")),
    "strace": _spec("abeEIoOpPsSuUX", ("output", "trace", "signal", "string-limit", "user", "env", "attach")),
    "ltrace": _spec("aeEnoApsSuxXw", ("output",)),
    "valgrind": _spec("", ()),
    "perf": _spec("eoFpCcIt", ("event", "output", "freq", "pid", "cpu", "count")),
    "unshare": _spec("RwSGl", ("root", "wd", "setuid", "setgid", "propagation", "setgroups", "map-user",
                               "map-group", "kill-child")),
    "nsenter": _spec("tSGrw", ("target", "setuid", "setgid", "root", "wd", "mount", "uts", "ipc", "net", "pid",
                               "user", "cgroup", "time")),
    "systemd-run": _spec("upEHM", ("unit", "property", "description", "slice", "setenv", "uid", "gid",
                                   "working-directory", "host", "machine", "on-calendar", "on-active", "nice",
                                   "service-type")),
    "firejail": _spec("", ()),
    "proxychains": _spec("f", ()),
    "proxychains4": _spec("f", ()),
    "fakeroot": _spec("lsiub", ("lib", "faked")),
    "numactl": _spec("CNmMpilP", ("cpunodebind", "membind", "physcpubind", "preferred", "interleave")),
    "prlimit": _spec("p", ("pid",)),
    "cgexec": _spec("g", ()),
    "setpriv": _spec("", ("reuid", "regid", "groups", "inh-caps", "ambient-caps", "bounding-set", "securebits",
                          "selinux-label", "apparmor-profile", "pdeathsig")),
    "systemd-inhibit": _spec("", ("what", "who", "why", "mode")),
    "caffeinate": _spec("tw", ()),
    "rlwrap": _spec("abCDfFgHlopPqsStw", ()),
    "taskset": _spec("", ("cpu-list",)),
    "xvfb-run": _spec("efnpsw", ("error-file", "server-num", "xauth-protocol", "server-args", "wait")),
    "chpst": _spec("ugUeL/n", ()),
    "trickle": _spec("udwtlsn", ()),
}
_PASSTHROUGH_CAPS: dict[str, tuple[str, ...]] = {
    "unshare": ("priv.escalate",),
    "nsenter": ("priv.escalate",),
    "fakeroot": ("shell.builtin",),
    "setpriv": ("priv.escalate",),
    "systemd-run": ("sys.service",),
    "flatpak-spawn": ("priv.escalate",),
}


@handles("chrt")
def chrt(call: Call) -> Outcome:
    parsed = parse_options(call.args, _spec("TPD", ("sched-runtime", "sched-period", "sched-deadline")))
    if parsed.has("p", "pid") or len(parsed.rest) < 2:
        return call.outcome(call.emit(("shell.builtin",)))
    call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    return call.run_argv(parsed.rest[1:], "chrt", keep_redirects=True)


@handles("timeout")
def timeout(call: Call) -> Outcome:
    parsed = parse_options(call.args, _spec("sk", ("signal", "kill-after")))
    call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    return call.run_argv(parsed.rest[1:], "timeout", keep_redirects=True)


@handles("setsid", "nohup")
def setsid(call: Call) -> Outcome:
    parsed = parse_options(call.args, _GENERIC_WRAPPER)
    call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    return call.run_argv(parsed.rest, call.program, keep_redirects=True)


@handles("flock")
def flock(call: Call) -> Outcome:
    spec = OptSpec(short_with_value="wEc", long_with_value=frozenset({"timeout", "wait", "conflict-exit-code",
                                                                      "command"}),
                   aliases={"c": "command"}, stop_at_operand=True)
    parsed = parse_options(call.args, spec)
    rest = parsed.rest
    action = call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    command = parsed.value("command")
    if len(rest) >= 2 and rest[1].known and rest[1].value in ("-c", "--command") and len(rest) >= 3:
        command = rest[2]
    if command is not None:
        if command.known:
            return call.run_script(command.value, "flock -c")
        return call.dynamic("flock -c with a command not known statically")
    if len(rest) >= 2:
        return call.run_argv(rest[1:], "flock", keep_redirects=True)
    return call.outcome(action)


@handles("script")
def script(call: Call) -> Outcome:
    spec = OptSpec(short_with_value="cEIOTBt", long_with_value=frozenset({"command", "echo", "log-in", "log-out",
                                                                          "log-timing", "timing", "output-limit"}),
                   aliases={"c": "command"})
    parsed = parse_options(call.args, spec)
    targets = [t for f in parsed.operands[:1] for t in call.target(f, Access.WRITE)]
    action = call.emit(("fs.write",) if targets else ("shell.builtin",), targets)
    command = parsed.value("command")
    if command is not None:
        if command.known:
            return call.run_script(command.value, "script -c")
        return call.dynamic("script -c with a command not known statically")
    return call.outcome(action)


_TMUX_VALUE_FLAGS = frozenset({"-t", "-s", "-n", "-c", "-x", "-y", "-e", "-F", "-f", "-L", "-S", "-l", "-p", "-b",
                               "-T", "-N"})
_TMUX_RUNS = frozenset({"new", "new-session", "new-window", "neww", "split-window", "splitw", "respawn-pane",
                        "respawnp", "respawn-window", "respawnw", "run-shell", "run", "display-popup", "popup"})
_TMUX_KEYS = frozenset({"Enter", "C-m", "KPEnter", "C-j", "Escape", "Space", "Tab"})


@handles("tmux")
def tmux(call: Call) -> Outcome:
    """tmux runs shell commands in new panes (`tmux new -d 'cmd'`) and types into running ones (send-keys)."""
    args = call.args
    k = 0
    while k < len(args) and args[k].known and args[k].value.startswith("-"):
        k += 2 if args[k].value in ("-L", "-S", "-f", "-T") else 1
    sub = args[k].value if k < len(args) else ""
    operands: list[Field] = []
    j = k + 1
    while j < len(args):
        text = args[j].value
        if args[j].known and text.startswith("-") and text != "-" and not operands:
            j += 2 if text in _TMUX_VALUE_FLAGS else 1
            continue
        operands.append(args[j])
        j += 1
    action = call.emit(("shell.builtin",), subcommand=sub)
    if sub in ("send-keys", "send") and operands:
        operands = [f for f in operands if not (f.known and f.value in _TMUX_KEYS)]
    elif sub not in _TMUX_RUNS or not operands:
        return call.outcome(action)
    if not all(f.known for f in operands):
        return call.dynamic(f"tmux {sub} runs a command not known statically")
    return call.run_script(" ".join(f.value for f in operands), f"tmux {sub}")


@handles("screen")
def screen(call: Call) -> Outcome:
    """screen runs a program in a new window (`screen -dm cmd args`), or types text into one (`-X stuff`)."""
    parsed = parse_options(call.args, _spec("SceEhlpTtX", ()))
    action = call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    command = parsed.value("X")
    if command is not None:
        words = [command, *parsed.rest]
        if command.known and command.value == "stuff" and len(words) > 1:
            typed = words[1]
            if typed.known:
                return call.run_script(typed.value.replace("\\n", "\n").replace("^M", "\n"), "screen stuff")
            return call.dynamic("screen types text not known statically")
        return call.outcome(action)
    if parsed.rest:
        return call.run_argv(parsed.rest, "screen")
    return call.outcome(action)


@handles("nix-shell")
def nix_shell(call: Call) -> Outcome:
    """`nix-shell -p pkg --run 'cmd'`: the command runs in the shell nix builds."""
    args = call.args
    action = call.emit(("pkg.install", "shell.exec"), note="nix-shell builds an environment")
    for k, arg in enumerate(args[:-1]):
        if arg.known and arg.value in ("--run", "--command"):
            command = args[k + 1]
            if not command.known:
                return call.dynamic("nix-shell runs a command not known statically")
            return call.run_script(command.value, f"nix-shell {arg.value}")
    return call.outcome(action)


@handles("chroot")
def chroot(call: Call) -> Outcome:
    parsed = parse_options(call.args, _spec("", ("userspec", "groups")))
    action = call.emit(("priv.escalate",), [t for f in parsed.rest[:1] for t in call.target(f, Access.EXEC)])
    if len(parsed.rest) > 1:
        return call.run_argv(parsed.rest[1:], "chroot", keep_redirects=True)
    return call.outcome(action)


@handles("gdb")
def gdb(call: Call) -> Outcome:
    args = call.args
    action = call.emit(("code.exec",))
    for k, arg in enumerate(args):
        if arg.known and arg.value in ("-ex", "--ex", "-eval-command", "--eval-command", "-iex") and k + 1 < len(args):
            command = args[k + 1]
            text = command.value.strip()
            if not command.known:
                call.dynamic("gdb command not known statically")
            elif text.startswith("!") or text.startswith("shell ") or text.startswith("pipe "):
                call.run_script(text.lstrip("!").removeprefix("shell ").removeprefix("pipe "), "gdb shell")
            elif text.startswith(("python", "py ")):
                call.dynamic("gdb runs inline python")
        if arg.known and arg.value == "--args" and k + 1 < len(args):
            return call.run_argv(args[k + 1 :], "gdb --args")
    return call.outcome(action)


_XARGS = OptSpec(short_with_value="adEeIiLlnPs", long_with_value=frozenset(
    {"arg-file", "delimiter", "eof", "replace", "max-lines", "max-args", "max-procs", "max-chars",
     "process-slot-var"}),
    aliases={"a": "arg-file", "d": "delimiter", "I": "replace", "i": "replace", "replace": "replace",
             "0": "null", "null": "null"},
    stop_at_operand=True, optional_value_long=frozenset({"eof", "replace", "max-lines"}))


@handles("xargs")
def xargs(call: Call) -> Outcome:
    parsed = parse_options(call.args, _XARGS)
    action = call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    command = parsed.rest or [literal("echo")]
    items = _stdin_items(call, parsed)
    stdin = call.stdin
    if stdin is not None and stdin.program == "ps" and "all-processes" in stdin.flags and command[0].known and \
            command[0].value.rsplit("/", 1)[-1] == "kill":
        # `ps -eo pid= | xargs kill -9`: the pids of every process.
        call.emit(("proc.kill",), flags=frozenset({"all-processes"}), note="kills every process ps lists",
                  program="kill")
    replace = parsed.value("replace")
    token = replace.value if replace is not None and replace.value else ("{}" if parsed.has("replace") else "")
    for item in items[:MAX_ITEMS]:
        if token:
            argv = [_replace_token(f, token, item) for f in command]
        else:
            argv = [*command, item]
        call.run_argv(argv, "xargs", stdin=None)
    if not items and not token and not parsed.has("r", "no-run-if-empty"):
        # Without -r, xargs runs its command once even when the input has no words (`echo | xargs reboot`).
        call.run_argv(command, "xargs", stdin=None)
    return call.outcome(action)


def _stdin_items(call: Call, parsed) -> list[Field]:
    """What xargs appends: the words of its input, when known, else one unknown word."""
    arg_file = parsed.value("arg-file")
    stdin = call.stdin
    content = None if arg_file is not None else (stdin.content if stdin else None)
    if content is not None:
        if parsed.has("null"):
            words = [w for w in content.split("\0") if w]
        else:
            delimiter = parsed.value("delimiter")
            if delimiter is not None and delimiter.known:
                sep = delimiter.value.encode().decode("unicode_escape") if "\\" in delimiter.value else delimiter.value
                words = [w for w in content.split(sep) if w]
            else:
                try:
                    words = shlex.split(content)
                except ValueError:
                    words = content.split()
        return [literal(w) for w in words] or []
    prefix = stdin.prefix if stdin else ""
    trusted = bool(stdin and stdin.prefix_trusted)
    return [Field(prefix + "{xargs input}", False, False, prefix, "", trusted)]


def _replace_token(field: Field, token: str, item: Field) -> Field:
    if token not in field.value:
        return field
    if field.known and item.known:
        return literal(field.value.replace(token, item.value))
    # What is certain at both ends survives: `{}` keeps the item's own ending (`find -name '*.pyc'` -> ".pyc").
    head = field.value.partition(token)[0]
    tail = field.value.rpartition(token)[2]
    single = field.value.count(token) == 1
    prefix = head + item.prefix if field.known else ""
    suffix = (item.suffix + tail if single else tail) if field.known else ""
    return Field(field.value.replace(token, item.value), False, False, prefix, suffix,
                 item.trusted and field.trusted, item.decoded or field.decoded, item.fetched or field.fetched)


_FIND_TESTS_WITH_VALUE = frozenset({
    "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex", "-type", "-xtype",
    "-size", "-perm", "-user", "-group", "-uid", "-gid", "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin",
    "-newer", "-anewer", "-cnewer", "-maxdepth", "-mindepth", "-links", "-inum", "-samefile", "-lname", "-ilname",
    "-used", "-printf", "-fstype", "-context", "-regextype", "-D", "-O", "-newermt", "-newerct", "-newerat",
})
_FIND_WRITES = frozenset({"-fprint", "-fprint0", "-fprintf", "-fls"})


@handles("find")
def find(call: Call) -> Outcome:
    args = call.args
    roots: list[Field] = []
    k = 0
    while k < len(args) and args[k].known and args[k].value in ("-H", "-L", "-P"):
        k += 1
    while k < len(args) and not (args[k].known and (args[k].value.startswith("-") or args[k].value in ("(", "!", ")"))):
        roots.append(args[k])
        k += 1
    if not roots:
        roots = [literal(".")]
    capabilities = ["fs.list"]
    targets = []
    flags: set[str] = set()
    execs: list[tuple[str, list[Field]]] = []
    tests = [a.value for a in args[k:] if a.known]
    narrowed = any(t in _FIND_TESTS_WITH_VALUE or t in ("-empty", "-executable", "-readable", "-writable")
                   for t in tests if t not in ("-maxdepth", "-mindepth", "-D", "-O", "-regextype"))
    name_suffix = _name_suffix(args[k:])
    while k < len(args):
        arg = args[k]
        text = arg.value if arg.known else ""
        if text in ("-exec", "-execdir", "-ok", "-okdir"):
            j = k + 1
            command: list[Field] = []
            while j < len(args) and not (args[j].known and args[j].value in (";", "+")):
                command.append(args[j])
                j += 1
            execs.append((text, command))
            flags.add(text.lstrip("-"))
            k = j + 1
            continue
        if text == "-delete":
            flags.add("delete")
            capabilities.append("fs.delete")
            for root in roots:
                if narrowed:
                    # Tests narrow what is deleted to some entries under the root (never the root itself).
                    targets.extend(call.target(_found_item(call, root, name_suffix), Access.DELETE))
                else:
                    targets.extend(call.target(root, Access.DELETE, recursive=True))
        elif text in _FIND_WRITES:
            flags.add(text.lstrip("-"))
            if k + 1 < len(args):
                capabilities.append("fs.write")
                targets.extend(call.target(args[k + 1], Access.WRITE))
            k += 2
            continue
        elif text in _FIND_TESTS_WITH_VALUE:
            k += 2
            continue
        k += 1
    action = call.emit(tuple(capabilities), targets, flags=frozenset(flags))
    call.stdout_prefix = common_root(call, roots)
    call.stdout_trusted = True
    for kind, command in execs:
        if not command:
            continue
        for root in roots[:4]:
            # Every path passed ends like the -name pattern (`-name '*.pyc' -exec rm {} +` never sees .git).
            item = _found_item(call, root, name_suffix)
            argv = [_replace_token(f, "{}", item) for f in command]
            if not any("{}" in f.value for f in command) and kind in ("-exec", "-ok"):
                argv = argv  # the found path is not passed: the command runs as written
            call.run_argv(argv, f"find {kind}", stdin=None)
    return call.outcome(action)


def _found_item(call: Call, root: Field, suffix: str = "") -> Field:
    """A path find would pass: somewhere under the root (find never emits '..' components), ending with the
    literal end of its -name pattern when there is exactly one."""
    if root.known:
        base = paths.normalise(root.value, call.cwd) if call.cwd or root.value.startswith("/") else root.value
        return Field(base.rstrip("/") + "/{found}" + suffix, False, False, base.rstrip("/") + "/", suffix, True)
    return Field(root.value + "/{found}", False, False, "", "", False)


def _name_suffix(expression: list[Field]) -> str:
    """`-name '*.pyc'` -> ".pyc": what every match ends with (only when one -name and no -o decides it)."""
    words = [a.value for a in expression]
    if "-o" in words or "-or" in words or "," in words:
        return ""
    names = [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-name",)]
    if len(names) != 1:
        return ""
    pattern = names[0]
    cut = max(pattern.rfind(ch) for ch in "*?]")
    return pattern[cut + 1 :] if cut >= 0 else "/" + pattern


def common_root(call: Call, roots: list[Field]) -> str:
    bases = []
    for root in roots:
        if not root.known:
            return ""
        bases.append(paths.normalise(root.value, call.cwd).rstrip("/") + "/")
    if len(bases) == 1:
        return bases[0]
    from os.path import commonpath

    try:
        return commonpath(bases).rstrip("/") + "/"
    except ValueError:
        return ""


@handles("busybox", "toybox")
def busybox(call: Call) -> Outcome:
    args = call.args
    if not args or (args[0].known and args[0].value.startswith("-")):
        return call.outcome(call.emit(("sys.read",)))
    call.emit(("shell.builtin",))
    return call.run_argv(args, call.program, keep_redirects=True)


@handles("watch")
def watch(call: Call) -> Outcome:
    spec = OptSpec(short_with_value="nq", long_with_value=frozenset({"interval", "differences", "equexit"}),
                   aliases={"x": "exec", "exec": "exec"}, stop_at_operand=True,
                   optional_value_long=frozenset({"differences"}))
    parsed = parse_options(call.args, spec)
    call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    if not parsed.rest:
        return call.outcome(None)
    if parsed.has("exec"):
        return call.run_argv(parsed.rest, "watch")
    # Without -x, watch joins its arguments and runs them with `sh -c`.
    if not all(f.known for f in parsed.rest):
        return call.dynamic("watch command not known statically")
    return call.run_script(" ".join(f.value for f in parsed.rest), "watch")


@handles("entr")
def entr(call: Call) -> Outcome:
    parsed = parse_options(call.args, OptSpec(stop_at_operand=True))
    call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    if parsed.has("s") and parsed.rest:
        if parsed.rest[0].known:
            return call.run_script(parsed.rest[0].value, "entr -s")
        return call.dynamic("entr -s command not known statically")
    return call.run_argv(parsed.rest, "entr", stdin=None)


@handles("parallel")
def parallel(call: Call) -> Outcome:
    spec = OptSpec(short_with_value="jSaIdENPX", long_with_value=frozenset(
        {"jobs", "sshlogin", "arg-file", "colsep", "results", "joblog", "delay", "timeout", "tmpdir", "workdir",
         "delimiter", "retries", "load", "memfree", "halt", "tag-string", "basefile", "return", "transfer-file"}),
        aliases={"a": "arg-file"}, stop_at_operand=True)
    parsed = parse_options(call.args, spec)
    action = call.emit(("shell.builtin",), flags=frozenset(parsed.flags))
    template: list[Field] = []
    values: list[Field] = []
    seen_sep = False
    for f in parsed.rest:
        if f.known and f.value in (":::", "::::", ":::+", "::::+"):
            seen_sep = True
            continue
        (values if seen_sep else template).append(f)
    if not seen_sep:
        values = _stdin_items(call, parsed)
    if not template:
        # Without a command, each input line is itself a command.
        for value in values[:MAX_ITEMS]:
            if value.known:
                call.run_script(value.value, "parallel")
            else:
                call.dynamic("parallel runs input lines as commands")
        return call.outcome(action)
    if not all(f.known for f in template):
        return call.dynamic("parallel command template not known statically")
    text = " ".join(f.value for f in template)
    for value in values[:MAX_ITEMS]:
        item = shlex.quote(value.value) if value.known else '"$__capfence_parallel_item"'
        script_text = text.replace("{}", item) if "{}" in text else f"{text} {item}"
        call.run_script(script_text, "parallel")
    return call.outcome(action)
