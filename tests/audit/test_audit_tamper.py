"""Every kind of tampering `capfence audit verify` must catch, each with its exact location; and what a chain
alone cannot catch (records cut off the end, a chain rewritten end to end), caught with an anchor or the key."""

from __future__ import annotations

import json

import pytest

from capfence_sh.audit import AuditLog, segment_numbers
from capfence_sh.audit_verify import Anchor, verify_log
from tests.audit.helpers import (
    as_line,
    build_log,
    decision,
    lines_of,
    rewrite_record,
    run_audit,
    verify_json,
    write_lines,
)

KEY = b"a key the agent cannot read 0123"
N = 12


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "audit.jsonl"
    build_log(path, N)
    return path


def _tamper_and_verify(tmp_path, log, change, *args):
    lines = lines_of(log)
    write_lines(log, change(lines))
    code, report = verify_json(tmp_path, str(log), *args)
    return code, report


def _edit(lines, index, **changes):
    record = json.loads(lines[index])
    record.update(changes)
    lines[index] = as_line(record)
    return lines


# --- each tampering, through the real CLI ---------------------------------------------------------------------


@pytest.mark.parametrize("change, kind, line, seq, fields", [
    (lambda ls: _edit(ls, 4, command="rm -rf /"), "edited", 5, 5, {}),
    (lambda ls: _edit(ls, 4, decision="deny"), "edited", 5, 5, {}),
    (lambda ls: ls[:4] + ls[5:], "deleted", 5, 6, {"expected_seq": 5, "found_seq": 6}),
    (lambda ls: ls[:4] + ls[7:], "deleted", 5, 8, {"expected_seq": 5, "found_seq": 8}),
    (lambda ls: ls[1:], "missing_start", 1, 2, {"expected_seq": 1, "found_seq": 2}),
    (lambda ls: ls[:4] + [ls[5], ls[4]] + ls[6:], "reordered", 5, 6, {"related": "line 6 of audit.jsonl"}),
    (lambda ls: [ls[1], ls[0]] + ls[2:], "reordered", 1, 2, {"related": "line 2 of audit.jsonl"}),
    (lambda ls: ls[:2] + ls[3:9] + [ls[2]] + ls[9:], "reordered", 3, 4, {"related": "line 9 of audit.jsonl"}),
    (lambda ls: ls[:5] + [ls[4]] + ls[5:], "duplicated", 6, 5, {"related": "line 5 of audit.jsonl"}),
    (lambda ls: ls[:5] + [b"garbage\n"] + ls[5:], "damaged", 6, None, {}),
    (lambda ls: ls[:5] + [b'{"note":"hi"}\n'] + ls[5:], "not_a_record", 6, None, {}),
    (lambda ls: ls + [ls[-1].replace(b'"echo 11"', b'"echo forged"')], "edited", N + 1, N, {}),
], ids=["edit-command", "edit-decision", "delete-one", "delete-three", "delete-first", "swap-adjacent",
        "swap-first-two", "move-later", "duplicate", "garbage-line", "json-not-record", "append-naive-forgery"])
def test_tampering_is_located_and_classified(tmp_path, log, change, kind, line, seq, fields):
    code, report = _tamper_and_verify(tmp_path, log, change)
    assert code == 1
    assert report["ok"] is False
    broken = report["break"]
    assert (broken["kind"], broken["segment"], broken["line"], broken["seq"]) == (kind, str(log), line, seq)
    for name, value in fields.items():
        assert broken[name] == value, name


def test_edit_and_rehash_is_caught_at_the_next_link(tmp_path, log):
    records = [json.loads(line) for line in lines_of(log)]
    forged = rewrite_record(records[4], records[4]["prev"], command="rm -rf /")

    code, report = _tamper_and_verify(tmp_path, log, lambda ls: ls[:4] + [as_line(forged)] + ls[5:])
    broken = report["break"]
    assert code == 1
    assert (broken["kind"], broken["line"], broken["seq"]) == ("edited_rehashed", 6, 6)
    assert broken["related"] == "line 5 of audit.jsonl"
    assert (broken["expected_prev"], broken["found_prev"]) == (forged["hash"], records[4]["hash"])


def test_inserted_well_formed_record_is_caught(tmp_path, log):
    records = [json.loads(line) for line in lines_of(log)]
    inserted = rewrite_record(records[5], records[4]["hash"], command="echo I was here", seq=6)
    code, report = _tamper_and_verify(tmp_path, log, lambda ls: ls[:5] + [as_line(inserted)] + ls[5:])
    broken = report["break"]
    assert code == 1
    assert (broken["kind"], broken["line"], broken["seq"]) == ("inserted", 7, 6)
    assert broken["related"] == "line 6 of audit.jsonl"


