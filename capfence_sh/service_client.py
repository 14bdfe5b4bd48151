"""Asking the decision service (capfence_sh/service.py), from the lean entry points: `capfence exec`, the shims
and the hooks. Imports only built-in modules (`_socket`, `marshal`, `struct`), because this code runs before every
gated command and exists to make that cheap.

`ask()` returns None when there is no service (or it is restarting): the caller then decides in its own process,
which is slower but the same decision. A service that answers with an error is not worked around: the caller
fails closed with that error. `CAPFENCE_SERVICE` chooses: `auto` (the default) uses the running service and starts one in the
background when there is none, for the next command; `on` uses one but never starts it; `off` never uses it.
"""

from __future__ import annotations

import _socket
import binascii
import marshal
import os
import struct
import sys

PROTOCOL = 1
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
CONNECT_TIMEOUT = 0.5
DEFAULT_TIMEOUT = 120.0


def enabled(env) -> bool:
    return env.get("CAPFENCE_SERVICE", "auto").lower() not in ("off", "0", "no", "false")


def socket_path(env) -> str:
    # One service per installation: a client must never be answered by another version's code.
    name = f"decide-{binascii.crc32(os.fsencode(_PACKAGE_DIR)):08x}.sock"
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        path = os.path.join(runtime, "capfence", name)
    else:
        from capfence_sh import paths

        path = os.path.join(paths.state_dir(env), "service", name)
    if len(os.fsencode(path)) <= 100:
        return path
    # A Unix socket's path is limited to 107 bytes: a deep state directory gets a short stand-in, still in a
    # directory of its own that only this user can enter (checked by the service when it creates it).
    import hashlib

    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
    return os.path.join("/tmp", f"capfence-{os.getuid()}", f"{digest}.sock")


def _connect(sock, path: str) -> None:
    """Connect, and refuse a socket served by another user: its answers would be decisions nobody here made."""
    sock.connect(path)
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    if struct.unpack("3i", creds)[1] != os.getuid():
        raise ConnectionRefusedError(f"{path} is served by another user")


def ask(request: dict, env, *, timeout: float = DEFAULT_TIMEOUT) -> dict | None:
    if not enabled(env):
        return None
    path = socket_path(env)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            _connect(sock, path)
        except OSError:
            if env.get("CAPFENCE_SERVICE", "auto").lower() == "auto":
                start(env)
            return None
        sock.settimeout(timeout)
        try:
            write_message(sock, {"v": PROTOCOL, **request})
            reply = read_message(sock)
        except (OSError, ValueError, EOFError):
            # The service went away mid-request (it may have been restarting): decide here instead.
            return None
        if reply is None or reply.get("restart") or reply.get("local"):
            return None
        return reply
    finally:
        sock.close()


def status(env) -> dict | None:
    """The running service's own description (pid, socket, start time), or None when none answers."""
    return _ask_direct({"op": "ping"}, env)


def stop(env) -> dict | None:
    return _ask_direct({"op": "stop"}, env)


def start_and_wait(env, *, seconds: float = 10.0) -> dict | None:
    """Start a service (unless one runs) and wait until it answers."""
    import time

    found = status(env)
    if found is not None:
        return found
    start(env)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        found = status(env)
        if found is not None:
            return found
    return None


def _ask_direct(request: dict, env) -> dict | None:
    """Like ask(), for the admin commands: works whatever CAPFENCE_SERVICE says and never starts a service."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        _connect(sock, socket_path(env))
        sock.settimeout(10.0)
        write_message(sock, {"v": PROTOCOL, **request})
        reply = read_message(sock)
        return reply if reply and "pid" in reply else None
    except (OSError, ValueError, EOFError):
        return None
    finally:
        sock.close()


def tell(request: dict, env) -> bool:
    """Send without waiting for the answer (the outcome record: the command has already run, and its caller
    should not wait for a second fsync). False when there is no service to tell."""
    if not enabled(env):
        return False
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        _connect(sock, socket_path(env))
        write_message(sock, {"v": PROTOCOL, **request, "reply": False})
        return True
    except OSError:
        return False
    finally:
        sock.close()


MAX_MESSAGE = 64 * 1024 * 1024


def read_message(sock) -> dict | None:
    """One length-prefixed marshal mapping; None when the peer hung up. Shared with the service."""
    header = _exactly(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    if length > MAX_MESSAGE:
        raise ValueError("message too large")
    body = _exactly(sock, length)
    if body is None:
        return None
    message = marshal.loads(body)
    if not isinstance(message, dict):
        raise ValueError("message is not a mapping")
    return message


def write_message(sock, message: dict) -> None:
    body = marshal.dumps(message)
    sock.sendall(struct.pack(">I", len(body)) + body)


def _exactly(sock, count: int) -> bytes | None:
    chunks = []
    while count:
        chunk = sock.recv(min(count, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def start(env) -> None:
    """Start a service in the background (its own session, no terminal); best effort, never raises."""
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    boot = (f"import sys; sys.path[:0] = {paths!r}; "
            "from capfence_sh.service import run; sys.exit(run())")
    try:
        devnull = os.devnull
        os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", "-c", boot], dict(env), setsid=True,
                       file_actions=[(os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
                                     (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
                                     (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0)])
    except OSError:
        return


def caller_request(environ, **fields) -> dict:
    """The parts of every request that describe the asking process (environ: the environment it decides for)."""
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = os.environ.get("PWD", "/")
    return {"cwd": cwd, "environ": dict(environ), "pid": os.getpid(), "ppid": os.getppid(), **fields}
