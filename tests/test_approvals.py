"""Approvals: a request per command that needs a human, one-time grants bound to the exact command, waiting,
rejection, expiry, and every step in the audit log. Real processes throughout."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.conftest import capfence_command

POLICY = """
default: allow
approval:
  ttl: {ttl}
  remember: [once, session, until]
rules:
  - {{id: ask-touch, decision: require_approval, reason: touching files needs a human, program: touch}}
"""


@pytest.fixture
def gated(sandbox):
    policy = sandbox.write_policy("p.yaml", POLICY.format(ttl=900))
    sandbox.env["CAPFENCE_POLICY"] = str(policy)
    sandbox.env["CAPFENCE_SESSION"] = "session-1"
    return sandbox


def pending_ids(sandbox) -> list[int]:
    result = sandbox.run("approvals", "--json")
    return [json.loads(line)["id"] for line in result.stdout.splitlines()]


def events(sandbox) -> list[tuple[str, str]]:
    return [(r["kind"], r.get("event", r.get("decision"))) for r in
            (json.loads(line) for line in sandbox.audit.read_text().splitlines())]


def test_request_then_approve_once(gated):
    marker = gated.workspace / "m"
    first = gated.run("exec", "--", "touch", str(marker))
    assert first.returncode == 126
    assert first.stderr.startswith("capfence: approval required: touching files needs a human")
    assert first.stderr.rstrip().endswith("(request 1)")
    assert pending_ids(gated) == [1]
    assert not marker.exists()
    approved = gated.run("approve", "1")
    assert approved.returncode == 0 and "approved request 1 (once)" in approved.stdout
    second = gated.run("exec", "--", "touch", str(marker))
    assert second.returncode == 0 and marker.exists()
    marker.unlink()
    third = gated.run("exec", "--", "touch", str(marker))
    assert third.returncode == 126 and "(request 2)" in third.stderr, "a once grant is consumed by one run"
    assert not marker.exists()
    assert [e for e in events(gated) if e[0] == "approval"] == [
        ("approval", "requested"), ("approval", "approved"), ("approval", "consumed"), ("approval", "requested")]


def test_grant_does_not_allow_a_changed_command_or_another_directory(gated, tmp_path):
    gated.run("exec", "--", "touch", "a")
    gated.run("approve", "1")
    assert gated.run("exec", "--", "touch", "b").returncode == 126, "another command"
    other = gated.home / "elsewhere"
    (other / ".git").mkdir(parents=True)
    assert gated.run("exec", "--", "touch", "a", cwd=other).returncode == 126, "another directory"
    assert gated.run("exec", "--", "touch", "a", env={"CAPFENCE_ACTOR": "other"}).returncode == 126, "another actor"
    assert gated.run("exec", "--", "touch", "a").returncode == 0, "the approved one still works"


def test_an_approval_that_cannot_be_audited_is_not_granted(gated):
    marker = gated.workspace / "m"
    assert gated.run("exec", "--", "touch", str(marker)).returncode == 126
    with open(gated.audit, "ab") as handle:  # the log's last line is no record: nothing can be appended after it
        handle.write(b'{"complete": "json", "but": "not a record"}\n')
    approved = gated.run("approve", "1")
    assert approved.returncode == 125 and "not an audit record" in approved.stderr
    assert len(approved.stderr.strip().splitlines()) == 1 and "Traceback" not in approved.stderr
    assert pending_ids(gated) == [1], "the request is still waiting for a decision that can be recorded"
    rejected = gated.run("reject", "1", "--reason", "no")
    assert rejected.returncode == 125 and pending_ids(gated) == [1]


def test_the_log_reads_approved_before_consumed_even_when_the_waiting_gate_is_quick(gated):
    """The waiting gate polls the store; the approval's audit record is written before the grant is committed, so
    the gate can never consume (and log that) before the approval itself is in the log."""
    for round_ in range(5):
        marker = gated.workspace / f"quick-{round_}"
        process = subprocess.Popen([*capfence_command(), "exec", "--wait", "30", "--", "touch", str(marker)],
                                   env=gated.env, cwd=str(gated.workspace), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not pending_ids(gated) and time.monotonic() < deadline:
            time.sleep(0.02)
        [request] = pending_ids(gated)
        assert gated.run("approve", str(request)).returncode == 0
        assert process.wait(timeout=20) == 0 and marker.exists()
        process.stderr.close()
    approvals = [r for r in (json.loads(line) for line in gated.audit.read_text().splitlines())
                 if r["kind"] == "approval"]
    assert [r["event"] for r in approvals] == ["requested", "approved", "consumed"] * 5
    assert [r["request"] for r in approvals] == [n for n in range(1, 6) for _ in range(3)]


def test_wait_then_approve(gated):
    marker = gated.workspace / "waited"
    process = subprocess.Popen([*capfence_command(), "exec", "--wait", "30", "--", "touch", str(marker)],
                               env=gated.env, cwd=str(gated.workspace), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not pending_ids(gated) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pending_ids(gated) == [1]
    assert process.poll() is None, "the gate is waiting"
    gated.run("approve", "1", "--note", "looks fine")
    assert process.wait(timeout=20) == 0
    assert marker.exists()
    assert "waiting up to 30s" in process.stderr.read()


def test_wait_then_reject(gated):
    process = subprocess.Popen([*capfence_command(), "exec", "--wait", "30", "--", "touch", "x"], env=gated.env,
                               cwd=str(gated.workspace), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not pending_ids(gated) and time.monotonic() < deadline:
        time.sleep(0.1)
    gated.run("reject", "1", "--reason", "not today")
    assert process.wait(timeout=20) == 126
    assert "request 1 was rejected by" in process.stderr.read()
    assert not (gated.workspace / "x").exists()
    assert ("approval", "rejected") in events(gated)


def test_wait_times_out(gated):
    result = gated.run("exec", "--wait", "1", "--", "touch", "x")
    assert result.returncode == 126
    assert "capfence: denied: approval timed out (request 1)" in result.stderr


def test_policy_wait_and_expiry(gated):
    policy = gated.write_policy("short.yaml", POLICY.format(ttl=1) + "\n")
    env = {"CAPFENCE_POLICY": str(policy)}
    assert gated.run("exec", "--", "touch", "x", env=env).returncode == 126
    time.sleep(1.5)
    late = gated.run("approve", "1", env=env)
    assert late.returncode == 1 and "is expired, not pending" in late.stderr


def test_session_and_until_grants(gated):
    gated.run("exec", "--", "touch", "s")
    gated.run("approve", "1", "--session")
    for _ in range(3):
        assert gated.run("exec", "--", "touch", "s").returncode == 0
    assert gated.run("exec", "--", "touch", "s", env={"CAPFENCE_SESSION": "session-2"}).returncode == 126
    gated.run("exec", "--", "touch", "u")
    pending = max(pending_ids(gated))
    assert gated.run("approve", str(pending), "--until", "10m").returncode == 0
    assert gated.run("exec", "--", "touch", "u", env={"CAPFENCE_SESSION": "any"}).returncode == 0


def test_scopes_the_policy_does_not_allow(gated):
    policy = gated.write_policy("once.yaml", POLICY.format(ttl=900).replace("[once, session, until]", "[once]"))
    env = {"CAPFENCE_POLICY": str(policy)}
    gated.run("exec", "--", "touch", "x", env=env)
    refused = gated.run("approve", "1", "--session", env=env)
    assert refused.returncode == 2 and "does not allow `session` approvals" in refused.stderr


def test_only_one_racing_gate_consumes_a_once_grant(gated):
    gated.run("exec", "--", "touch", "race")
    gated.run("approve", "1")
    processes = [subprocess.Popen([*capfence_command(), "exec", "--", "touch", "race"], env=gated.env,
                                  cwd=str(gated.workspace), stderr=subprocess.DEVNULL) for _ in range(4)]
    codes = sorted(p.wait(timeout=60) for p in processes)
    assert codes == [0, 126, 126, 126]


def test_check_creates_no_request(gated):
    result = gated.run("check", "--", "touch", "x")
    assert result.returncode == 3
    assert pending_ids(gated) == []


def test_unknown_and_decided_requests(gated):
    assert gated.run("approve", "99").returncode == 1
    gated.run("exec", "--", "touch", "x")
    gated.run("reject", "1")
    again = gated.run("approve", "1")
    assert again.returncode == 1 and "is rejected, not pending" in again.stderr


def test_agents_cannot_approve_through_the_gate(sandbox):
    for command in ("capfence approve 1", "capfence reject 1", "capfence review", "bash -c 'capfence approve 3'"):
        result = sandbox.run("check", "--json", "-c", command)
        assert json.loads(result.stdout)["rule"] == "capfence-admin", command
    write = sandbox.run("check", "--json", "-c", "sqlite3 ~/.local/state/capfence/approvals.db 'update x'")
    assert json.loads(write.stdout)["decision"] == "deny"


def test_expiry_is_recorded_whoever_notices_it(gated):
    policy = gated.write_policy("short.yaml", POLICY.format(ttl=1))
    env = {"CAPFENCE_POLICY": str(policy)}
    gated.run("exec", "--", "touch", "x", env=env)
    time.sleep(1.5)
    assert gated.run("approvals", env=env).stdout.strip() == "no pending approval requests"
    assert gated.run("approvals", env=env).returncode == 0
    expired = [e for e in events(gated) if e == ("approval", "expired")]
    assert len(expired) == 1, "recorded once, by the first to notice"
