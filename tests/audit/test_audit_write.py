"""Appending: the chain, the record's bytes, file modes, crash recovery of every torn-tail shape, and refusing
to continue after a last line that is not a record."""

from __future__ import annotations

import hmac
import json
import os
import subprocess
import sys
from hashlib import sha256

import pytest

from capfence_sh.audit import (
    GENESIS,
    TAIL_READ,
    AuditLog,
    canonical,
    hmac_sha256,
    record_hash,
    segment_numbers,
)
from capfence_sh.audit_verify import verify_log
from capfence_sh.errors import AuditError
from tests.audit.helpers import build_log, decision, lines_of
from tests.conftest import REPO


def test_records_chain_and_carry_their_own_hash(tmp_path):
    path = tmp_path / "audit.jsonl"
    records = build_log(path, 5)
    stored = [json.loads(line) for line in lines_of(path)]
    assert stored == records
    assert [r["seq"] for r in stored] == [1, 2, 3, 4, 5]
    assert stored[0]["prev"] == GENESIS
    for before, after in zip(stored, stored[1:]):
        assert after["prev"] == before["hash"]
    for record in stored:
        assert record["hash"] == sha256(canonical(record)).hexdigest() == record_hash(record)
        assert record["v"] == 1 and record["ts"].endswith("Z")


def test_hmac_is_rfc2104(tmp_path):
    for key in (b"k" * 16, b"a longer key that is more than sixty-four bytes long, so it is hashed first......",
                bytes(range(64))):
        message = b'{"a":1}'
        assert hmac_sha256(key, message) == hmac.new(key, message, sha256).hexdigest()
    key = b"0123456789abcdef0123"
    record = AuditLog(str(tmp_path / "a.jsonl"), key=key).append(decision(1))
    assert record["hmac"] == hmac.new(key, canonical(record), sha256).hexdigest()


def test_undecodable_argv_bytes_are_logged_and_verify(tmp_path):
    # Python keeps a non-UTF-8 argv byte as a lone surrogate; it has no UTF-8 form.
    path = tmp_path / "audit.jsonl"
    record = AuditLog(str(path)).append(decision(1, command="echo \udcff caf\u00e9"))
    AuditLog(str(path)).append(decision(2, command="echo caf\u00e9"))
    assert json.loads(lines_of(path)[0])["command"] == "echo \udcff caf\u00e9"
    assert record_hash(json.loads(lines_of(path)[0])) == record["hash"]
    assert "café" in lines_of(path)[1].decode("utf-8"), "readable UTF-8 when it can be"
    assert verify_log(str(path)).ok


def test_file_and_directory_modes_and_created_parents(tmp_path):
    path = tmp_path / "new" / "deeper" / "audit.jsonl"
    AuditLog(str(path)).append(decision(1))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert oct(path.parent.parent.stat().st_mode & 0o777) == "0o700"


def test_fields_cannot_override_the_chain(tmp_path):
    with pytest.raises(ValueError, match="seq"):
        AuditLog(str(tmp_path / "a.jsonl")).append({"kind": "decision", "seq": 99})


def test_hot_path_imports_stay_lean(tmp_path):
    code = ("import sys; import capfence_sh.audit as a; a.AuditLog(sys.argv[1], key=b'k'*16).append({'kind': 'x'});"
            "print(sorted(m for m in ('hashlib', 'hmac', '_hashlib', 'psutil', 'typer', 'rich', 'yaml') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.jsonl")], capture_output=True, text=True,
                            cwd=str(REPO), check=True)
    assert result.stdout.strip() == "[]"


# --- crash recovery: a torn final line -------------------------------------------------------------------------


def _quarantine(path):
    q = path.with_name(path.name + ".quarantine")
    return [json.loads(line) for line in q.read_text().splitlines()] if q.exists() else []


@pytest.mark.parametrize("torn", [
    b'{"v":1,"seq":4,"ts":"2024',  # a prefix of a record
    b"\0" * 4096,  # power loss: the size grew but the data never reached the disk
    b"x",  # one byte
    b'{"v":1,"command":"' + b"y" * (3 * TAIL_READ + 17),  # longer than the tail-read window
    b'{"v":1,"seq":4,"prev":"' + b"\xff\xfe",  # not even UTF-8
], ids=["prefix", "zeros", "one-byte", "longer-than-window", "not-utf8"])
def test_torn_final_line_is_quarantined_and_the_chain_continues(tmp_path, torn):
    path = tmp_path / "audit.jsonl"
    records = build_log(path, 3)
    good_size = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(torn)
    before = verify_log(str(path))
    assert before.ok and before.records == 3
    assert before.torn_tail == {"segment": str(path), "offset": good_size, "length": len(torn)}

    record = AuditLog(str(path)).append(decision(4))
    assert record["seq"] == 4 and record["prev"] == records[-1]["hash"]
    assert record["recovered"] == {"offset": good_size, "length": len(torn), "sha256": sha256(torn).hexdigest()}
    [entry] = _quarantine(path)
    assert (entry["offset"], entry["length"], entry["after_seq"]) == (good_size, len(torn), 3)
    assert entry["after_hash"] == records[-1]["hash"]
    assert entry["sha256"] == sha256(torn).hexdigest()
    after = verify_log(str(path))
    assert after.ok and after.records == 4 and after.torn_tail is None and not after.warnings
    assert [(q["offset"], q["after_seq"]) for q in after.quarantined] == [(good_size, 3)]
    assert [r["seq"] for r in after.recovered] == [4]


