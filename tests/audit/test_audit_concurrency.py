"""Many writer processes at once: records never interleave and the chain never forks, with and without rotation."""

from __future__ import annotations

import json
import subprocess
import time
from collections import defaultdict

import pytest

from capfence_sh.audit_read import iter_records, log_segments
from capfence_sh.audit_verify import verify_log
from tests.audit.helpers import writer_command, writer_env

WRITERS = 8


def _run_writers(tmp_path, log, count, *extra):
    env = writer_env(tmp_path / "home")
    start_at = time.time() + 1.0  # every process is up before any writes: they contend from the first record
    procs = [subprocess.Popen(writer_command(log, "--count", str(count), "--writer", f"w{n}",
                                             "--start-at", str(start_at), *extra),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
             for n in range(WRITERS)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert out.decode().split() == ["started", "done"]


def _check_every_writer_in_order(log, count):
    seen = defaultdict(list)
    for _, record in iter_records(str(log)):
        seen[record["writer"]].append(record["i"])
    assert sorted(seen) == [f"w{n}" for n in range(WRITERS)]
    for writer, numbers in seen.items():
        assert numbers == list(range(count)), f"{writer}: records lost, duplicated or reordered"


@pytest.mark.parametrize("max_bytes", [0, 64 * 1024], ids=["one-file", "rotating"])
def test_concurrent_writer_processes_make_one_unbroken_chain(tmp_path, max_bytes):
    log = tmp_path / "audit.jsonl"
    count = 500
    _run_writers(tmp_path, log, count, "--max-bytes", str(max_bytes), "--pad", "200")
    report = verify_log(str(log))
    assert report.ok, report.broken
    assert report.records == WRITERS * count
    assert (report.first_seq, report.last_seq) == (1, WRITERS * count)
    assert report.torn_tail is None and not report.quarantined
    seqs = [record["seq"] for _, record in iter_records(str(log))]
    assert seqs == list(range(1, WRITERS * count + 1))
    _check_every_writer_in_order(log, count)
    segments = log_segments(str(log))
    if max_bytes:
        assert len(segments) > 10
        for segment in segments:
            with open(segment.path, "rb") as handle:
                data = handle.read()
            assert len(data) <= max_bytes
            assert all(json.loads(line) for line in data.splitlines())
    else:
        assert len(segments) == 1


def test_verify_and_read_while_writers_rotate(tmp_path):
    # A reader holds the active file open from the start: a rotation mid-read must not look like lost records.
    log = tmp_path / "audit.jsonl"
    env = writer_env(tmp_path / "home")
    procs = [subprocess.Popen(writer_command(log, "--count", "1500", "--writer", f"w{n}", "--max-bytes", "16384",
                                             "--pad", "100"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for n in range(4)]
    checks = 0
    try:
        while any(p.poll() is None for p in procs):
            if not log.exists():
                time.sleep(0.01)
                continue
            report = verify_log(str(log))
            assert report.ok, report.broken
            seqs = [record["seq"] for _, record in iter_records(str(log))]
            assert seqs == list(range(1, len(seqs) + 1))
            checks += 1
    finally:
        for proc in procs:
            proc.communicate(timeout=120)
    assert all(p.returncode == 0 for p in procs)
    assert checks >= 3
    final = verify_log(str(log))
    assert final.ok and final.records == 6000
