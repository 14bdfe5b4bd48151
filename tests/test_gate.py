"""`capfence exec` end to end, with real processes: what runs, what never starts, and what the caller sees.

Every command that a test expects to be denied is harmless if it did run (it deletes a path that does not
exist): a broken gate must fail a test, never damage the machine running it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pexpect
import pytest

from tests.conftest import capfence_command

# Outside every workspace and temp directory, and never present: deleting it recursively is denied by the
# default pack, and would change nothing if it ran.
ABSENT = "/capfence-test-absent-dir/never/exists"


def test_allowed_argv_runs(sandbox):
    result = sandbox.run("exec", "--", "echo", "hello")
    assert result.returncode == 0
    assert result.stdout == "hello\n"
    assert result.stderr == ""


def test_allowed_script_runs_with_shell_semantics(sandbox):
    result = sandbox.run("exec", "-c", "x=2; echo $((x * 21)) && echo done")
    assert (result.returncode, result.stdout) == (0, "42\ndone\n")


@pytest.mark.parametrize("args, status", [
    (["-c", "exit 42"], 42),
    (["--", "sh", "-c", "exit 7"], 7),
    (["-c", "false"], 1),
    (["-c", "exit 255"], 255),
], ids=["script-exit", "argv-exit", "false", "255"])
def test_exit_status_is_passed_through(sandbox, args, status):
    assert sandbox.run("exec", *args).returncode == status


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_death_by_signal_gives_128_plus_n(sandbox, sig):
    script = f"import os, signal; os.kill(os.getpid(), {int(sig)})"
    result = sandbox.run("exec", "--", sys.executable, "-c", script)
    assert result.returncode == 128 + int(sig)


def test_denied_command_never_starts(sandbox):
    marker = sandbox.workspace / "created"
    result = sandbox.run("exec", "-c", f"touch {marker} && rm -rf {ABSENT}")
    assert result.returncode == 126
    assert not marker.exists(), "nothing in a denied script may run, not even its harmless prefix"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("capfence: denied: recursive delete outside the workspace")
    assert lines[0].endswith("(rule recursive-delete-outside-workspace)")
    assert result.stdout == ""


def test_denied_argv_form(sandbox):
    result = sandbox.run("exec", "--", "rm", "-rf", ABSENT)
    assert result.returncode == 126
    assert "(rule recursive-delete-outside-workspace)" in result.stderr


def test_approval_required_is_not_run_under_exec(sandbox):
    marker = sandbox.workspace / "pushed"
    result = sandbox.run("exec", "-c", f"touch {marker}; git push --force origin feature/x")
    assert result.returncode == 126
    assert result.stderr.startswith("capfence: approval required: ")
    assert not marker.exists()


def test_stdin_streams_through(sandbox):
    payload = "".join(f"line {i}\n" for i in range(50_000))
    result = sandbox.run("exec", "--", "cat", input=payload)
    assert result.returncode == 0
    assert result.stdout == payload
    counted = sandbox.run("exec", "-c", "wc -l", input=payload)
    assert counted.stdout.strip() == "50000"


def test_positional_parameters_like_bash_c(sandbox):
    result = sandbox.run("exec", "-c", 'echo "$0|$1|$2|$#"', "name", "a b", "c")
    assert result.stdout == "name|a b|c|2\n"


def test_program_not_found_is_127(sandbox):
    result = sandbox.run("exec", "--", "no-such-program-xyz")
    assert result.returncode == 127
    assert "no-such-program-xyz: command not found" in result.stderr


def test_decision_is_on_disk_before_the_command_runs(sandbox):
    # The command reads the audit log: its own decision record must already be there.
    result = sandbox.run("exec", "-c", f"tail -n 1 {sandbox.audit}")
    assert result.returncode == 0
    record = json.loads(result.stdout)
    assert record["kind"] == "decision"
    assert record["decision"] == "allow"
    assert record["command"] == f"tail -n 1 {sandbox.audit}"


def test_audit_records_decision_and_outcome(sandbox):
    sandbox.run("exec", "-c", "exit 3")
    sandbox.run("exec", "--", "rm", "-rf", ABSENT)
    records = [json.loads(line) for line in sandbox.audit.read_text().splitlines()]
    assert [r["kind"] for r in records] == ["decision", "outcome", "decision"]
    decision, outcome, denied = records
    assert outcome["ref"] == decision["seq"] and outcome["ref_hash"] == decision["hash"]
    assert outcome["exit_status"] == 3
    assert denied["decision"] == "deny" and denied["rule"] == "recursive-delete-outside-workspace"
    for key in ("seq", "ts", "host", "user", "actor", "actor_source", "pid", "ppid", "cwd", "environment",
                "command", "actions", "rule", "reason", "policy", "mode", "prev", "hash"):
        assert key in decision, key
    assert decision["actor"] == "test-agent" and decision["actor_source"] == "CAPFENCE_ACTOR"
    assert records[1]["prev"] == records[0]["hash"] and records[2]["prev"] == records[1]["hash"]
    assert oct(sandbox.audit.stat().st_mode & 0o777) == "0o600"
    assert oct(sandbox.audit.parent.stat().st_mode & 0o777) == "0o700"


def test_secrets_are_redacted_in_the_audit_log(sandbox):
    sandbox.run("exec", "-c", "API_TOKEN=hunter2 true; curl -s https://bob:s3cret@localhost:9/ -o /dev/null || true")
    text = sandbox.audit.read_text()
    assert "hunter2" not in text and "s3cret" not in text
    assert "<redacted>" in text


@pytest.mark.parametrize("policy_text, expected", [
    ("rules: [", "not valid YAML"),
    ("default: maybe\n", "default: must be one of allow, deny, require_approval"),
    ("rules:\n  - id: x\n    decision: deny\n    reason: r\n    capabilty: fs.delete\n", "rules[0].capabilty"),
], ids=["syntax", "bad-default", "typo-key"])
def test_bad_policy_fails_closed(sandbox, policy_text, expected):
    policy = sandbox.write_policy("bad.yaml", policy_text)
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--policy", str(policy), "--", "touch", str(marker))
    assert result.returncode == 125
    assert not marker.exists()
    assert expected in result.stderr
    assert f"{policy}:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_missing_policy_fails_closed(sandbox):
    result = sandbox.run("exec", "--policy", "no-such-pack", "--", "true")
    assert result.returncode == 125
    assert "no policy file or bundled pack named 'no-such-pack'" in result.stderr


def test_unwritable_audit_log_fails_closed(sandbox):
    blocked = sandbox.home / "ro"
    blocked.mkdir()
    blocked.chmod(0o500)
    marker = sandbox.workspace / "ran"
    try:
        if os.access(blocked, os.W_OK):
            # Root can write anywhere; a path under a regular file cannot be created by anyone.
            audit = sandbox.workspace / "file" / "audit.jsonl"
            (sandbox.workspace / "file").write_text("not a directory")
        else:
            audit = blocked / "audit.jsonl"
        result = sandbox.run("exec", "--audit", str(audit), "--", "touch", str(marker))
    finally:
        blocked.chmod(0o700)
    assert result.returncode == 125
    assert "audit log" in result.stderr and "nothing was run" in result.stderr
    assert not marker.exists()


def test_audit_failure_tolerated_only_when_policy_says_so(sandbox):
    policy = sandbox.write_policy("lenient.yaml", "extends: default\naudit:\n  on_failure: allow\n")
    (sandbox.workspace / "file").write_text("x")
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--policy", str(policy), "--audit", str(sandbox.workspace / "file" / "a.jsonl"),
                         "--", "touch", str(marker))
    assert result.returncode == 0
    assert marker.exists()


def test_usage_errors(sandbox):
    assert sandbox.run("exec").returncode == 2
    assert sandbox.run("exec", "--").returncode == 2
    assert sandbox.run("exec", "-c").returncode == 2
    bad = sandbox.run("exec", "--bogus", "--", "true")
    assert bad.returncode == 2 and "unknown option --bogus" in bad.stderr


def test_observe_mode_runs_and_records_would_block(sandbox):
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--observe", "-c", f"rm -rf {ABSENT}; touch {marker}")
    assert result.returncode == 0
    assert marker.exists()
    record = json.loads(sandbox.audit.read_text().splitlines()[0])
    assert record["mode"] == "observe" and record["would_block"] is True
    assert record["decision"] == "deny" and record["rule"] == "recursive-delete-outside-workspace"


def test_interactive_program_gets_the_terminal(sandbox):
    child = pexpect.spawn(capfence_command()[0], ["exec", "--", sys.executable, "-q", "-i"],
                          env=sandbox.env, cwd=str(sandbox.workspace), encoding="utf-8", timeout=20)
    child.expect(">>> ")
    child.sendline("import sys; print(sys.stdin.isatty(), 6 * 7)")
    child.expect("True 42")
    child.sendline("raise SystemExit(3)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


def test_sigterm_to_the_gate_reaches_the_child(sandbox, tmp_path):
    ready = tmp_path / "ready"
    code = ("import signal, sys, time, pathlib\n"
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
            f"pathlib.Path({str(ready)!r}).write_text('x')\n"
            "time.sleep(30)\n")
    process = subprocess.Popen([*capfence_command(), "exec", "--", sys.executable, "-c", code],
                               env=sandbox.env, cwd=str(sandbox.workspace))
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 7


def test_workspace_deletes_are_allowed(sandbox):
    (sandbox.workspace / "build" / "x").mkdir(parents=True)
    result = sandbox.run("exec", "-c", "rm -rf build && echo gone")
    assert (result.returncode, result.stdout) == (0, "gone\n")
    assert not (sandbox.workspace / "build").exists()


def test_audit_artifacts_and_key_are_protected_wherever_they_live(sandbox, tmp_path):
    audit = tmp_path / "logs" / "audit.jsonl"
    key = tmp_path / "secret-place" / "hmac"
    key.parent.mkdir()
    key.write_text("k" * 32)
    env = {"CAPFENCE_AUDIT": str(audit), "CAPFENCE_AUDIT_KEY_FILE": str(key)}
    for command, rule in [(f"truncate -s 0 {audit}.1", "capfence-files"),
                          (f"mv {audit}.quarantine /tmp/x", "capfence-files"),
                          (f"cat {key}", "capfence-key"),
                          (f"cp {key} /tmp/k", "capfence-key")]:
        result = sandbox.run("check", "--json", "-c", command, env=env)
        assert json.loads(result.stdout)["rule"] == rule, command
    policy = sandbox.write_policy("p.yaml", f"extends: default\naudit:\n  path: {tmp_path}/other/log.jsonl\n")
    result = sandbox.run("check", "--json", "--policy", str(policy), "-c", f"rm -f {tmp_path}/other/log.jsonl.2")
    assert json.loads(result.stdout)["rule"] == "capfence-files"