def test_human_readable_report_names_the_location(tmp_path, log):
    write_lines(log, lines_of(log)[:4] + lines_of(log)[5:])
    result = run_audit(tmp_path, "verify", str(log))
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"BROKEN: {log} line 5 (seq 6): deleted: record seq 5 is missing")
    assert "  seq:   expected 5, found 6" in result.stdout
    assert "  verified before the break: 4 records (seq 1..4)" in result.stdout


# --- what needs the key or an anchor --------------------------------------------------------------------------


def test_truncation_at_a_record_boundary_needs_an_anchor(tmp_path, log):
    code, report = verify_json(tmp_path, str(log))
    assert code == 0
    anchor = f"{report['last_seq']}:{report['last_hash']}"
    write_lines(log, lines_of(log)[:-3])
    code, cut = verify_json(tmp_path, str(log))
    assert code == 0 and cut["records"] == N - 3, "a shorter chain is still a valid chain"
    code, cut = verify_json(tmp_path, str(log), "--anchor", anchor)
    assert code == 1
    assert cut["break"]["kind"] == "truncated"
    assert (cut["break"]["expected_seq"], cut["break"]["found_seq"]) == (N, N - 3)


def test_anchor_detects_a_rewrite_and_passes_when_intact(tmp_path, log):
    records = [json.loads(line) for line in lines_of(log)]
    anchor = Anchor(5, records[4]["hash"])
    assert verify_log(str(log), anchors=(anchor,)).ok
    rewritten, prev = [], "0" * 64
    for record in records:
        new = rewrite_record(record, prev, command=record["command"] + " ")
        rewritten.append(as_line(new))
        prev = new["hash"]
    write_lines(log, rewritten)
    report = verify_log(str(log), anchors=(anchor,))
    assert report.broken.kind == "anchor_mismatch" and report.broken.line == 5


def test_torn_truncation_mid_record_is_reported(tmp_path, log):
    data = log.read_bytes()
    log.write_bytes(data[:-40])
    code, report = verify_json(tmp_path, str(log))
    assert code == 0, "it looks exactly like a crash mid-write"
    assert report["torn_tail"]["offset"] == len(b"".join(lines_of(log)[:-1]))
    result = run_audit(tmp_path, "verify", str(log))
    assert "torn final line" in result.stdout


