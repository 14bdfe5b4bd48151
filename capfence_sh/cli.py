"""The typer CLI: parses arguments, calls the core, renders. No decisions are made here.

`exec` and `check` are handled by fast.py (no typer on the hot path); they are declared here too so that
`capfence --help` and `capfence exec --help` document them.
"""

from __future__ import annotations

import os
import sys

import typer

from capfence_sh.audit_cli import audit_app
from capfence_sh.errors import EXIT_GATE_ERROR, CapfenceError, PolicyError
from capfence_sh.replay.command import HELP as REPLAY_HELP
from capfence_sh.replay.command import replay_command

app = typer.Typer(
    name="capfence",
    help="A shell gate for AI agents: parse the proposed command, decide by policy, audit, then run it or not.\n\n"
         "Exit codes: the command's own status when it ran; 126 denied (or approval required under exec); "
         "3 approval required (check); 125 gate error (nothing ran); 2 usage error.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)
policy_app = typer.Typer(help="Bundled policy packs and policy files.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
shims_app = typer.Typer(help="PATH shims: route an agent's shell and programs through the gate.", no_args_is_help=True)
app.add_typer(shims_app, name="shims")
hook_app = typer.Typer(help="Agent hooks (Claude Code, Codex): answer PreToolUse calls from the gate.",
                       no_args_is_help=True)
app.add_typer(hook_app, name="hook")
app.add_typer(audit_app, name="audit")
service_app = typer.Typer(help="The decision service: a warm per-user process that makes each gated command cost "
                               "about one interpreter start-up. Started on demand; exits when idle.",
                          no_args_is_help=True)
app.add_typer(service_app, name="service")
app.command("replay", help=REPLAY_HELP, no_args_is_help=True)(replay_command)

_GATE_HELP = {
    "policy": "Policy file or bundled pack name (default: CAPFENCE_POLICY, .capfence/policy.yaml, user config, "
              "bundled 'default').",
    "audit": "Audit log path (default: CAPFENCE_AUDIT, the policy's audit.path, "
             "$XDG_STATE_HOME/capfence/audit.jsonl).",
    "env": "Environment name rules can match (default: CAPFENCE_ENV, the policy's environment, 'development').",
    "actor": "Who proposes the command (default: CAPFENCE_ACTOR, else the agent found among parent processes).",
    "workspace": "The project directory (default: CAPFENCE_WORKSPACE, the policy's workspace, the git root).",
}


def _gate_args(ctx: typer.Context, command: str) -> int:
    from capfence_sh.fast import main

    return main([command, *ctx.args])


@app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             help="Run a command only if the policy allows it.\n\n"
                  "  capfence exec [OPTIONS] -- PROGRAM ARGS...\n\n"
                  "  capfence exec [OPTIONS] -c 'SCRIPT' [NAME ARGS...]\n\n"
                  "Options: --policy P, --audit PATH, --env NAME, --actor NAME, --workspace DIR, --observe.\n\n"
                  "A denied command never starts: one line on stderr, exit 126. The command's own exit status is "
                  "passed through (128+N when killed by signal N).")
def exec_command(ctx: typer.Context) -> None:
    raise typer.Exit(_gate_args(ctx, "exec"))


@app.command("check", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             help="Explain what the policy decides for a command, without running it.\n\n"
                  "  capfence check [OPTIONS] [--json] -- PROGRAM ARGS...\n\n"
                  "  capfence check [OPTIONS] [--json] -c 'SCRIPT'\n\n"
                  "Exit status: 0 allow, 126 deny, 3 require_approval, 125 gate error.")
def check_command(ctx: typer.Context) -> None:
    raise typer.Exit(_gate_args(ctx, "check"))


@app.command("version", help="Print the version.")
def version() -> None:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        typer.echo(f"capfence {package_version('capfence-sh')}")
    except PackageNotFoundError:
        typer.echo("capfence (not installed as a package)")


@policy_app.command("list", help="Name the bundled policy packs.")
def policy_list() -> None:
    from capfence_sh.policy import bundled_packs, load_policy, resolve_pack

    for name in bundled_packs():
        try:
            description = load_policy(resolve_pack(name)).description
        except PolicyError as exc:
            description = f"(invalid: {exc})"
        typer.echo(f"{name:<10} {description}")


@policy_app.command("show", help="Print a bundled pack (or a policy file) as written.")
def policy_show(name: str = typer.Argument(..., help="Pack name or policy file.")) -> None:
    from capfence_sh.policy import resolve_pack

    path = resolve_pack(name)
    with open(path, encoding="utf-8") as handle:
        sys.stdout.write(handle.read())


@policy_app.command("validate", help="Check a policy file: syntax, keys, and every rule's examples.")
def policy_validate(path: str = typer.Argument(..., help="Policy file or pack name."),
                    as_json: bool = typer.Option(False, "--json", help="Machine-readable result.")) -> None:
    from capfence_sh.policy import load_policy, resolve_pack
    from capfence_sh.policy.examples import check_examples

    policy = load_policy(resolve_pack(path))
    failures = check_examples(policy)
    examples = sum(len(v) for r in policy.rules for v in r.examples.values())
    if as_json:
        import json

        typer.echo(json.dumps({"policy": policy.name, "rules": len(policy.rules), "examples": examples,
                               "failures": [f._asdict() for f in failures]}, indent=2))
    else:
        for failure in failures:
            typer.echo(f"FAIL {failure.rule}: expected {failure.expected}: {failure.command!r} -> "
                       f"{failure.got} by rule {failure.decided_by}", err=True)
        typer.echo(f"{'OK' if not failures else 'FAILED'}: {policy.name}: {len(policy.rules)} rules, "
                   f"{examples} examples, {len(failures)} failing")
    raise typer.Exit(1 if failures else 0)


@policy_app.command("test", help="Run a policy against its rules' examples and against corpora of commands "
                                 "(the bundled bypass and everyday corpora unless --corpus is given); report every "
                                 "case it gets wrong with the rule that decided. Exit 1 on any failure.")
def policy_test(path: str = typer.Argument(..., help="Policy file or pack name."),
                corpus: list[str] = typer.Option(None, "--corpus", help="A corpus: bypass, everyday, or a .jsonl "
                                                 "file of {command, expect: blocked|allowed}. Repeatable."),
                show: int = typer.Option(20, "--show", help="How many failures to print per corpus (0: all)."),
                as_json: bool = typer.Option(False, "--json", help="Machine-readable result.")) -> None:
    from capfence_sh.engine import Engine
    from capfence_sh.policy import load_policy, resolve_pack
    from capfence_sh.policy.corpora import BUNDLED, CorpusError, read_corpus, resolve_corpus, run_corpus
    from capfence_sh.policy.examples import check_examples, example_context

    policy = load_policy(resolve_pack(path))
    example_failures = check_examples(policy)
    examples = sum(len(v) for r in policy.rules for v in r.examples.values())
    engine = Engine(policy)
    ctx = example_context(policy.environment or "development")
    reports = []
    for name in corpus or list(BUNDLED):
        try:
            source = resolve_corpus(name)
            cases = read_corpus(source)
        except CorpusError as exc:
            typer.echo(f"capfence policy test: {exc}", err=True)
            raise typer.Exit(2) from None
        results = run_corpus(engine, cases, ctx)
        reports.append((name, source, results, [r for r in results if not r.ok]))
    failed = bool(example_failures) or any(failures for *_, failures in reports)
    if as_json:
        import json

        typer.echo(json.dumps({
            "policy": policy.name, "sha256": policy.sha256, "ok": not failed,
            "examples": {"total": examples, "failures": [f._asdict() for f in example_failures]},
            "corpora": [{"corpus": name, "path": source, "total": len(results), "failures": [
                {"line": r.case.line, "command": r.case.command, "expect": r.case.expect, "got": r.decision,
                 "rule": r.rule, "reason": r.reason, "category": r.case.category} for r in failures]}
                for name, source, results, failures in reports]}, indent=2, ensure_ascii=False))
        raise typer.Exit(1 if failed else 0)
    for failure in example_failures:
        typer.echo(f"FAIL example of {failure.rule}: expected {failure.expected}: {failure.command!r} -> "
                   f"{failure.got} by rule {failure.decided_by}")
    typer.echo(f"{policy.name}: rule examples {examples - len(example_failures)}/{examples} as expected")
    for name, source, results, failures in reports:
        for result in failures[: show or None]:
            case = result.case
            typer.echo(f"FAIL {os.path.basename(source)}:{case.line} [{case.category or '-'}] expected "
                       f"{case.expect}, got {result.decision} by rule {result.rule}: {case.command!r}")
        if show and len(failures) > show:
            typer.echo(f"... and {len(failures) - show} more (--show 0 lists all)")
        typer.echo(f"{policy.name}: corpus {name}: {len(results) - len(failures)}/{len(results)} as expected")
    typer.echo("OK" if not failed else "FAILED")
    raise typer.Exit(1 if failed else 0)


def _shim_dir(directory: str | None) -> str:

    from capfence_sh import paths

    return os.path.abspath(os.path.expanduser(directory or os.environ.get("CAPFENCE_SHIM_DIR") or
                                              paths.shims_dir()))


@shims_app.command("install", help="Write the shims (bash, sh and the gated programs) into a directory.")
def shims_install(directory: str = typer.Option(None, "--dir", help="Where (default ~/.local/share/capfence/shims)."),
                  commands: str = typer.Option(None, "--commands", help="Comma-separated programs to shim."),
                  pack: str = typer.Option("default", "--pack", help="A named set of programs: default, minimal.")) -> None:
    from capfence_sh import shims

    target = _shim_dir(directory)
    try:
        names = shims.names_for(commands.split(",") if commands else None, None if commands else pack)
        written = shims.install(target, names)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        typer.echo(f"capfence shims: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"installed {len(written)} shims in {target}: {' '.join(written)}")
    typer.echo("route an agent through them with:")
    for line in shims.env_lines(target):
        typer.echo(f"  {line}")


@shims_app.command("status", help="What is installed, and whether the shim directory comes first on PATH.")
def shims_status(directory: str = typer.Option(None, "--dir"),
                 as_json: bool = typer.Option(False, "--json")) -> None:

    from capfence_sh import shims

    state = shims.status(_shim_dir(directory), os.environ.get("PATH", ""))
    if as_json:
        import json

        typer.echo(json.dumps({"directory": state.directory, "installed": list(state.installed),
                               "first_on_path": state.first_on_path, "shadowed": list(state.shadowed)}, indent=2))
        return
    typer.echo(f"directory:     {state.directory}")
    typer.echo(f"installed:     {len(state.installed)} ({' '.join(state.installed) or 'none'})")
    advice = 'no  (run: eval "$(capfence shims env)")'
    typer.echo(f"first on PATH: {'yes' if state.first_on_path else advice}")
    if state.shadowed:
        typer.echo(f"shadowed:      {' '.join(state.shadowed)} (an earlier PATH entry wins over these shims)")
    raise typer.Exit(0 if state.installed and state.first_on_path and not state.shadowed else 1)


@shims_app.command("env", help="Print the lines to route a shell or agent through the shims (for eval).")
def shims_env(directory: str = typer.Option(None, "--dir")) -> None:
    from capfence_sh import shims

    for line in shims.env_lines(_shim_dir(directory)):
        typer.echo(line)


@shims_app.command("uninstall", help="Remove the shims (only files capfence wrote).")
def shims_uninstall(directory: str = typer.Option(None, "--dir")) -> None:
    from capfence_sh import shims

    target = _shim_dir(directory)
    removed = shims.uninstall(target)
    typer.echo(f"removed {len(removed)} shims from {target}")


def _install_hook(agent: str, scope: str, settings: str | None) -> None:
    import shutil

    from capfence_sh import hooks

    executable = shutil.which("capfence") or os.path.join(os.path.dirname(sys.executable), "capfence")
    if agent == "claude":
        path = settings or hooks.claude_settings_path(scope, os.getcwd(), os.environ)
        matcher = "Bash"
    else:
        path = settings or hooks.codex_hooks_path(os.environ)
        matcher = "Bash"
    added = hooks.install(path, hooks.hook_command(agent, os.path.abspath(executable)), matcher=matcher)
    typer.echo(f"{'added the capfence PreToolUse hook to' if added else 'already installed in'} {path}")


@hook_app.command("claude", help="Answer a Claude Code PreToolUse hook call (JSON on stdin), or --install it.")
def hook_claude(install: bool = typer.Option(False, "--install", help="Merge the hook into settings.json."),
                scope: str = typer.Option("user", "--scope", help="user (~/.claude), project or local (.claude)."),
                settings: str = typer.Option(None, "--settings", help="A settings file to merge into instead.")) -> None:
    if not install:
        from capfence_sh.hooks import main as hook_main

        raise typer.Exit(hook_main("claude", []))
    _install_hook("claude", scope, settings)


@hook_app.command("codex", help="Answer a Codex PreToolUse hook call (JSON on stdin), or --install it.")
def hook_codex(install: bool = typer.Option(False, "--install", help="Merge the hook into ~/.codex/hooks.json."),
               settings: str = typer.Option(None, "--settings", help="A hooks.json to merge into instead.")) -> None:
    if not install:
        from capfence_sh.hooks import main as hook_main

        raise typer.Exit(hook_main("codex", []))
    _install_hook("codex", "user", settings)


def _approvals_gate():
    from capfence_sh.gate import GateOptions, open_gate

    return open_gate(GateOptions())


def record_expired(gate, store) -> None:
    from capfence_sh.gate import record_expired as record

    record(gate, store)


@app.command("approve", help="Approve a pending request (a human's decision; agents are denied this command).")
def approve(request_id: int = typer.Argument(..., help="The request id from `capfence: approval required`."),
            session: bool = typer.Option(False, "--session", help="Also allow this exact command for the rest of "
                                                                  "the agent's session."),
            until: str = typer.Option(None, "--until", help="Allow this exact command until then (30m, 2h, ISO)."),
            note: str = typer.Option("", "--note", help="Why, for the audit log.")) -> None:
    from capfence_sh import approvals

    gate = _approvals_gate()
    scope = "until" if until else ("session" if session else "once")
    allowed = gate.policy.approval.get("remember")
    allowed = [allowed] if isinstance(allowed, str) else (allowed or list(approvals.SCOPES))
    if scope not in allowed and scope != "once":
        typer.echo(f"capfence: the policy does not allow `{scope}` approvals (allowed: {', '.join(allowed)})",
                   err=True)
        raise typer.Exit(2)
    with approvals.ApprovalStore(approvals.store_path(gate.audit_path)) as store:
        record_expired(gate, store)
        try:
            request = store.approve(request_id, by=approvals.reviewer(), scope=scope,
                                    until=approvals.parse_until(until) if until else None, note=note,
                                    record=lambda decided: gate.record_approval("approved", decided))
        except approvals.ApprovalError as exc:
            typer.echo(f"capfence: {exc}", err=True)
            raise typer.Exit(1)
    typer.echo(f"approved request {request.id} ({scope}): {request.command}")


@app.command("reject", help="Reject a pending request.")
def reject(request_id: int = typer.Argument(...),
           reason: str = typer.Option("", "--reason", help="Shown to the waiting agent and kept in the audit log.")) -> None:
    from capfence_sh import approvals

    gate = _approvals_gate()
    with approvals.ApprovalStore(approvals.store_path(gate.audit_path)) as store:
        record_expired(gate, store)
        try:
            request = store.reject(request_id, by=approvals.reviewer(), note=reason,
                                   record=lambda decided: gate.record_approval("rejected", decided))
        except approvals.ApprovalError as exc:
            typer.echo(f"capfence: {exc}", err=True)
            raise typer.Exit(1)
    typer.echo(f"rejected request {request.id}: {request.command}")


@app.command("approvals", help="List approval requests (pending first).")
def approvals_list(all_requests: bool = typer.Option(False, "--all", help="Include decided and expired ones."),
                   as_json: bool = typer.Option(False, "--json")) -> None:
    import json
    import time

    from capfence_sh import approvals

    gate = _approvals_gate()
    with approvals.ApprovalStore(approvals.store_path(gate.audit_path)) as store:
        record_expired(gate, store)
        items = store.recent(200) if all_requests else store.pending()
    if as_json:
        for item in items:
            typer.echo(json.dumps({k: v for k, v in item.__dict__.items()}, ensure_ascii=False))
        return
    if not items:
        typer.echo("no pending approval requests" if not all_requests else "no approval requests")
        return
    for item in items:
        age = int(time.time() - item.created_at)
        typer.echo(f"{item.id:>5}  {item.status:<9} {age:>5}s  {item.actor:<14} {item.command}")
        typer.echo(f"{'':>5}  rule {item.rule}: {item.reason}")


@app.command("review", help="A terminal UI for the pending approval requests (approve once or for the session, "
                              "reject with a reason) and the audit log's history. Needs a terminal: refused (exit 2) "
                              "when stdin or stdout is not one.")
def review() -> None:
    from capfence_sh.review import main as review_main

    raise typer.Exit(review_main())


def _service_line(info: dict) -> str:
    import time

    return (f"decision service running: pid {info['pid']}, socket {info['socket']}, "
            f"up {int(time.time() - info['started'])}s, {info['served']} requests served, "
            f"exits after {info['idle_seconds']:g}s idle")


@service_app.command("status", help="Whether a decision service is running (exit 1 when not).")
def service_status() -> None:

    from capfence_sh import service_client

    info = service_client.status(os.environ)
    if info is None:
        mode = os.environ.get("CAPFENCE_SERVICE", "auto")
        typer.echo(f"no decision service at {service_client.socket_path(os.environ)} (CAPFENCE_SERVICE={mode})")
        raise typer.Exit(1)
    typer.echo(_service_line(info))


@service_app.command("start", help="Start the decision service now (the gate also starts it on demand).")
def service_start() -> None:

    from capfence_sh import service_client

    info = service_client.start_and_wait(os.environ)
    if info is None:
        typer.echo("capfence: the decision service did not start; gated commands are decided in-process",
                   err=True)
        raise typer.Exit(EXIT_GATE_ERROR)
    typer.echo(_service_line(info))


@service_app.command("stop", help="Stop the decision service (the next gated command starts a fresh one unless "
                                  "CAPFENCE_SERVICE=off).")
def service_stop() -> None:

    from capfence_sh import service_client

    info = service_client.stop(os.environ)
    typer.echo(f"stopped decision service pid {info['pid']}" if info else "no decision service was running")


def run_cli(args: list[str]) -> int:
    try:
        # Without standalone mode click returns a command's exit code instead of raising SystemExit.
        result = app(args=args, prog_name="capfence", standalone_mode=False)
        if isinstance(result, int):
            return result
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:  # click's own usage errors
        return exc.code if isinstance(exc.code, int) else 2
    except PolicyError as exc:
        print(f"capfence: policy error: {exc}", file=sys.stderr)
        return 1
    except CapfenceError as exc:
        print(f"capfence: {exc}", file=sys.stderr)
        return EXIT_GATE_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - usage errors carry their own exit code; anything else is a bug
        # Usage errors come from click, which typer either depends on or vendors (typer 0.29: typer._click),
        # so they are recognised by what they offer rather than by import path.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        if type(exc).__name__ == "Abort":
            return 1
        from capfence_sh.fast import report_gate_error

        return report_gate_error(exc)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_cli(sys.argv[1:]))
