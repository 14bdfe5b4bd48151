"""Replaying capfence's own audit log: records written by the real gate (through the Python API, which decides and
records but never runs anything), across rotated segments, with redacted secrets; and the seed's single-decision
output shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capfence_sh import ActionEvent, ActionRuntime
from capfence_sh.audit import AuditLog, segment_numbers
from capfence_sh.decision import Decision
from tests.conftest import scratch_env
from tests.replay.helpers import NO_PUSH, assert_one_line_errors, json_rows, line_of, read_events, run_replay

SESSION = [
    # command, environment; the gate's decision under the default pack is what the log records
    ("git status", "development"),
    ("git push -u origin feature/login", "development"),
    ("API_TOKEN=abc123secret make test", "development"),  # recorded as API_TOKEN=<redacted> make test
    ("cat ~/.ssh/id_rsa", "development"),
    ("git push origin main", "development"),
    ("kubectl delete pod web-1", "production"),
    (["git", "log", "--oneline", "-3"], "development"),  # an argv, as a shim records it
    ("git status", "development"),
]


def _write_log(home: Path, workspace: Path, log: Path, commands, *, max_bytes: int | None = None) -> list[dict]:
    env = scratch_env(home)
    if max_bytes:
        env["CAPFENCE_AUDIT_MAX_BYTES"] = str(max_bytes)
    runtime = ActionRuntime.from_policy("default", audit_path=str(log), workspace=str(workspace), env=env)
    decided = []
    for command, environment in commands:
        event = ActionEvent.create(actor="claude-code", action="exec", resource="shell", environment=environment,
                                   payload={"command": command, "cwd": str(workspace)})
        decided.append({"command": command, "decision": runtime.execute(event).decision})
    return decided


@pytest.fixture
def audit_log(sandbox) -> Path:
    log = sandbox.home / ".local" / "state" / "capfence" / "audit.jsonl"
    _write_log(sandbox.home, sandbox.workspace, log, SESSION, max_bytes=4096)
    assert segment_numbers(str(log)), "the log must have rotated segments for this test"
    return log


def test_every_segment_is_read_in_order_and_outcomes_are_skipped(audit_log):
    AuditLog(str(audit_log)).append({"kind": "outcome", "ref": 1, "exit_status": 0})
    fmt, commands, skipped, malformed = read_events(audit_log)
    assert [s.why for s in skipped] == ["outcome record"]
    assert fmt == "audit" and not malformed
    assert [c.argv or c.text for c in commands] == [
        "git status", "git push -u origin feature/login", "API_TOKEN=REDACTED make test", "cat ~/.ssh/id_rsa",
        "git push origin main", "kubectl delete pod web-1", ("git", "log", "--oneline", "-3"), "git status"]
    segments = {c.source.rsplit(":", 1)[0] for c in commands}
    assert len(segments) > 1 and str(audit_log) in segments
    assert [c.original for c in commands][:4] == [Decision.ALLOW, Decision.ALLOW, Decision.ALLOW, Decision.DENY]
    assert commands[5].environment == "production" and commands[5].actor == "claude-code"
    assert all(c.cwd and c.workspace for c in commands)


def test_replaying_the_log_under_its_own_policy_changes_nothing(sandbox, audit_log):
    result = run_replay(sandbox.home, "default", str(audit_log), "--json", "--fail-on-change")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json_rows(result)
    assert len(rows) == len(SESSION)
    assert not [r for r in rows if r["changed"]], "the redacted secret must not turn into a redirection"
    token = next(r for r in rows if "API_TOKEN" in r["command"])
    assert token["decision"] == token["original"] == "allow"
    assert "abc123secret" not in result.stdout
    argv_row = next(r for r in rows if r["form"] == "argv")
    assert argv_row["argv"] == ["git", "log", "--oneline", "-3"]


def test_a_stricter_policy_changes_exactly_the_push_rows(sandbox, audit_log):
    result = run_replay(sandbox.home, str(NO_PUSH), str(audit_log), "--json", "--only", "changed")
    assert result.returncode == 0, result.stderr
    rows = json_rows(result)
    assert [(r["command"], r["original"], r["decision"], r["rule"]) for r in rows] == [
        ("git push -u origin feature/login", "allow", "deny", "no-git-push"),
        ("git push origin main", "require_approval", "deny", "no-git-push"),
    ]


def test_one_recorded_decision_is_shown_in_the_seed_shape(sandbox):
    log = sandbox.home / "prod-audit.jsonl"
    decided = _write_log(sandbox.home, sandbox.workspace, log, [("kubectl delete pod web-1", "production")])
    assert decided[0]["decision"] == "deny"
    result = run_replay(sandbox.home, str(log))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:4] == [
        "Recorded: shell.exec.production",
        "Original: DENY",
        "Replayed: DENY",
        "Changed:  false",
    ]


def test_a_single_changed_decision_in_the_seed_shape(sandbox):
    log = sandbox.home / "one.jsonl"
    _write_log(sandbox.home, sandbox.workspace, log, [("git push origin feature/x", "staging")])
    result = run_replay(sandbox.home, str(NO_PUSH), str(log), "--fail-on-change")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[:4] == [
        "Recorded: shell.exec.staging", "Original: ALLOW", "Replayed: DENY", "Changed:  true"]


def test_a_damaged_log_line_is_reported_and_the_rest_replayed(sandbox, audit_log):
    lines = audit_log.read_bytes().splitlines(keepends=True)
    lines.insert(1, b'{"kind": "decision", "command": "not chained"}\n')
    audit_log.write_bytes(b"".join(lines))
    result = run_replay(sandbox.home, str(audit_log), "--json")
    assert result.returncode == 2
    assert_one_line_errors(result.stderr)
    assert f"{audit_log}:2: not an audit record" in result.stderr
    assert len(json_rows(result)) == len(SESSION)


def test_a_rotated_segment_named_alone_is_read_alone(sandbox, audit_log):
    first = f"{audit_log}.{segment_numbers(str(audit_log))[0]}"
    fmt, commands, _, _ = read_events(first)
    assert fmt == "audit"
    assert commands and {c.source.rsplit(":", 1)[0] for c in commands} == {first}
    assert line_of(commands[0].source) == 1


def test_the_log_directory_reads_the_log_once(sandbox, audit_log):
    result = run_replay(sandbox.home, str(audit_log.parent), "--json")
    assert result.returncode == 0, result.stderr
    assert len(json_rows(result)) == len(SESSION), "segments met in the walk are not read a second time"
    assert json.loads(result.stdout.splitlines()[0])["format"] == "audit"


def test_a_log_piped_on_stdin_is_detected(sandbox, audit_log):
    result = run_replay(sandbox.home, "-", "--json", input=audit_log.read_text())
    assert result.returncode == 0, result.stderr
    rows = json_rows(result)
    assert rows and {r["format"] for r in rows} == {"audit"}
    assert rows[0]["source"] == "<stdin>:1" and rows[0]["original"] is not None
