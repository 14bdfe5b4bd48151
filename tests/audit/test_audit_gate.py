"""The audit log as `capfence exec` uses it: fail closed when the record cannot be made durable (disk full,
unwritable, damaged), unless the policy says `on_failure: allow`; rotation size from the policy or environment.
Every command here is harmless: it creates a marker file in the sandbox."""

from __future__ import annotations

import json
import os

import pytest

from capfence_sh.audit import segment_numbers
from capfence_sh.audit_verify import verify_log
from tests.audit.helpers import build_log

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


def _refused(result, marker, *fragments):
    assert result.returncode == 125, result.stderr
    assert not marker.exists(), "the command must not run when its decision cannot be recorded"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("capfence: audit log error: ") and lines[0].endswith("; nothing was run")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr


@needs_dev_full
def test_disk_full_fails_closed(sandbox):
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--audit", "/dev/full", "--", "touch", str(marker))
    _refused(result, marker, "cannot write audit log /dev/full", "No space left on device")


@needs_dev_full
def test_disk_full_is_tolerated_only_when_the_policy_says_so(sandbox):
    policy = sandbox.write_policy("lenient.yaml", "extends: default\naudit:\n  on_failure: allow\n")
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--policy", str(policy), "--audit", "/dev/full", "--", "touch", str(marker))
    assert result.returncode == 0, result.stderr
    assert marker.exists()


def test_unwritable_directory_fails_closed(sandbox):
    blocked = sandbox.home / "ro"
    blocked.mkdir()
    if os.geteuid() == 0:
        # root writes anywhere; nobody can create a file under a regular file
        (blocked / "file").write_text("not a directory")
        audit = blocked / "file" / "audit.jsonl"
    else:
        blocked.chmod(0o500)
        audit = blocked / "audit.jsonl"
    marker = sandbox.workspace / "ran"
    try:
        result = sandbox.run("exec", "--audit", str(audit), "--", "touch", str(marker))
    finally:
        blocked.chmod(0o700)
    _refused(result, marker, "cannot open audit log")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write a read-only file")
def test_unwritable_log_file_fails_closed(sandbox):
    audit = sandbox.home / "audit.jsonl"
    build_log(audit, 1)
    audit.chmod(0o400)
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--audit", str(audit), "--", "touch", str(marker))
    _refused(result, marker, "cannot open audit log", "Permission denied")


def test_a_damaged_last_line_fails_closed_instead_of_forking(sandbox):
    audit = sandbox.home / "audit.jsonl"
    build_log(audit, 2)
    with open(audit, "ab") as handle:
        handle.write(b'{"complete": "json", "but": "not a record"}\n')
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--audit", str(audit), "--", "touch", str(marker))
    _refused(result, marker, "not an audit record", "capfence audit verify")


def test_a_torn_line_left_by_a_crash_is_recovered_by_the_gate(sandbox):
    audit = sandbox.home / "audit.jsonl"
    build_log(audit, 2)
    with open(audit, "ab") as handle:
        handle.write(b'{"v":1,"seq":3,"kind":"decis')
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--audit", str(audit), "--", "touch", str(marker))
    assert result.returncode == 0 and marker.exists()
    report = verify_log(str(audit))
    assert report.ok and report.records == 4 and len(report.quarantined) == 1 and report.recovered[0]["seq"] == 3


@pytest.mark.parametrize("how", ["env", "policy"])
def test_rotation_size_from_environment_or_policy(sandbox, how):
    audit = sandbox.home / "audit.jsonl"
    args, env = ["--audit", str(audit)], {}
    if how == "env":
        env["CAPFENCE_AUDIT_MAX_BYTES"] = "4096"
    else:
        policy = sandbox.write_policy("small.yaml", "extends: default\naudit:\n  max_bytes: 4096\n")
        args += ["--policy", str(policy)]
    for n in range(6):
        result = sandbox.run("exec", *args, "--", "true", env=env)
        assert result.returncode == 0, result.stderr
    assert len(segment_numbers(str(audit))) >= 2
    report = verify_log(str(audit))
    assert report.ok and report.records == 12 and report.kinds == {"decision": 6, "outcome": 6}
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert records and records[0]["seq"] > 1, "the active segment continues the chain"


@pytest.mark.parametrize("value", ["12", "lots", "-5"])
def test_invalid_rotation_size_in_the_environment_fails_closed(sandbox, value):
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--", "touch", str(marker), env={"CAPFENCE_AUDIT_MAX_BYTES": value})
    _refused(result, marker, "CAPFENCE_AUDIT_MAX_BYTES")


def test_gate_writes_hmac_with_a_key_file(sandbox):
    key = sandbox.home / "audit.key"
    key.write_bytes(b"0123456789abcdef-gate-key\n")
    result = sandbox.run("exec", "--", "true", env={"CAPFENCE_AUDIT_KEY_FILE": str(key)})
    assert result.returncode == 0, result.stderr
    assert verify_log(str(sandbox.audit), key=b"0123456789abcdef-gate-key").ok
    assert not verify_log(str(sandbox.audit), key=b"another key of enough length").ok
