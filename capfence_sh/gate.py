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
    session: str | None = None  # the agent session approvals "for the session" are bound to
    wait: float | None = None  # seconds to wait for a human's approval (None: the policy's approval.wait)
    # The process the decision is for, when another one decides for it (the decision service): its pid and ppid
    # go into the audit record and drive actor detection.
    caller_pid: int | None = None
    caller_ppid: int | None = None


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
            "pid": self.pid,
            "ppid": self.ppid,
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

    @property
    def pid(self) -> int:
        return self.options.caller_pid if self.options.caller_pid is not None else os.getpid()

    @property
    def ppid(self) -> int:
        return self.options.caller_ppid if self.options.caller_ppid is not None else os.getppid()

    @property
    def session(self) -> str:
        """What "approve for the session" is bound to: the hook's session id, CAPFENCE_SESSION, else the agent
        process (or, without one, the parent process) asking."""
        if self.options.session:
            return self.options.session
        if self.env.get("CAPFENCE_SESSION"):
            return self.env["CAPFENCE_SESSION"]
        source = self.actor_source
        if source.startswith("parent process "):
            return f"{self.ctx.actor}@{source.split()[2]}"
        return f"{self.ctx.actor}@{self.ppid}"

    def record_approval(self, event: str, request) -> None:
        """An approval-store event as an audit record (requested, approved, rejected, expired, consumed)."""
        from capfence_sh.audit import AuditLog
        from capfence_sh.records import redact

        fields = {
            "kind": "approval",
            "event": event,
            "request": request.id,
            "fingerprint": request.fingerprint,
            "host": _hostname(),
            "user": self.ctx.user,
            "actor": request.actor,
            "cwd": request.cwd,
            "environment": request.environment,
            "session": request.session,
            "command": redact(request.command),
            "rule": request.rule,
            "reason": redact(request.reason),
            "status": request.status,
            **({"scope": request.scope} if request.scope else {}),
            **({"by": request.decided_by} if request.decided_by else {}),
            **({"note": redact(request.decision_note)} if request.decision_note else {}),
        }
        try:
            AuditLog(self.audit_path, key=self.audit_key, **_rotation(self.audit_max_bytes)).append(fields)
        except AuditError:
            if self.audit_on_failure != "allow":
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
            "pid": self.pid,
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
              positional: tuple[str, ...] | None = (), errexit: bool = False,
              policy_memory: dict | None = None) -> Gate:
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
    policy = load_choice(choice, cache_dir=paths.cache_dir(env), memory=policy_memory)
    mode = "observe" if options.observe else policy.mode
    audit_path = options.audit or env.get("CAPFENCE_AUDIT") or policy.audit.get("path") or paths.default_audit_path(env)
    audit_path = os.path.abspath(os.path.expanduser(audit_path))
    key_file = env.get("CAPFENCE_AUDIT_KEY_FILE") or policy.audit.get("key_file")
    key_file = os.path.abspath(os.path.expanduser(key_file)) if key_file else None
    # The log wherever it is, with its segments and quarantine (`audit.jsonl*`), is capfence's own; so is the key.
    from capfence_sh.approvals import store_path

    own = (audit_path + "*", store_path(audit_path) + "*") + ((key_file,) if key_file else ())
    ctx, actor_source = build_context(
        env=env, cwd=cwd, workspace=options.workspace, environment=options.environment, actor=options.actor,
        policy_environment=policy.environment, policy_workspace=policy.workspace, env_complete=options.env_complete,
        positional=positional, errexit=errexit, extra_protected=own, secrets=(key_file,) if key_file else (),
        caller_ppid=options.caller_ppid)
    key = _read_key(key_file) if key_file else None
    engine = _engine(policy, mode, policy_memory)
    return Gate(options, env, choice, engine, ctx, actor_source, audit_path, key,
                policy.audit.get("on_failure", "deny"), positional,
                audit_max_bytes=_audit_max_bytes(env, policy.audit))  # audit rotation size


