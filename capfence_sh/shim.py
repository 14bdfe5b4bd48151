"""What a PATH shim does when it runs: decide, record, then exec the real program (no process stays in between).

One runtime serves every shim; it looks at its own name. `bash`, `sh`, `zsh`, `dash` shims gate the script the
shell would run (`-c SCRIPT`, a script file, or commands on stdin) and then exec the real shell with exactly the
same options and arguments, so an allowed script behaves as if no shim were there. Interactive use and
`--version` pass straight through. Every other shim decides its argv without shell parsing.

Nested calls are gated too (a Makefile whose recipe runs `rm -rf /` is stopped at that `rm`), but what an outer
shim or `capfence exec` already decided is not decided again: the decision is marked in the child's environment
(`CAPFENCE_DECIDED=<pid>:<hash>,<hash>...`, the hashes of the exact argv of every action that was allowed),
honoured only by that pid (a shell that execs its last command) or its child or grandchild, so a changed argv
is decided again.
"""

from __future__ import annotations

import os
import sys

from capfence_sh.errors import EXIT_DENIED, EXIT_GATE_ERROR, EXIT_NOT_FOUND

MARKER = "CAPFENCE_DECIDED"
SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "mksh", "ash"})
MAX_MARKED = 64
MAX_SCRIPT_BYTES = 8 * 1024 * 1024
_SHELL_LONG_WITH_VALUE = frozenset({"--rcfile", "--init-file"})
_PASS_THROUGH = frozenset({"--version", "--help", "-version", "--usage"})

try:  # the builtin C module; hashlib would load OpenSSL on every shimmed command
    from _sha256 import sha256 as _sha256
except ImportError:  # pragma: no cover - Python 3.12+ renamed it
    try:
        from _sha2 import sha256 as _sha256  # type: ignore[no-redef]
    except ImportError:
        from hashlib import sha256 as _sha256  # type: ignore[no-redef]


def argv_hash(argv: list[str] | tuple[str, ...]) -> str:
    words = [os.path.basename(argv[0]) if argv else "", *argv[1:]]
    return _sha256("\0".join(words).encode("utf-8", "surrogateescape")).hexdigest()[:20]


def marker_for(verdict, pid: int, *, approved: bool = False) -> str:
    """The marker for a child: the allowed actions (and, after a human's approval, the approved ones)."""
    from capfence_sh.decision import Decision

    runnable = (Decision.ALLOW, Decision.REQUIRE_APPROVAL) if approved else (Decision.ALLOW,)
    hashes = []
    for item in verdict.actions:
        if item.decision in runnable and item.action.argv and item.action.program:
            hashes.append(argv_hash(item.action.argv))
    return f"{pid}:{','.join(dict.fromkeys(hashes[:MAX_MARKED]))}"


def already_decided(argv: list[str], env) -> bool:
    value = env.get(MARKER, "")
    pid_text, _, hashes = value.partition(":")
    if not pid_text.isdigit() or not hashes:
        return False
    if argv_hash(argv) not in hashes.split(","):
        return False
    pid = int(pid_text)
    parent = os.getppid()
    # The decider itself (a shell that execs its last command keeps the pid), its child, or its grandchild.
    return pid in (os.getpid(), parent, _parent_of(parent))


