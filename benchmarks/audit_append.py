"""Audit log append throughput: one writer, and eight concurrent writer processes; medians over repeats.

    python benchmarks/audit_append.py [--records N] [--repeats R] [--dir DIR] [--json PATH]

Every append is what the gate does before spawning a command: lock, read the chain's tail, write one line,
fsync (and fsync the directory when a file or segment is created). Records are shaped like a gate decision
(about 1.3 KB). Logs go to a fresh temporary directory (on the filesystem of --dir, default the system temp
directory: fsync cost depends on it). Prints a table and writes benchmarks/results/audit_append.json.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from capfence_sh.audit import AuditLog  # noqa: E402

KEY = b"benchmark key, 32 bytes long...."


def decision_fields(i: int) -> dict:
    """A record shaped like Gate.record_decision's."""
    return {
        "kind": "decision", "host": "bench-host", "user": "dev", "actor": "claude-code", "actor_source": "process",
        "pid": 4242, "ppid": 4241, "cwd": "/home/dev/project", "workspace": "/home/dev/project",
        "environment": "development", "command": f"git commit -m 'change {i}' && pytest -q tests/",
        "form": "script", "decision": "allow", "would_block": False, "rule": "default",
        "reason": "no rule matched; the policy's default applies",
        "policy": {"name": "default", "sha256": "ab" * 32, "path": "/opt/capfence/policies/default.yaml"},
        "mode": "enforce",
        "actions": [
            {"program": "git", "argv": ["git", "commit", "-m", f"change {i}"], "capabilities": ["vcs.write"],
             "targets": [], "subcommand": "commit", "flags": ["-m"], "cwd": "/home/dev/project", "decision": "allow",
             "rule": "default", "reason": "", "matched": []},
            {"program": "pytest", "argv": ["pytest", "-q", "tests/"], "capabilities": ["proc.exec", "code.exec"],
             "targets": [{"path": "/home/dev/project/tests", "access": "read", "known": True, "recursive": True}],
             "subcommand": "", "flags": ["-q"], "cwd": "/home/dev/project", "decision": "allow", "rule": "default",
             "reason": "", "matched": []},
        ],
    }


def worker(args: argparse.Namespace) -> int:
    log = AuditLog(args.worker_log, key=KEY if args.key else None, max_bytes=args.max_bytes)
    fields = [decision_fields(i) for i in range(args.records)]
    time.sleep(max(0.0, args.start_at - time.time()))
    start = time.time()
    for item in fields:
        log.append(item)
    print(json.dumps({"start": start, "end": time.time()}), flush=True)
    return 0


def one_writer(directory: str, records: int, *, key: bool, max_bytes: int) -> tuple[float, float]:
    """(records/s, median append latency in µs) for one writer in this process."""
    log = AuditLog(os.path.join(directory, "audit.jsonl"), key=KEY if key else None, max_bytes=max_bytes)
    fields = [decision_fields(i) for i in range(records)]
    latencies = []
    start = time.perf_counter()
    for item in fields:
        t0 = time.perf_counter()
        log.append(item)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    return records / elapsed, statistics.median(latencies) * 1e6


def many_writers(directory: str, writers: int, records: int, *, key: bool, max_bytes: int) -> float:
    """records/s for `writers` processes appending `records` each to one log, from a common start."""
    path = os.path.join(directory, "audit.jsonl")
    start_at = time.time() + 1.0  # every process is up before the first append
    command = [sys.executable, __file__, "--worker-log", path, "--records", str(records), "--start-at",
               str(start_at), "--max-bytes", str(max_bytes)] + (["--key"] if key else [])
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(writers)]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"a writer failed with status {proc.returncode}")
        results.append(json.loads(out))
    begin = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    return writers * records / (end - begin)


def check(directory: str, expected: int) -> None:
    from capfence_sh.audit_verify import verify_log

    report = verify_log(os.path.join(directory, "audit.jsonl"), key=KEY)
    if not report.ok or report.records != expected:
        raise SystemExit(f"the benchmark's log does not verify: {report.broken}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="records per writer (default 2000)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--dir", default=None, help="where the logs are written (default: system temp)")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "audit_append.json"))
    parser.add_argument("--worker-log", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--max-bytes", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_log:
        return worker(args)

    per_writer = max(1, args.records // args.writers)
    cases = [
        ("1 writer", 1, False, 0),
        ("1 writer, hmac", 1, True, 0),
        ("1 writer, rotating every 1 MiB", 1, True, 1 << 20),
        (f"{args.writers} writer processes", args.writers, False, 0),
        (f"{args.writers} writer processes, hmac, rotating every 1 MiB", args.writers, True, 1 << 20),
    ]
    rows = []
    for name, writers, key, max_bytes in cases:
        rates, latencies = [], []
        for _ in range(args.repeats):
            directory = tempfile.mkdtemp(prefix="capfence-bench-", dir=args.dir)
            try:
                if writers == 1:
                    rate, latency = one_writer(directory, args.records, key=key, max_bytes=max_bytes)
                    latencies.append(latency)
                    if key:
                        check(directory, args.records)
                else:
                    rate = many_writers(directory, writers, per_writer, key=key, max_bytes=max_bytes)
                    if key:
                        check(directory, writers * per_writer)
                rates.append(rate)
            finally:
                shutil.rmtree(directory)
        rows.append({"case": name, "writers": writers, "hmac": key, "max_bytes": max_bytes,
                     "records": args.records if writers == 1 else writers * per_writer,
                     "records_per_second_median": round(statistics.median(rates)),
                     "records_per_second_all": [round(r) for r in rates],
                     "append_latency_us_median": round(statistics.median(latencies), 1) if latencies else None})

    width = max(len(r["case"]) for r in rows)
    print(f"{'case':<{width}}  {'records':>7}  {'records/s (median)':>18}  {'append µs (median)':>18}")
    for r in rows:
        latency = f"{r['append_latency_us_median']:.0f}" if r["append_latency_us_median"] else "-"
        print(f"{r['case']:<{width}}  {r['records']:>7}  {r['records_per_second_median']:>18,}  {latency:>18}")
    result = {"benchmark": "audit_append", "repeats": args.repeats, "python": platform.python_version(),
              "machine": platform.machine(), "cpus": os.cpu_count(), "directory": args.dir or tempfile.gettempdir(),
              "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