def _engine(policy, mode: str, memory: dict | None) -> Engine:
    """One engine per compiled policy in a long-lived process, so its memo of decided commands is reused."""
    if memory is None:
        return Engine(policy, mode=mode)
    engines = memory.setdefault("__engines__", {})
    engine = engines.get((id(policy), mode))
    if engine is None or engine.policy is not policy:
        engine = engines[(id(policy), mode)] = Engine(policy, mode=mode)
    return engine


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


def approval_gate(gate: Gate, verdict: Verdict, *, form_command: tuple[str, str] | None = None,
                  err=None) -> int | None:
    """For a command that needs a human: use a grant made for exactly this command if there is one; otherwise
    file a request and (when asked to) wait for the decision. Returns None when the command may run, else the
    exit status to refuse with. Every step is an audit record."""
    from capfence_sh import approvals

    form, command = form_command or (verdict.form, verdict.command)
    ctx = gate.ctx
    session = gate.session
    approval = gate.policy.approval
    ttl = float(approval.get("ttl", approvals.DEFAULT_TTL_SECONDS))
    with approvals.ApprovalStore(approvals.store_path(gate.audit_path)) as store:
        record_expired(gate, store)
        grant = store.consume_grant(command=command, form=form, cwd=ctx.cwd, actor=ctx.actor,
                                    environment=ctx.environment, session=session)
        if grant is not None:
            gate.record_approval("consumed", grant)
            return None
        request, created = store.request(command=command, form=form, cwd=ctx.cwd, actor=ctx.actor,
                                         environment=ctx.environment, session=session, rule=verdict.rule,
                                         reason=verdict.reason, actions=_actions_for_audit(verdict), ttl=ttl)
        if created:
            gate.record_approval("requested", request)
        print(f"capfence: approval required: {verdict.reason} (request {request.id})", file=err or sys.stderr)
        wait = approval_wait(gate)
        if wait <= 0:
            return EXIT_DENIED
        print(f"capfence: waiting up to {wait:g}s for a human to approve request {request.id} (`capfence review`)",
              file=err or sys.stderr)
        outcome = store.wait(request.id, wait)
        if outcome.status == "approved" and store.consume(request.id):
            gate.record_approval("consumed", store.get(request.id))
            return None
        if outcome.status == "rejected":
            gate.record_approval("rejected-seen", outcome)
            note = f": {outcome.decision_note}" if outcome.decision_note else ""
            print(f"capfence: denied: request {request.id} was rejected by {outcome.decided_by}{note}",
                  file=err or sys.stderr)
        elif outcome.status == "expired":
            gate.record_approval("expired", outcome)
            print(f"capfence: denied: approval request {request.id} expired", file=err or sys.stderr)
        else:
            print(f"capfence: denied: approval timed out (request {request.id})", file=err or sys.stderr)
        return EXIT_DENIED


def approval_wait(gate: Gate) -> float:
    """Seconds to wait for a human: `--wait N`, else the policy's approval.wait; bare `--wait` means the policy's
    value or 300 s. 0: do not wait."""
    configured = float(gate.policy.approval.get("wait", 0))
    wait = gate.options.wait if gate.options.wait is not None else configured
    return (configured or 300.0) if wait < 0 else wait


def record_expired(gate: Gate, store) -> None:
    """Expiries are audit records too, whoever notices them first (a gate, `capfence approvals`, the review UI)."""
    for request in store.expire_due():
        gate.record_approval("expired", request)


def execute(gate: Gate, verdict: Verdict, *, argv: list[str] | None = None, script: str | None = None,
            script_args: list[str] | tuple[str, ...] = ()) -> int:
    """Record the decision, then spawn on allow (or in observe mode, or with a human's approval). Returns the
    exit status for the gate."""
    record = gate.record_decision(verdict)
    if verdict.decision is Decision.REQUIRE_APPROVAL and verdict.mode != "observe":
        refused = approval_gate(gate, verdict)
        if refused is not None:
            return refused
    elif not verdict.authorized:
        print(refusal_line(verdict), file=sys.stderr)
        return EXIT_DENIED
    from capfence_sh.process import SpawnError, run_child

    env = dict(gate.env)
    # Shims the command runs into (a nested `rm`, `bash -c`) need not decide again what was decided here.
    from capfence_sh.shim import MARKER, marker_for

    env[MARKER] = marker_for(verdict, os.getpid(), approved=True)
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
