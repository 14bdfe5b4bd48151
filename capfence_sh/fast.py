"""The `capfence` entry point. `exec` and `check` are parsed here by hand, with no typer, rich or YAML on the path:
they run before every agent command. Everything else (and `--help`) goes to the typer CLI in cli.py."""

from __future__ import annotations

import os
import sys

from capfence_sh.errors import (
    EXIT_APPROVAL,
    EXIT_DENIED,
    EXIT_GATE_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    AuditError,
    CapfenceError,
    PolicyError,
)

_VALUE_OPTIONS = {"--policy", "--audit", "--env", "--actor", "--workspace", "--cwd"}
_FLAG_OPTIONS = {"--observe", "--json"}
FAST_COMMANDS = ("exec", "check")


class UsageError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 2 and args[0] == "hook" and args[1] in ("claude", "codex") and not any(
            a in ("--install", "--help", "-h") for a in args[2:]):
        # Runs before every agent tool call: no typer here either.
        from capfence_sh.hooks import main as hook_main

        return hook_main(args[1], args[2:], service=True)
    if not args or args[0] not in FAST_COMMANDS or any(a in ("--help", "-h") for a in _options_part(args[1:])):
        from capfence_sh.cli import run_cli

        return run_cli(args)
    try:
        return _dispatch(args[0], args[1:])
    except UsageError as exc:
        print(f"capfence {args[0]}: {exc} (see `capfence {args[0]} --help`)", file=sys.stderr)
        return EXIT_USAGE
    except BaseException as exc:  # noqa: BLE001 - the one place an unexpected error becomes one line and 125
        return report_gate_error(exc)


def _options_part(args: list[str]) -> list[str]:
    out = []
    for a in args:
        if a in ("--", "-c"):
            break
        out.append(a)
    return out


def report_gate_error(exc: BaseException) -> int:
    if isinstance(exc, KeyboardInterrupt):
        print("capfence: interrupted; nothing was run", file=sys.stderr)
        return 130
    if isinstance(exc, SystemExit):
        raise exc
    if isinstance(exc, PolicyError):
        print(f"capfence: policy error: {exc}; nothing was run", file=sys.stderr)
    elif isinstance(exc, AuditError):
        print(f"capfence: audit log error: {exc}; nothing was run", file=sys.stderr)
    elif isinstance(exc, CapfenceError):
        print(f"capfence: gate error: {exc}; nothing was run", file=sys.stderr)
    else:
        where = _log_traceback(exc)
        print(f"capfence: internal error: {type(exc).__name__}: {exc}; nothing was run"
              + (f" (details in {where})" if where else ""), file=sys.stderr)
    return EXIT_GATE_ERROR


def _log_traceback(exc: BaseException) -> str:
    import traceback

    from capfence_sh import paths

    try:
        directory = paths.state_dir()
        os.makedirs(directory, mode=0o700, exist_ok=True)
        path = os.path.join(directory, "errors.log")
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("".join(traceback.format_exception(exc)) + "\n")
        return path
    except OSError:
        return ""


def parse_gate_args(args: list[str]) -> tuple[dict, list[str] | None, str | None, list[str]]:
    """(options, argv, script, script_args) from `[OPTIONS] -- ARGV...` or `[OPTIONS] -c SCRIPT [ARG0 ARGS...]`."""
    options: dict = {}
    k = 0
    while k < len(args):
        arg = args[k]
        if arg == "--":
            argv = args[k + 1 :]
            if not argv:
                raise UsageError("nothing to run after --")
            return options, argv, None, []
        if arg == "-c":
            if k + 1 >= len(args):
                raise UsageError("-c needs a script")
            return options, None, args[k + 1], args[k + 2 :]
        name, eq, value = arg.partition("=")
        if name in _VALUE_OPTIONS:
            if not eq:
                if k + 1 >= len(args):
                    raise UsageError(f"{name} needs a value")
                value = args[k + 1]
                k += 1
            options[name[2:]] = value
        elif arg in _FLAG_OPTIONS:
            options[arg[2:]] = True
        elif name == "--wait":
            # `--wait` (the policy's approval.wait, else 300 s), `--wait=N` or `--wait N`.
            if eq:
                options["wait"] = _seconds(value)
            elif k + 1 < len(args) and args[k + 1].replace(".", "", 1).isdigit():
                options["wait"] = _seconds(args[k + 1])
                k += 1
            else:
                options["wait"] = -1.0
        elif arg.startswith("-"):
            raise UsageError(f"unknown option {arg}")
        else:
            # `capfence exec ls -la` without `--`: the rest is the command.
            return options, args[k:], None, []
        k += 1
    raise UsageError("give a command after -- or a script with -c")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--wait needs a number of seconds, not {text!r}") from None
    if value < 0:
        raise UsageError("--wait needs a positive number of seconds")
    return value


