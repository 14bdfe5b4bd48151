"""Agent hooks: Claude Code's and Codex's PreToolUse command hooks, answered from the same decision as the gate.

The hook reads the hook's JSON on stdin (`tool_name`, `tool_input.command`, `cwd`, `session_id`) and answers in the
`hookSpecificOutput.permissionDecision` form:

- deny -> `"deny"` with the reason, which the agent's model sees;
- require_approval -> `"ask"` for Claude Code (the user is prompted). Codex rejects `"ask"` (and would then run
  the call), so for Codex it is a blocking deny whose reason says how a human can approve;
- allow -> no opinion (`{}`), so the agent's own permission rules still apply: capfence never loosens them. With
  `--allow-mode allow`, an allow is passed on as `"allow"` (skipping the agent's prompt).

A gate error (bad policy, unwritable audit log, unreadable input) blocks: exit status 2 with the reason on stderr,
which both agents treat as a blocking error, never as a non-blocking hook failure.
"""

from __future__ import annotations

import json
import os
import sys

from capfence_sh.errors import CapfenceError

HOOK_BLOCK = 2
SHELL_TOOLS = {"claude": ("Bash",), "codex": ("Bash", "shell", "shell_command", "exec_command", "local_shell")}


def run(agent: str, stdin_text: str, *, env=None, allow_mode: str = "defer", policy: str | None = None,
        audit: str | None = None, caller: tuple[int, int] | None = None,
        policy_memory: dict | None = None) -> tuple[str, str, int]:
    """(stdout, stderr, exit status) for one hook call."""
    env = dict(os.environ if env is None else env)
    try:
        request = json.loads(stdin_text or "{}")
        if not isinstance(request, dict):
            raise ValueError("hook input is not a JSON object")
    except ValueError as exc:
        return "", f"capfence: hook input is not valid JSON ({exc}); blocking the tool call", HOOK_BLOCK
    tool = request.get("tool_name", "")
    if tool not in SHELL_TOOLS.get(agent, ()):
        return "{}", "", 0
    command = _command_of(request.get("tool_input") or {})
    if command is None:
        return "", f"capfence: {tool} call without a command; blocking it", HOOK_BLOCK
    try:
        verdict = _decide(agent, request, command, env, policy, audit, caller, policy_memory)
    except BaseException as exc:  # noqa: BLE001 - fail closed: the tool call must not run
        if isinstance(exc, KeyboardInterrupt):
            raise
        kind = "policy error" if type(exc).__name__ == "PolicyError" else (
            "audit log error" if type(exc).__name__ == "AuditError" else
            "gate error" if isinstance(exc, CapfenceError) else f"internal error: {type(exc).__name__}")
        return "", f"capfence: {kind}: {exc}; blocking the tool call", HOOK_BLOCK
    decision = verdict.decision.value
    if verdict.mode == "observe" and decision != "allow":
        return "{}", "", 0  # observe mode: recorded as would-block, the agent proceeds as usual
    reason = f"capfence: {verdict.reason} (rule {verdict.rule})"
    if decision == "allow":
        if allow_mode == "allow":
            return _answer("allow", reason), "", 0
        return "{}", "", 0
    if decision == "require_approval":
        if agent == "claude":
            return _answer("ask", f"capfence asks for approval: {verdict.reason} (rule {verdict.rule})"), "", 0
        reason = (f"capfence: approval required: {verdict.reason} (rule {verdict.rule}); "
                  f"a human can approve it with `capfence review`")
    return _answer("deny", reason), "", 0


def _command_of(tool_input: dict) -> str | None:
    command = tool_input.get("command", tool_input.get("cmd"))
    if isinstance(command, list) and all(isinstance(c, str) for c in command):
        from capfence_sh.parse.walker import shell_quote

        if len(command) >= 3 and os.path.basename(command[0]) in ("bash", "sh", "zsh", "dash") and \
                command[1] in ("-c", "-lc", "-ic", "-cl"):
            return command[2]
        return " ".join(shell_quote(c) for c in command)
    return command if isinstance(command, str) else None


def _decide(agent: str, request: dict, command: str, env: dict, policy: str | None, audit: str | None,
            caller: tuple[int, int] | None = None, policy_memory: dict | None = None):
    from capfence_sh.gate import GateOptions, open_gate

    cwd = request.get("cwd") if isinstance(request.get("cwd"), str) and os.path.isabs(request.get("cwd")) else None
    actor = env.get("CAPFENCE_ACTOR") or ("claude-code" if agent == "claude" else "codex")
    session = request.get("session_id") if isinstance(request.get("session_id"), str) else None
    # The shell that runs the command may hold variables this process cannot see: unset ones are unknown.
    options = GateOptions(policy=policy, audit=audit, actor=actor, cwd=cwd, env_complete=False, session=session,
                          caller_pid=caller[0] if caller else None, caller_ppid=caller[1] if caller else None)
    gate = open_gate(options, env, policy_memory=policy_memory)
    verdict = gate.decide_script(command)
    gate.record_decision(verdict)
    return verdict