@pytest.fixture
def keyed(tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(KEY + b"\n")
    path = tmp_path / "keyed.jsonl"
    build_log(path, N, key=KEY)
    return path, key_file


def test_chain_rewritten_end_to_end_is_caught_only_with_the_key(tmp_path, keyed):
    path, key_file = keyed
    records = [json.loads(line) for line in lines_of(path)]
    rewritten, prev = [], "0" * 64
    for record in records:
        changes = {"command": "echo nothing to see"} if record["seq"] == 3 else {}
        new = rewrite_record(record, prev, **changes)
        new["hmac"] = record["hmac"]  # the forger keeps the old hmac: it cannot compute a new one
        rewritten.append(as_line(new))
        prev = new["hash"]
    write_lines(path, rewritten)

    code, report = verify_json(tmp_path, str(path), "--no-key")
    assert code == 0, "without the key a consistent rewrite is indistinguishable from the original"
    code, report = verify_json(tmp_path, str(path), "--key-file", str(key_file))
    assert code == 1
    assert (report["break"]["kind"], report["break"]["line"], report["break"]["seq"]) == ("forged", 3, 3)


def test_forged_appended_record_is_caught_only_with_the_key(tmp_path, keyed):
    path, key_file = keyed
    AuditLog(str(path)).append(decision(99, command="echo all fine"))  # well formed, but written without the key
    assert verify_json(tmp_path, str(path), "--no-key")[0] == 0
    code, report = verify_json(tmp_path, str(path), "--key-file", str(key_file))
    assert code == 1
    assert (report["break"]["kind"], report["break"]["line"], report["break"]["seq"]) == ("hmac_missing", N + 1,
                                                                                          N + 1)


def test_key_from_the_environment_and_an_intact_keyed_log(tmp_path, keyed):
    path, key_file = keyed
    code, report = verify_json(tmp_path, str(path), "--key-file", str(key_file))
    assert code == 0 and report["hmac_checked"] and report["records"] == N
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(b"another key entirely, 32 bytes!")
    code, report = verify_json(tmp_path, str(path), "--key-file", str(wrong))
    assert code == 1 and report["break"]["kind"] == "forged" and report["break"]["line"] == 1
    plain = run_audit(tmp_path, "verify", str(path))
    assert plain.returncode == 0 and f"hmac:       present on {N} records but not checked" in plain.stdout


# --- segments -----------------------------------------------------------------------------------------------------


@pytest.fixture
def rotated(tmp_path):
    path = tmp_path / "rot" / "audit.jsonl"
    build_log(path, 80, max_bytes=4096)
    assert len(segment_numbers(str(path))) >= 4
    return path


def test_tamper_in_an_old_segment_names_the_segment(tmp_path, rotated):
    segment = rotated.with_name("audit.jsonl.2")
    lines = lines_of(segment)
    write_lines(segment, _edit(lines, 1, command="echo edited"))
    seq = json.loads(lines[1])["seq"]
    code, report = verify_json(tmp_path, str(rotated))
    assert code == 1
    assert (report["break"]["kind"], report["break"]["segment"], report["break"]["line"],
            report["break"]["seq"]) == ("edited", str(segment), 2, seq)
    text = run_audit(tmp_path, "verify", str(rotated)).stdout
    assert text.startswith(f"BROKEN: {segment} line 2 (seq {seq}): edited")


def test_a_missing_segment_is_named(tmp_path, rotated):
    removed = rotated.with_name("audit.jsonl.2")
    removed.unlink()
    code, report = verify_json(tmp_path, str(rotated))
    assert code == 1
    assert report["break"]["kind"] == "missing_segment"
    assert report["break"]["segment"] == str(rotated.with_name("audit.jsonl.3"))
    assert str(removed) in report["break"]["message"]


def test_deleting_a_record_at_a_segment_boundary(tmp_path, rotated):
    segment = rotated.with_name("audit.jsonl.3")
    write_lines(segment, lines_of(segment)[1:])
    code, report = verify_json(tmp_path, str(rotated))
    assert code == 1
    assert (report["break"]["kind"], report["break"]["segment"], report["break"]["line"]) == ("deleted", str(segment),
                                                                                              1)


def test_deleting_a_record_inside_an_old_segment(tmp_path, rotated):
    segment = rotated.with_name("audit.jsonl.2")
    lines = lines_of(segment)
    seq = json.loads(lines[3])["seq"]
    write_lines(segment, lines[:3] + lines[4:])
    code, report = verify_json(tmp_path, str(rotated))
    assert code == 1
    assert (report["break"]["kind"], report["break"]["segment"], report["break"]["line"],
            report["break"]["seq"]) == ("deleted", str(segment), 4, seq + 1)
    assert report["break"]["message"] == f"record seq {seq} is missing: deleted"


def test_intact_rotated_log_verifies_with_counts(tmp_path, rotated):
    code, report = verify_json(tmp_path, str(rotated))
    assert code == 0
    assert report["records"] == 80 and len(report["segments"]) == len(segment_numbers(str(rotated))) + 1
    assert report["kinds"] == {"decision": 80} and report["decisions"] == {"allow": 80}


# --- usage -------------------------------------------------------------------------------------------------------


def test_missing_log_is_an_error_not_ok(tmp_path):
    result = run_audit(tmp_path, "verify", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"capfence: audit log error: no audit log at {tmp_path / 'nope.jsonl'}"


@pytest.mark.parametrize("args", [["--anchor", "12"], ["--anchor", "x:y"], ["--bogus"]])
def test_usage_errors_exit_2(tmp_path, log, args):
    assert run_audit(tmp_path, "verify", str(log), *args).returncode == 2


def test_unreadable_key_file_is_a_usage_error(tmp_path, log):
    result = run_audit(tmp_path, "verify", str(log), "--key-file", str(tmp_path / "absent.key"))
    assert result.returncode == 2 and "cannot read the audit key file" in result.stderr


def test_default_path_is_the_gates(tmp_path):
    # No PATH: the log `capfence exec` writes under the scratch HOME.
    default = tmp_path / ".local" / "state" / "capfence" / "audit.jsonl"
    build_log(default, 3)
    code, report = verify_json(tmp_path)
    assert code == 0 and report["path"] == str(default) and report["records"] == 3


def test_every_single_deletion_swap_and_edit_is_caught(tmp_path):
    # Exhaustive over a small log: only cutting records off the end goes unnoticed (that needs an anchor).
    path = tmp_path / "small.jsonl"
    build_log(path, 8)
    original = lines_of(path)
    anchor = Anchor(8, json.loads(original[-1])["hash"])
    for i in range(8):
        write_lines(path, original[:i] + original[i + 1:])
        report = verify_log(str(path), anchors=(anchor,))
        assert not report.ok and report.broken.kind == ("truncated" if i == 7 else
                                                        "missing_start" if i == 0 else "deleted"), i
        for j in range(i + 1, 8):
            swapped = list(original)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            write_lines(path, swapped)
            report = verify_log(str(path))
            assert not report.ok and report.broken.kind == "reordered", (i, j, report.broken)
            assert report.broken.line == i + 1
        write_lines(path, _edit(list(original), i, actor="someone else"))
        report = verify_log(str(path))
        assert not report.ok and (report.broken.kind, report.broken.line) == ("edited", i + 1)
