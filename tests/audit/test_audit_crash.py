"""Writers SIGKILLed mid-append, many times over: after each kill the log verifies up to its last complete record,
the next append moves the torn line to quarantine and continues the chain, and verify reports the quarantine."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

from capfence_sh.audit import AuditLog
from capfence_sh.audit_verify import verify_log
from tests.audit.helpers import decision, writer_command, writer_env

ITERATIONS = 60


def _spawn_and_kill(tmp_path, log, rng, *args):
    proc = subprocess.Popen(writer_command(log, "--count", "1000000", *args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=writer_env(tmp_path / "home"))
    try:
        assert proc.stdout.readline() == b"started\n"
        time.sleep(rng.uniform(0.0, 0.08))  # anywhere: recovering a torn line, writing, fsyncing, rotating
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_mid_append_repeatedly(tmp_path):
    rng = random.Random(1234)
    log = tmp_path / "audit.jsonl"
    torn_seen = 0
    checked_recoveries = 0
    for iteration in range(ITERATIONS):
        # Slow writes (a record in 32 pieces) make most kills land inside a record; a small max_bytes makes
        # rotations frequent enough that some land around one.
        _spawn_and_kill(tmp_path, log, rng, "--slow", "--pad", "6000", "--max-bytes", "65536")
        report = verify_log(str(log))
        assert report.ok, (iteration, report.broken)
        if report.torn_tail:
            torn_seen += 1
        if iteration % 2:
            continue  # leave the torn line for the next writer process, which may itself be killed recovering it
        last_seq, last_hash, torn = report.last_seq, report.last_hash, report.torn_tail
        record = AuditLog(str(log), max_bytes=65536).append(decision(iteration))
        assert (record["seq"], record["prev"]) == ((last_seq or 0) + 1, last_hash or "0" * 64), iteration
        if torn:
            checked_recoveries += 1
            assert record["recovered"]["length"] == torn["length"]
            assert record["recovered"]["offset"] == torn["offset"]
        else:
            assert "recovered" not in record
        after = verify_log(str(log))
        assert after.ok and after.torn_tail is None, (iteration, after.broken)
        assert any(q.get("sha256") == record["recovered"]["sha256"] for q in after.quarantined) if torn else True

    AuditLog(str(log), max_bytes=65536).append(decision(ITERATIONS))
    final = verify_log(str(log))
    assert final.ok and final.torn_tail is None
    assert not final.warnings, "every recovery the chain records has its quarantine entry"
    assert torn_seen >= ITERATIONS // 4, f"only {torn_seen} kills landed mid-record: the test lost its teeth"
    assert checked_recoveries >= ITERATIONS // 8
    assert len(final.quarantined) >= torn_seen
    # A recovering record can itself be torn by the next kill: its mention of the recovery then sits in the
    # quarantine file, not in the chain. The ones this test appended itself are all in the chain.
    assert len(final.recovered) >= checked_recoveries
    assert len(final.segments) > 1, "rotation happened along the way"


def test_sigkill_during_large_real_writes(tmp_path):
    # No test hook: 2 MiB records written with one write() each; a kill can land inside the kernel's copy.
    rng = random.Random(99)
    log = tmp_path / "audit.jsonl"
    for iteration in range(10):
        _spawn_and_kill(tmp_path, log, rng, "--pad", str(2 << 20))
        report = verify_log(str(log))
        assert report.ok, (iteration, report.broken)
        record = AuditLog(str(log), max_bytes=0).append(decision(iteration))
        assert record["seq"] == (report.last_seq or 0) + 1
        assert verify_log(str(log)).ok
    assert os.path.getsize(log) > 0
