"""Shared by the audit tests: building logs, running writer processes and the real `capfence audit` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from capfence_sh.audit import AuditLog
from tests.conftest import REPO, capfence_command, scratch_env

WRITER = Path(__file__).resolve().parent / "writer.py"


def writer_env(home: Path) -> dict[str, str]:
    env = scratch_env(home)
    env["PYTHONPATH"] = str(REPO)
    return env


def writer_command(log: Path, *args: str) -> list[str]:
    return [sys.executable, str(WRITER), str(log), *args]


def decision(i: int, **extra: Any) -> dict[str, Any]:
    fields = {"kind": "decision", "actor": "agent", "decision": "allow", "rule": "default", "mode": "enforce",
              "would_block": False, "command": f"echo {i}", "actions": [{"program": "echo"}]}
    fields.update(extra)
    return fields


def build_log(path: Path, count: int, *, key: bytes | None = None, max_bytes: int = 0) -> list[dict]:
    log = AuditLog(str(path), key=key, max_bytes=max_bytes)
    return [log.append(decision(i)) for i in range(count)]


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def run_audit(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real `capfence audit ...`, with a scratch HOME, output piped."""
    return subprocess.run([*capfence_command(), "audit", *args], capture_output=True, text=True,
                          env=scratch_env(home), cwd=str(home), timeout=timeout)


def verify_json(home: Path, *args: str) -> tuple[int, dict]:
    result = run_audit(home, "verify", "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def rewrite_record(record: dict, prev: str, **changes: Any) -> dict:
    """A record re-made by someone without the key: changed, re-linked, re-hashed, with no hmac."""
    from capfence_sh.audit import record_hash

    new = {k: v for k, v in record.items() if k not in ("hash", "hmac")}
    new.update(changes)
    new["prev"] = prev
    new["hash"] = record_hash(new)
    return new


def as_line(record: dict) -> bytes:
    return (json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
