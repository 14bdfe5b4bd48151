"""The Claude Code and Codex PreToolUse hooks, run as the agents run them: JSON on stdin, a real process."""

from __future__ import annotations

import json

import pytest

ABSENT = "/capfence-test-absent-dir/never/exists"


def call(sandbox, agent, payload, *extra, env=None):
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return sandbox.run("hook", agent, *extra, input=text, env=env)


def bash_event(sandbox, command, **more):
    return {"session_id": "s-1", "transcript_path": str(sandbox.home / "t.jsonl"), "cwd": str(sandbox.workspace),
            "permission_mode": "default", "hook_event_name": "PreToolUse", "tool_name": "Bash",
            "tool_input": {"command": command, "description": "d"}, "tool_use_id": "toolu_1", **more}


def decision_of(result):
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    return data.get("hookSpecificOutput", {})


def test_claude_allow_defers_to_the_agents_own_rules(sandbox):
    result = call(sandbox, "claude", bash_event(sandbox, "git status && ls"))
    assert result.returncode == 0 and json.loads(result.stdout) == {}
    explicit = call(sandbox, "claude", bash_event(sandbox, "ls"), "--allow-mode", "allow")
    out = decision_of(explicit)
    assert out["hookEventName"] == "PreToolUse" and out["permissionDecision"] == "allow"


def test_claude_deny_shows_the_reason_to_the_model(sandbox):
    out = decision_of(call(sandbox, "claude", bash_event(sandbox, f"make && rm -rf {ABSENT}")))
    assert out["permissionDecision"] == "deny"
    assert "recursive delete outside the workspace" in out["permissionDecisionReason"]
    assert "(rule recursive-delete-outside-workspace)" in out["permissionDecisionReason"]


def test_claude_approval_asks_the_user(sandbox):
    out = decision_of(call(sandbox, "claude", bash_event(sandbox, "git push --force origin feature/x")))
    assert out["permissionDecision"] == "ask"


def test_codex_cannot_ask_so_approval_blocks(sandbox):
    event = {"session_id": "c-1", "turn_id": "t-1", "hook_event_name": "PreToolUse", "tool_name": "Bash",
             "tool_use_id": "call-1", "cwd": str(sandbox.workspace),
             "tool_input": {"command": ["bash", "-lc", "git push --force origin feature/x"]}}
    out = decision_of(call(sandbox, "codex", event))
    assert out["permissionDecision"] == "deny"
    assert "approval required" in out["permissionDecisionReason"] and "capfence review" in out["permissionDecisionReason"]


def test_other_tools_pass(sandbox):
    event = {"hook_event_name": "PreToolUse", "tool_name": "Read", "tool_input": {"file_path": "/etc/hosts"}}
    result = call(sandbox, "claude", event)
    assert result.returncode == 0 and json.loads(result.stdout) == {}


@pytest.mark.parametrize("payload, env", [
    ("not json", None),
    ({"tool_name": "Bash", "tool_input": {}}, None),
    (None, {"CAPFENCE_POLICY": "/nonexistent/policy.yaml"}),
], ids=["bad-json", "no-command", "bad-policy"])
def test_gate_errors_block(sandbox, payload, env):
    result = call(sandbox, "claude", payload if payload is not None else bash_event(sandbox, "ls"), env=env)
    assert result.returncode == 2, "exit 2 is a blocking error for both agents"
    assert result.stderr.startswith("capfence: ")


def test_hook_decisions_are_audited_with_unknown_environment(sandbox):
    call(sandbox, "claude", bash_event(sandbox, "rm -rf \"$BUILD_DIR\""))
    record = json.loads(sandbox.audit.read_text().splitlines()[-1])
    assert record["actor"] == "test-agent"
    assert record["cwd"] == str(sandbox.workspace)
    assert record["decision"] == "deny", "an unset-looking variable is unknown in a hook, not empty"


def test_install_merges_without_clobbering(sandbox):
    settings = sandbox.workspace / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"model": "opus", "permissions": {"allow": ["Bash(ls:*)"]},
                                    "hooks": {"PostToolUse": [{"matcher": "*", "hooks": [{"type": "command",
                                                                                          "command": "x"}]}]}}))
    result = sandbox.run("hook", "claude", "--install", "--scope", "project")
    assert result.returncode == 0, result.stderr
    data = json.loads(settings.read_text())
    assert data["model"] == "opus" and data["permissions"] == {"allow": ["Bash(ls:*)"]}
    assert data["hooks"]["PostToolUse"][0]["hooks"][0]["command"] == "x"
    pre = data["hooks"]["PreToolUse"]
    assert len(pre) == 1 and pre[0]["matcher"] == "Bash"
    assert pre[0]["hooks"][0]["type"] == "command" and pre[0]["hooks"][0]["command"].endswith(" hook claude")
    again = sandbox.run("hook", "claude", "--install", "--scope", "project")
    assert "already installed" in again.stdout
    assert len(json.loads(settings.read_text())["hooks"]["PreToolUse"]) == 1


def test_install_refuses_a_broken_settings_file(sandbox):
    settings = sandbox.home / "broken.json"
    settings.write_text("{ not json")
    result = sandbox.run("hook", "claude", "--install", "--settings", str(settings))
    assert result.returncode != 0 and "not valid JSON" in result.stderr
    assert settings.read_text() == "{ not json"


def test_codex_install_writes_hooks_json(sandbox):
    result = sandbox.run("hook", "codex", "--install")
    assert result.returncode == 0, result.stderr
    data = json.loads((sandbox.home / ".codex" / "hooks.json").read_text())
    hook = data["hooks"]["PreToolUse"][0]
    assert hook["matcher"] == "Bash" and hook["hooks"][0]["command"].endswith(" hook codex")
