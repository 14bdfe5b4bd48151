"""decide -> audit -> spawn (or refuse). The edge around the pure core, shared by `capfence exec`, `capfence
check`, the shims, the hook and the Python API.

Fail closed: any error before the decision is recorded (bad policy, unwritable audit log, internal error)
means nothing runs. The command is spawned only after its decision record is durably on disk.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Mapping

from capfence_sh import paths
from capfence_sh.decision import Decision, Verdict
from capfence_sh.engine import Engine
from capfence_sh.errors import EXIT_DENIED, AuditError, GateError
from capfence_sh.parse.context import Context
from capfence_sh.policy import PolicyChoice, choose_policy, load_choice


@dataclass(frozen=True, slots=True)
class GateOptions:
    policy: str | None = None
    audit: str | None = None
    environment: str | None = None
    actor: str | None = None
    workspace: str | None = None
    observe: bool = False
    env_complete: bool = True  # False for hooks: the shell that runs the command may have more variables
    cwd: str | None = None


@dataclass(slots=True)
class Gate:
    """A loaded policy and the situation; decides and records."""

    options: GateOptions
    env: Mapping[str, str]
    choice: PolicyChoice
    engine: Engine
    ctx: Context
    actor_source: str
    audit_path: str
    audit_key: bytes | None
    audit_on_failure: str
    positional: tuple[str, ...] | None = ()
    extra: dict = field(default_factory=dict)
    audit_max_bytes: int | None = None  # audit rotation: CAPFENCE_AUDIT_MAX_BYTES, else policy audit.max_bytes

    @property
    def policy(self):
        return self.engine.policy

    def decide_script(self, text: str) -> Verdict:
        return self.engine.decide_script(text, self.ctx)

    def decide_argv(self, argv: list[str]) -> Verdict:
        return self.engine.decide_argv(argv, self.ctx)

    def record_decision(self, verdict: Verdict) -> dict | None:
        """Append the decision record. Returns it, or None when the policy explicitly tolerates audit failure."""
        from capfence_sh.audit import AuditLog
        from capfence_sh.records import redact

        fields = {
            "kind": "decision",
            "host": _hostname(),
            "user": self.ctx.user,
            "actor": self.ctx.actor,
            "actor_source": self.actor_source,
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "cwd": self.ctx.cwd,
            "workspace": self.ctx.workspace,
            "environment": self.ctx.environment,
            "command": redact(verdict.command),
            "form": verdict.form,
            "decision": verdict.decision.value,
            "would_block": verdict.would_block,
            "rule": verdict.rule,
            "reason": redact(verdict.reason),
            "policy": {"name": verdict.policy_name, "sha256": verdict.policy_sha256, "path": self.choice.path,
                       **({"overlay": self.choice.workspace_overlay} if self.choice.workspace_overlay else {})},
            "mode": verdict.mode,
            "actions": _actions_for_audit(verdict),
        }
        try:
            return AuditLog(self.audit_path, key=self.audit_key, **_rotation(self.audit_max_bytes)).append(fields)
        except AuditError:
            if self.audit_on_failure == "allow":
                return None
            raise

    def record_outcome(self, decision_record: dict | None, result, *, error: str = "",
                       exit_status: int | None = None) -> None:
        """The second, linked record: how the spawned command ended (or why it could not start)."""
        from capfence_sh.audit import AuditLog

        fields = {
            "kind": "outcome",
            "ref": decision_record["seq"] if decision_record else None,
            "ref_hash": decision_record["hash"] if decision_record else None,
            "host": _hostname(),
            "pid": os.getpid(),
            "exit_status": result.exit_status if result is not None else exit_status,
            "signal": result.signal if result is not None else None,
            "wall_seconds": round(result.wall_seconds, 6) if result is not None else 0.0,
            "cpu_seconds": round(result.cpu_seconds, 6) if result is not None else 0.0,
            "peak_rss_bytes": result.peak_rss_bytes if result is not None else None,
            **({"error": error} if error else {}),
        }
        try:
            AuditLog(self.audit_path, key=self.audit_key, **_rotation(self.audit_max_bytes)).append(fields)
        except AuditError as exc:
            print(f"capfence: warning: the command ran but its outcome was not recorded: {exc}", file=sys.stderr)


# --- audit rotation size (audit work: passes the configured size to AuditLog) ---
def _rotation(max_bytes: int | None) -> dict:
    return {} if max_bytes is None else {"max_bytes": max_bytes}


def _audit_max_bytes(env: Mapping[str, str], policy_audit: dict) -> int | None:
    text = env.get("CAPFENCE_AUDIT_MAX_BYTES")
    if not text:
        return policy_audit.get("max_bytes")
    if not text.strip().isdigit() or int(text) < 4096:
        raise AuditError(f"CAPFENCE_AUDIT_MAX_BYTES={text!r}: must be an integer of at least 4096")
    return int(text)
# --- end of audit rotation size ---


def _actions_for_audit(verdict: Verdict) -> list[dict]:
    from capfence_sh.records import action_verdict_data

    return [action_verdict_data(a) for a in verdict.actions]


_HOST = ""


def _hostname() -> str:
    global _HOST
    if not _HOST:
        _HOST = os.uname().nodename
    return _HOST


def open_gate(options: GateOptions, env: Mapping[str, str] | None = None, *,
              positional: tuple[str, ...] | None = (), errexit: bool = False) -> Gate:
    """Load the policy (from the compiled cache when unchanged) and gather the situation."""
    from capfence_sh.situation import build_context

    env = os.environ if env is None else env
    cwd = options.cwd
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:
            raise GateError("the current directory no longer exists") from None
    probe_workspace = options.workspace or env.get("CAPFENCE_WORKSPACE") or cwd
    choice = choose_policy(options.policy, env, probe_workspace, cwd)
    policy = load_choice(choice, cache_dir=paths.cache_dir(env))
    mode = "observe" if options.observe else policy.mode
    audit_path = options.audit or env.get("CAPFENCE_AUDIT") or policy.audit.get("path") or paths.default_audit_path(env)
    audit_path = os.path.abspath(os.path.expanduser(audit_path))
    key_file = env.get("CAPFENCE_AUDIT_KEY_FILE") or policy.audit.get("key_file")
    key_file = os.path.abspath(os.path.expanduser(key_file)) if key_file else None
    # The log wherever it is, with its segments and quarantine (`audit.jsonl*`), is capfence's own; so is the key.
    own = (audit_path + "*",) + ((key_file,) if key_file else ())
    ctx, actor_source = build_context(
        env=env, cwd=cwd, workspace=options.workspace, environment=options.environment, actor=options.actor,
        policy_environment=policy.environment, policy_workspace=policy.workspace, env_complete=options.env_complete,
        positional=positional, errexit=errexit, extra_protected=own, secrets=(key_file,) if key_file else ())
    key = _read_key(key_file) if key_file else None
    return Gate(options, env, choice, Engine(policy, mode=mode), ctx, actor_source, audit_path, key,
                policy.audit.get("on_failure", "deny"), positional,
                audit_max_bytes=_audit_max_bytes(env, policy.audit))  # audit rotation size


def _read_key(path: str) -> bytes:
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            key = handle.read().strip()
    except OSError as exc:
        raise AuditError(f"cannot read the audit key file {path}: {exc.strerror}") from None
    if len(key) < 16:
        raise AuditError(f"the audit key file {path} holds fewer than 16 bytes")
    return key


def refusal_line(verdict: Verdict) -> str:
    if verdict.decision is Decision.DENY:
        return f"capfence: denied: {verdict.reason} (rule {verdict.rule})"
    return f"capfence: approval required: {verdict.reason} (rule {verdict.rule})"


def real_shell(env: Mapping[str, str], name: str = "bash") -> str:
    """The real shell, never a capfence shim (which would gate the script a second time)."""
    from capfence_sh.process import find_program

    shim_dirs = tuple(d for d in (paths.shims_dir(env), env.get("CAPFENCE_SHIM_DIR", "")) if d)
    for candidate in (name, "bash", "sh"):
        found = find_program(candidate, env.get("PATH", os.defpath), exclude_dirs=shim_dirs)
        if found:
            return found
    raise GateError("no bash or sh found on PATH")


def execute(gate: Gate, verdict: Verdict, *, argv: list[str] | None = None, script: str | None = None,
            script_args: list[str] | tuple[str, ...] = ()) -> int:
    """Record the decision, then spawn on allow (or in observe mode). Returns the exit status for the gate."""
    record = gate.record_decision(verdict)
    if not verdict.authorized:
        print(refusal_line(verdict), file=sys.stderr)
        return EXIT_DENIED
    from capfence_sh.process import SpawnError, run_child

    env = dict(gate.env)
    # Shims the command runs into (a nested `rm`, `bash -c`) need not decide again what was decided here.
    from capfence_sh.shim import MARKER, marker_for

    env[MARKER] = marker_for(verdict, os.getpid())
    if script is not None:
        # `-c script name arg1 ...`: the same $0 and positional parameters as `bash -c`.
        command = [real_shell(gate.env), "-c", script, *script_args]
    else:
        command = list(argv or [])
    try:
        result = run_child(command, env=env)
    except SpawnError as exc:
        print(exc.message, file=sys.stderr)
        gate.record_outcome(record, None, error=exc.message, exit_status=exc.exit_status)
        return exc.exit_status
    gate.record_outcome(record, result)
    return result.exit_status