def _answer(decision: str, reason: str) -> str:
    return json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": decision,
                                              "permissionDecisionReason": reason}})


def main(agent: str, args: list[str], *, service: bool = False) -> int:
    allow_mode, policy, audit = "defer", None, None
    k = 0
    while k < len(args):
        arg = args[k]
        if arg.startswith("--allow-mode"):
            allow_mode = arg.split("=", 1)[1] if "=" in arg else args[k + 1]
            k += 1 if "=" in arg else 2
            continue
        if arg in ("--policy", "--audit") and k + 1 < len(args):
            if arg == "--policy":
                policy = args[k + 1]
            else:
                audit = args[k + 1]
            k += 2
            continue
        print(f"capfence hook {agent}: unknown option {arg}", file=sys.stderr)
        return HOOK_BLOCK
    if allow_mode not in ("defer", "allow"):
        print("capfence hook: --allow-mode must be defer or allow", file=sys.stderr)
        return HOOK_BLOCK
    stdin_text = sys.stdin.read()
    answer = _via_service(agent, stdin_text, allow_mode, policy, audit) if service else None
    stdout, stderr, status = answer or run(agent, stdin_text, allow_mode=allow_mode, policy=policy, audit=audit)
    if stdout:
        print(stdout)
    if stderr:
        print(stderr, file=sys.stderr)
    return status


def _via_service(agent: str, stdin_text: str, allow_mode: str, policy: str | None,
                 audit: str | None) -> tuple[str, str, int] | None:
    from capfence_sh import service_client

    reply = service_client.ask(service_client.caller_request(
        os.environ, op="hook", agent=agent, stdin=stdin_text,
        options={"allow_mode": allow_mode, "policy": policy, "audit": audit}), os.environ)
    if reply is None:
        return None
    if "error" in reply:
        return "", f"{reply['error']}; blocking the tool call", HOOK_BLOCK
    return reply["stdout"], reply["stderr"], reply["status"]


# --- installing the hook into the agents' settings ---------------------------------------------------------------


def claude_settings_path(scope: str, cwd: str, env) -> str:
    if scope == "project":
        return os.path.join(cwd, ".claude", "settings.json")
    if scope == "local":
        return os.path.join(cwd, ".claude", "settings.local.json")
    return os.path.join(env.get("HOME") or os.path.expanduser("~"), ".claude", "settings.json")


def codex_hooks_path(env) -> str:
    base = env.get("CODEX_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".codex")
    return os.path.join(base, "hooks.json")


def hook_command(agent: str, executable: str) -> str:
    from capfence_sh.parse.walker import shell_quote

    return f"{shell_quote(executable)} hook {agent}"


def install(settings_path: str, command: str, *, matcher: str = "Bash", timeout: int = 30) -> bool:
    """Merge a PreToolUse command hook into a settings file, keeping every other key. False if already there."""
    settings: dict = {}
    if os.path.exists(settings_path):
        with open(settings_path, encoding="utf-8") as handle:
            text = handle.read()
        try:
            settings = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            raise CapfenceError(f"{settings_path} is not valid JSON ({exc}); not touching it") from None
        if not isinstance(settings, dict):
            raise CapfenceError(f"{settings_path} does not hold a JSON object; not touching it")
    hooks = settings.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise CapfenceError(f"{settings_path}: `hooks` is not an object; not touching it")
    groups = hooks.setdefault("PreToolUse", [])
    if not isinstance(groups, list):
        raise CapfenceError(f"{settings_path}: `hooks.PreToolUse` is not a list; not touching it")
    for group in groups:
        for hook in (group.get("hooks") or []) if isinstance(group, dict) else []:
            if isinstance(hook, dict) and hook.get("command") == command:
                return False
    groups.append({"matcher": matcher, "hooks": [{"type": "command", "command": command, "timeout": timeout}]})
    directory = os.path.dirname(os.path.abspath(settings_path))
    os.makedirs(directory, exist_ok=True)
    temp = f"{settings_path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(settings, handle, indent=2)
        handle.write("\n")
    if os.path.exists(settings_path):
        os.chmod(temp, os.stat(settings_path).st_mode & 0o777)
    os.replace(temp, settings_path)
    return True
