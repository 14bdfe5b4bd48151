"""A test writer process: appends records to an audit log, as many gates would.

    python writer.py LOG --count N --writer ID [--max-bytes B] [--pad BYTES] [--slow] [--start-at EPOCH]

Prints "started" before its first append and "done" after its last (flushed), so a test can time a SIGKILL.
With --slow, each record is written in small pieces with pauses between them (a subclass overriding
`_write_all`; production code is untouched), so a SIGKILL lands mid-record and leaves a torn line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from capfence_sh.audit import AuditLog


class SlowAuditLog(AuditLog):
    def _write_all(self, fd: int, data: bytes) -> None:
        step = max(64, len(data) // 32)
        for start in range(0, len(data), step):
            os.write(fd, data[start:start + step])
            time.sleep(0.0005)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--writer", default="w0")
    parser.add_argument("--max-bytes", type=int, default=0)
    parser.add_argument("--pad", type=int, default=0)
    parser.add_argument("--slow", action="store_true")
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args()
    log = (SlowAuditLog if args.slow else AuditLog)(args.log, max_bytes=args.max_bytes)
    if args.start_at:
        time.sleep(max(0.0, args.start_at - time.time()))
    print("started", flush=True)
    for i in range(args.count):
        log.append({"kind": "decision", "writer": args.writer, "i": i, "decision": "allow",
                    "command": f"echo {args.writer} {i}", "pad": "x" * args.pad})
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
