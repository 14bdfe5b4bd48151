"""The Python API, in the seed's shape, for executors that embed the gate:

    from capfence_sh import ActionEvent, ActionRuntime
    runtime = ActionRuntime.from_policy("policies/shell.yaml")
    event = ActionEvent.create(actor="ops-agent", resource="shell", action="exec", environment="production",
                               payload={"command": "rm -rf /var/lib/postgresql"})
    verdict = runtime.execute(event)      # decides and audits; never spawns
    verdict.authorized, verdict.decision, verdict.reason, verdict.rule, verdict.actions
    result = runtime.run(event)           # decides, audits, and spawns only on allow

Same core as the CLI: the same parser, policy engine, audit log and spawning code.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from capfence_sh.decision import ActionVerdict, Verdict
from capfence_sh.errors import EXIT_DENIED


@dataclass(frozen=True)
class ActionEvent:
    """Something an agent wants to do. For shell actions, `payload["command"]` holds the script (a string) or
    the argv (a list); `payload["cwd"]` optionally the directory it would run in."""

    actor: str
    action: str
    resource: str
    environment: str = "development"
    risk: str | float = "low"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("actor", "action", "resource", "environment"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        if not isinstance(self.metadata, dict):
            raise ValueError("metadata must be a dictionary")
        try:
            json.dumps(self.metadata)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata must be JSON-serialisable: {exc}") from None

    @classmethod
    def create(cls, actor: str, action: str, resource: str, environment: str = "development",
               risk: str | float = "low", **metadata: Any) -> ActionEvent:
        return cls(actor=actor, action=action, resource=resource, environment=environment, risk=risk,
                   metadata=metadata)

    @property
    def payload(self) -> dict[str, Any]:
        payload = self.metadata.get("payload")
        return payload if isinstance(payload, dict) else {}

    @property
    def command(self) -> str | list[str] | None:
        command = self.payload.get("command", self.metadata.get("command"))
        if command is None or isinstance(command, str):
            return command
        if isinstance(command, list) and all(isinstance(c, str) for c in command):
            return command
        raise ValueError("payload['command'] must be a string (a script) or a list of strings (an argv)")


@dataclass(frozen=True)
class RuntimeVerdict:
    """The seed's verdict shape over capfence's Verdict."""

    authorized: bool
    decision: str  # "allow" | "deny" | "require_approval"
    reason: str
    rule: str
    actions: tuple[ActionVerdict, ...]
    event: ActionEvent
    timestamp: float
    verdict: Verdict
    audit_seq: int | None = None

    @property
    def would_block(self) -> bool:
        return self.verdict.would_block


@dataclass(frozen=True)
class RunResult:
    verdict: RuntimeVerdict
    exit_status: int  # the command's status; 126 when it was not allowed to start
    ran: bool
    signal: int | None = None


class ActionRuntime:
    """Decides ActionEvents under one policy, records every decision, and optionally runs allowed commands."""

    def __init__(self, policy_path: str, *, audit_path: str | None = None, mode: str | None = None,
                 workspace: str | None = None, env: Mapping[str, str] | None = None) -> None:
        from capfence_sh.gate import GateOptions

        if mode not in (None, "enforce", "observe"):
            raise ValueError("mode must be 'enforce' or 'observe'")
        self._env = dict(os.environ if env is None else env)
        self._options = GateOptions(policy=policy_path, audit=audit_path, workspace=workspace,
                                    observe=mode == "observe")
        from capfence_sh.gate import open_gate

        self._gate = open_gate(self._options, self._env)  # validates the policy now: errors surface at creation

    @classmethod
    def from_policy(cls, policy_path: str, mode: str = "enforce", *, audit_path: str | None = None,
                    workspace: str | None = None, env: Mapping[str, str] | None = None) -> ActionRuntime:
        return cls(policy_path, audit_path=audit_path, mode=mode, workspace=workspace, env=env)

    @property
    def policy_name(self) -> str:
        return self._gate.policy.name

    def check(self, event: ActionEvent) -> RuntimeVerdict:
        """Decide without recording (a dry run)."""
        return self._decide(event, record=False)[0]

    def execute(self, event: ActionEvent) -> RuntimeVerdict:
        """Decide and record; never spawns."""
        return self._decide(event, record=True)[0]

    def run(self, event: ActionEvent, *, cwd: str | None = None) -> RunResult:
        """Decide, record, and run the event's command only if allowed (as `capfence exec` does)."""
        from capfence_sh.gate import real_shell
        from capfence_sh.process import SpawnError, run_child

        verdict, gate, record = self._decide(event, record=True)
        command = event.command
        if not verdict.authorized or command is None:
            return RunResult(verdict, EXIT_DENIED if not verdict.authorized else 0, False)
        argv = [real_shell(gate.env), "-c", command] if isinstance(command, str) else list(command)
        try:
            result = run_child(argv, env=dict(gate.env), cwd=cwd or event.payload.get("cwd"))
        except SpawnError as exc:
            return RunResult(verdict, exc.exit_status, False)
        gate.record_outcome(record, result)
        return RunResult(verdict, result.exit_status, True, result.signal)

    def _decide(self, event: ActionEvent, *, record: bool):
        from capfence_sh.gate import GateOptions, open_gate

        cwd = event.payload.get("cwd")
        options = GateOptions(policy=self._options.policy, audit=self._options.audit,
                              environment=event.environment, actor=event.actor, workspace=self._options.workspace,
                              observe=self._options.observe, cwd=cwd if isinstance(cwd, str) else None)
        gate = open_gate(options, self._env)
        command = event.command
        payload_text = json.dumps(event.metadata.get("payload", event.metadata), sort_keys=True)
        resource, verb = event.resource, event.action
        if isinstance(command, list):
            core = gate.engine.decide_argv(command, gate.ctx)
        else:
            core = gate.engine.decide_script(command or "", gate.ctx, resource=resource, verb=verb,
                                             payload_text=payload_text if command is None else "")
        audit_record = gate.record_decision(core) if record else None
        verdict = RuntimeVerdict(core.authorized, core.decision.value, core.reason, core.rule, core.actions, event,
                                 time.time(), core, audit_record["seq"] if audit_record else None)
        return verdict, gate, audit_record