def test_a_log_that_is_only_a_torn_line_starts_the_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"v":1,"seq":1')
    record = AuditLog(str(path)).append(decision(1))
    assert (record["seq"], record["prev"]) == (1, GENESIS)
    assert verify_log(str(path)).ok


@pytest.mark.parametrize("last", [
    b'{"hello":"world"}\n',  # complete JSON, not a record
    b'{"v":1,"seq":"7","prev":"' + b"0" * 64 + b'","hash":"' + b"a" * 64 + b'"}\n',  # seq is not a number
    b'{"v":1,"seq":7,"prev":"' + b"0" * 64 + b'","hash":"short"}\n',  # not a digest
    b"not json at all\n",
    b"[1,2,3]\n",
    b"\n",
], ids=["json-not-record", "seq-string", "bad-hash", "not-json", "array", "blank"])
def test_a_last_line_that_is_not_a_record_is_an_error_not_a_fork(tmp_path, last):
    path = tmp_path / "audit.jsonl"
    build_log(path, 2)
    with open(path, "ab") as handle:
        handle.write(last)
    before = path.read_bytes()
    with pytest.raises(AuditError, match="not an audit record"):
        AuditLog(str(path)).append(decision(3))
    assert path.read_bytes() == before, "nothing appended, nothing cut"


def test_a_huge_last_record_is_found_beyond_the_tail_window(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(str(path)).append(decision(1))
    big = AuditLog(str(path)).append(decision(2, command="z" * (2 * TAIL_READ + 5)))
    record = AuditLog(str(path)).append(decision(3))
    assert record["prev"] == big["hash"] and record["seq"] == 3
    assert verify_log(str(path)).ok


def test_failed_write_leaves_no_torn_line(tmp_path):
    class FailingLog(AuditLog):
        def _write_all(self, fd, data):
            os.write(fd, data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    path = tmp_path / "audit.jsonl"
    build_log(path, 2)
    size = path.stat().st_size
    with pytest.raises(AuditError, match="No space left on device"):
        FailingLog(str(path)).append(decision(3))
    assert path.stat().st_size == size
    assert verify_log(str(path)).ok


def test_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(AuditError, match="not a regular file"):
        AuditLog(str(fifo)).append(decision(1))


# --- rotation -----------------------------------------------------------------------------------------------------


def test_rotation_numbers_segments_oldest_first_and_continues_the_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    records = build_log(path, 60, max_bytes=4096)
    numbers = segment_numbers(str(path))
    assert len(numbers) >= 3 and numbers == list(range(1, len(numbers) + 1))
    first_of_active = json.loads(lines_of(path)[0])
    last_of_newest = json.loads(lines_of(path.with_name(f"audit.jsonl.{numbers[-1]}"))[-1])
    assert first_of_active["prev"] == last_of_newest["hash"]
    assert first_of_active["seq"] == last_of_newest["seq"] + 1
    for n in numbers:
        segment = path.with_name(f"audit.jsonl.{n}")
        assert segment.stat().st_size <= 4096
        assert oct(segment.stat().st_mode & 0o777) == "0o600"
    report = verify_log(str(path))
    assert report.ok and report.records == 60 and report.last_hash == records[-1]["hash"]
    assert len(report.segments) == len(numbers) + 1


def test_a_record_larger_than_max_bytes_gets_a_segment_of_its_own(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(str(path), max_bytes=4096)
    log.append(decision(1))
    log.append(decision(2, command="q" * 10000))
    log.append(decision(3))
    assert segment_numbers(str(path)) == [1, 2]
    assert len(lines_of(path.with_name("audit.jsonl.2"))) == 1
    assert verify_log(str(path)).ok


def test_crash_between_rotation_and_the_next_append(tmp_path):
    # Rotation is a rename; a writer killed right after it leaves no active file. The next writer starts a new
    # active file that chains to the newest segment.
    path = tmp_path / "audit.jsonl"
    records = build_log(path, 3)
    os.rename(path, path.with_name("audit.jsonl.1"))
    assert verify_log(str(path)).ok
    record = AuditLog(str(path)).append(decision(4))
    assert (record["seq"], record["prev"]) == (4, records[-1]["hash"])
    assert verify_log(str(path)).ok


def test_a_torn_line_that_is_the_whole_active_segment_chains_to_the_previous_segment(tmp_path):
    path = tmp_path / "audit.jsonl"
    records = build_log(path, 3)
    os.rename(path, path.with_name("audit.jsonl.1"))
    path.write_bytes(b'{"v":1,"seq":4,"ts"')
    record = AuditLog(str(path)).append(decision(4))
    assert (record["seq"], record["prev"]) == (4, records[-1]["hash"])
    assert record["recovered"]["offset"] == 0
    report = verify_log(str(path))
    assert report.ok and report.records == 4 and len(report.quarantined) == 1


def test_recovery_is_recorded_even_when_the_append_also_rotates(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(str(path), max_bytes=4096)
    while not path.exists() or path.stat().st_size < 2500:
        log.append(decision(1, command="c" * 200))
    with open(path, "ab") as handle:
        handle.write(b'{"v":1,"seq":99,"torn')
    record = log.append(decision(2, command="d" * 2000))  # does not fit: recovers, then rotates
    assert record["recovered"]["length"] == len(b'{"v":1,"seq":99,"torn')
    assert json.loads(lines_of(path)[0])["seq"] == record["seq"], "written to a fresh segment"
    report = verify_log(str(path))
    assert report.ok and [r["seq"] for r in report.recovered] == [record["seq"]] and not report.warnings