def _parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("utf-8", "replace")
        return int(stat[stat.rfind(")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def main(argv: list[str], shim_dir: str) -> int:
    name = os.path.basename(argv[0]).lstrip("-") or "sh"
    env = dict(os.environ)
    from capfence_sh.process import SpawnError, exec_replace, find_program

    excluded = tuple(dict.fromkeys(d for d in (shim_dir, env.get("CAPFENCE_SHIM_DIR", "")) if d))
    real = find_program(name, env.get("PATH", os.defpath), exclude_dirs=excluded)
    if real is None:
        print(f"{name}: command not found", file=sys.stderr)
        return EXIT_NOT_FOUND
    args = list(argv[1:])
    try:
        if name in SHELLS:
            decision = _gate_shell(name, args, env)
        else:
            decision = _gate_program(name, args, env)
    except BaseException as exc:  # noqa: BLE001 - fail closed: any error on the decision path stops the command
        from capfence_sh.fast import report_gate_error

        return report_gate_error(exc)
    if isinstance(decision, int):
        return decision
    stdin_content = decision
    try:
        if stdin_content is not None:
            _replace_stdin(stdin_content)
        # The kernel replaced the caller's argv[0] with the shim's path when it ran the `#!` line; the name is
        # what the caller typed in all but the rarest cases (and what `$0` of `bash -c` shows).
        exec_replace([name, *args], env=env, program=real)
    except SpawnError as exc:
        print(exc.message, file=sys.stderr)
        return exc.exit_status
    return EXIT_GATE_ERROR  # pragma: no cover - exec_replace does not return


def _gate_program(name: str, args: list[str], env: dict) -> int | None:
    argv = [name, *args]
    if already_decided(argv, env):
        return None
    return _decide(env, argv=argv)


def _decide(env: dict, *, script: str | None = None, argv: list[str] | None = None, positional=(),
            errexit: bool = False) -> int | None:
    """Decide (through the warm decision service when there is one) and record; None means: exec the command."""
    from capfence_sh import service_client

    reply = service_client.ask(service_client.caller_request(
        env, op="decide", mode="exec", script=script, argv=argv, positional=list(positional),
        errexit=errexit, options={}), env)
    if reply is not None:
        if "error" in reply:
            print(reply["error"], file=sys.stderr)
            return EXIT_GATE_ERROR
        if reply.get("stderr"):
            sys.stderr.write(reply["stderr"])
        if not reply.get("run"):
            return int(reply["status"])
        env[MARKER] = reply["marker"]
        return None
    from capfence_sh.gate import GateOptions, open_gate

    gate = open_gate(GateOptions(), env, positional=tuple(positional), errexit=errexit)
    verdict = gate.decide_script(script) if script is not None else gate.decide_argv(argv or [])
    return _enforce(gate, verdict, env)


def _enforce(gate, verdict, env: dict) -> int | None:
    from capfence_sh.decision import Decision
    from capfence_sh.gate import approval_gate, refusal_line

    gate.record_decision(verdict)
    if verdict.decision is Decision.REQUIRE_APPROVAL and verdict.mode != "observe":
        refused = approval_gate(gate, verdict)
        if refused is not None:
            return refused
    elif not verdict.authorized:
        print(refusal_line(verdict), file=sys.stderr)
        return EXIT_DENIED
    env[MARKER] = marker_for(verdict, os.getpid(), approved=True)
    return None


def _gate_shell(name: str, args: list[str], env: dict) -> int | bytes | None:
    """None: exec the real shell as is; bytes: exec it with this as its stdin; int: exit with this status."""
    if any(a in _PASS_THROUGH for a in args[:1]):
        return None
    command_mode = stdin_mode = errexit = False
    k = 0
    while k < len(args):
        arg = args[k]
        if arg in ("-", "--"):
            k += 1
            break
        if arg.startswith("--"):
            k += 2 if arg in _SHELL_LONG_WITH_VALUE else 1
            continue
        if (arg.startswith("-") or arg.startswith("+")) and len(arg) > 1:
            letters = arg[1:]
            takes = letters.count("o") + letters.count("O")
            command_mode = command_mode or "c" in letters
            stdin_mode = stdin_mode or "s" in letters
            if arg.startswith("-") and ("e" in letters or (takes and k + 1 < len(args) and args[k + 1] == "errexit")):
                errexit = True
            k += 1 + takes
            continue
        break
    operands = args[k:]
    if already_decided([name, *args], env):
        return None
    if command_mode:
        if not operands:
            return None  # the shell reports its own usage error
        return _decide(env, script=operands[0], positional=operands[2:], errexit=errexit)
    if operands and not stdin_mode:
        script = _read_script(operands[0])
        if script is None:
            return None  # unreadable: the shell will fail to read it just the same
        return _decide(env, script=script, positional=operands[1:], errexit=errexit)
    if sys.stdin is None or _isatty(0):
        return None  # a person typing at an interactive shell
    content = _read_stdin()
    refused = _decide(env, script=content.decode("utf-8", "surrogateescape"), positional=operands, errexit=errexit)
    return refused if refused is not None else content


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _read_script(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SCRIPT_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_SCRIPT_BYTES:
        from capfence_sh.errors import ParseLimitExceeded

        raise ParseLimitExceeded(f"script {path} is larger than {MAX_SCRIPT_BYTES} bytes")
    return data.decode("utf-8", "surrogateescape")


def _read_stdin() -> bytes:
    chunks, total = [], 0
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_SCRIPT_BYTES:
            from capfence_sh.errors import ParseLimitExceeded

            raise ParseLimitExceeded(f"commands on standard input exceed {MAX_SCRIPT_BYTES} bytes")


def _replace_stdin(content: bytes) -> None:
    """The shell gets exactly the bytes that were decided, from a memory file in place of the consumed stdin."""
    fd = os.memfd_create("capfence-stdin", 0) if hasattr(os, "memfd_create") else _temp_fd()
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    os.dup2(fd, 0)
    os.close(fd)


def _temp_fd() -> int:
    import tempfile

    handle, path = tempfile.mkstemp(prefix="capfence-stdin-")
    os.unlink(path)
    return handle
