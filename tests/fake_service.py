"""A stand-in decision service for tests/test_service.py: listens on a Unix socket and answers every request the
same way, so the tests can see what a real client does with an error reply, or with a service that hangs up.

    python fake_service.py SOCKET error|hangup
"""

from __future__ import annotations

import marshal
import os
import socket
import struct
import sys


def main() -> int:
    path, behaviour = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            header = conn.recv(4)
            if len(header) < 4:
                continue
            (length,) = struct.unpack(">I", header)
            body = b""
            while len(body) < length:
                chunk = conn.recv(length - len(body))
                if not chunk:
                    break
                body += chunk
            if behaviour == "hangup":
                continue
            reply = marshal.dumps({"error": "capfence: internal error: RuntimeError: boom; nothing was run",
                                   "status": 125})
            conn.sendall(struct.pack(">I", len(reply)) + reply)


if __name__ == "__main__":
    sys.exit(main())