def _gate_options(options: dict):
    from capfence_sh.gate import GateOptions

    return GateOptions(policy=options.get("policy"), audit=options.get("audit"), environment=options.get("env"),
                       actor=options.get("actor"), workspace=options.get("workspace"),
                       observe=bool(options.get("observe")), cwd=options.get("cwd"), wait=options.get("wait"))


def _dispatch(command: str, args: list[str]) -> int:
    options, argv, script, script_args = parse_gate_args(args)
    # A rich `check` on a terminal renders here; everything else can be decided by the warm decision service.
    if command == "exec" or options.get("json") or not sys.stdout.isatty():
        status = _via_service(command, options, argv, script, script_args)
        if status is not None:
            return status
    from capfence_sh.gate import execute, open_gate

    positional: tuple[str, ...] | None = tuple(script_args[1:]) if script is not None else ()
    gate = open_gate(_gate_options(options), positional=positional)
    verdict = gate.decide_script(script) if script is not None else gate.decide_argv(argv or [])
    if command == "check":
        return _report_check(gate, verdict, bool(options.get("json")))
    if script is None:
        return execute(gate, verdict, argv=argv)
    return execute(gate, verdict, script=script, script_args=script_args)


def _via_service(command: str, options: dict, argv, script, script_args: list[str]) -> int | None:
    """Decide through the decision service and, for exec, run the command here. None: no service, decide locally."""
    from capfence_sh import service_client

    env = os.environ
    if not service_client.enabled(env) or options.get("wait") is not None:
        # `--wait` decides here, so that "waiting for approval <id>" is shown while it waits, not after.
        return None
    wanted = {k: v for k, v in options.items() if k in ("policy", "audit", "env", "actor", "workspace", "observe",
                                                         "wait", "cwd")}
    request = service_client.caller_request(
        env, op="decide", mode=command, json=bool(options.get("json")), script=script, argv=argv,
        positional=list(script_args[1:]) if script is not None else [], options=wanted,
        want_shell=script is not None)
    if options.get("cwd"):
        request["cwd"] = options["cwd"]
    reply = service_client.ask(request, env)
    if reply is None:
        return None
    if "error" in reply:
        print(reply["error"], file=sys.stderr)
        return EXIT_GATE_ERROR
    if reply.get("stdout"):
        sys.stdout.write(reply["stdout"])
    if reply.get("stderr"):
        sys.stderr.write(reply["stderr"])
    if not reply.get("run"):
        return int(reply["status"])
    return _run_decided(reply, argv, script, script_args, request)


def _run_decided(reply: dict, argv, script, script_args: list[str], request: dict) -> int:
    from capfence_sh import service_client
    from capfence_sh.process import SpawnError, run_child
    from capfence_sh.shim import MARKER

    env = dict(os.environ)
    env[MARKER] = reply["marker"]
    command = [reply["shell"], "-c", script, *script_args] if script is not None else list(argv)
    outcome = {"op": "outcome", "record": reply.get("record"), "cwd": request["cwd"],
               "environ": request["environ"], "pid": request["pid"], "ppid": request["ppid"],
               "options": request["options"]}
    try:
        result = run_child(command, env=env)
    except SpawnError as exc:
        print(exc.message, file=sys.stderr)
        service_client.tell({**outcome, "exit_status": exc.exit_status, "error": exc.message}, os.environ)
        return exc.exit_status
    told = service_client.tell({**outcome, "exit_status": result.exit_status, "signal": result.signal,
                                "wall_seconds": round(result.wall_seconds, 6),
                                "cpu_seconds": round(result.cpu_seconds, 6),
                                "peak_rss_bytes": result.peak_rss_bytes}, os.environ)
    if not told:
        print("capfence: warning: the command ran but its outcome was not recorded", file=sys.stderr)
    return result.exit_status


def _report_check(gate, verdict, as_json: bool) -> int:
    from capfence_sh.decision import Decision

    if as_json:
        import json

        from capfence_sh.records import verdict_data

        data = verdict_data(verdict)
        data["policy"].update({"path": gate.choice.path, "origin": gate.choice.origin,
                               **({"overlay": gate.choice.workspace_overlay} if gate.choice.workspace_overlay else {})})
        data["workspace"] = gate.ctx.workspace
        data["cwd"] = gate.ctx.cwd
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from capfence_sh.render import print_check

        print_check(verdict, gate)
    if verdict.decision is Decision.ALLOW:
        return EXIT_OK
    return EXIT_DENIED if verdict.decision is Decision.DENY else EXIT_APPROVAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
