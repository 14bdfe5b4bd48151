"""The decision service: a per-user process that keeps the interpreter, the parser and the compiled policy warm, so
that a gated command costs about one interpreter start-up instead of ten.

`capfence exec`, the shims and the hooks ask it over a Unix socket (capfence_sh/service_client.py) and fall back to
deciding in their own process when it is absent. It decides exactly as the in-process path does — the same
`open_gate`, engine, audit records and approvals — for the client's own cwd, environment and parent process. It
never spawns the command: the client does, on its own terminal.

Safety: the socket lives in a 0700 directory and every connection's peer uid is checked; a request that fails
for any reason is answered with an error that the client turns into exit 125 (it does not silently decide
elsewhere). The service exits after being idle (`CAPFENCE_SERVICE_IDLE`, default 900 s) and whenever capfence's
own code changes on disk (the next client starts a fresh one), so it never serves stale code; policies are
re-read whenever their files change, exactly as the on-disk cache is.
"""

from __future__ import annotations

import fcntl
import io
import os
import socket
import stat
import struct
import sys
import threading
import time

from capfence_sh.service_client import PROTOCOL, read_message, socket_path, write_message

DEFAULT_IDLE_SECONDS = 900
SHUTDOWN_GRACE_SECONDS = 10.0


def code_files(root: str | None = None) -> list[str]:
    """capfence's own source files. Only `.py` files: directory mtimes also change when Python writes a
    `__pycache__` entry on first import, which would restart a fresh install's service mid-command. An upgrade
    (pip, or an editable checkout being edited) rewrites existing source files, so their stamps are enough."""
    here = root or os.path.dirname(os.path.abspath(__file__))
    found = []
    for directory, subdirs, files in os.walk(here):
        subdirs[:] = [name for name in subdirs if name != "__pycache__"]
        found.extend(os.path.join(directory, name) for name in files if name.endswith(".py"))
    return sorted(found)


def code_signature(files: list[str]) -> tuple:
    """When capfence's own code last changed: a running service must not outlive its code. Stats a list made once
    (about 0.1 ms for capfence's ~80 files) rather than walking the tree on every request."""
    stamps = []
    for path in files:
        try:
            info = os.stat(path)
            stamps.append((info.st_mtime_ns, info.st_size))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


class Service:
    def __init__(self, path: str, idle_seconds: float) -> None:
        self.path = path
        self.idle_seconds = idle_seconds
        self.last_activity = time.monotonic()
        self.code = code_files()
        self.signature = code_signature(self.code)
        self.started = time.time()
        self.served = 0
        self.decide_lock = threading.Lock()  # the engine's memo and bashlex's parser are not thread-safe
        self.policies: dict[tuple, tuple] = {}  # (choice, cache dir) -> (policy, [(source, stat)])
        self.stopping = threading.Event()

    # --- requests ------------------------------------------------------------------------------------------------

    def handle(self, request: dict) -> dict:
        self.last_activity = time.monotonic()
        if request.get("v") != PROTOCOL:
            return {"error": f"decision service speaks protocol {PROTOCOL}, client sent {request.get('v')}"}
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid(), "started": self.started, "socket": self.path,
                    "idle_seconds": self.idle_seconds, "python": sys.executable, "served": self.served}
        if op == "stop":
            self.stopping.set()
            return {"ok": True, "pid": os.getpid()}
        if code_signature(self.code) != self.signature:
            self.stopping.set()
            if op != "outcome":
                return {"restart": True}
            # An outcome is told, not asked: nobody would retry it, so record it before going away. It completes a
            # decision record that this same code wrote.
        try:
            if op in ("decide", "outcome", "hook"):
                self.served += 1
            if op == "decide":
                return self._decide(request)
            if op == "outcome":
                return self._outcome(request)
            if op == "hook":
                return self._hook(request)
            return {"error": f"unknown request {op!r}"}
        except BaseException as exc:  # noqa: BLE001 - every failure becomes one line and exit 125 in the client
            return {"error": _one_line(exc), "status": 125}

    def _gate(self, request: dict, *, positional=(), errexit: bool = False):
        from capfence_sh.gate import GateOptions, open_gate

        options = dict(request.get("options") or {})
        gate_options = GateOptions(
            policy=options.get("policy"), audit=options.get("audit"), environment=options.get("env"),
            actor=options.get("actor"), workspace=options.get("workspace"), observe=bool(options.get("observe")),
            cwd=request["cwd"], wait=options.get("wait"), env_complete=options.get("env_complete", True),
            session=options.get("session"), caller_pid=request["pid"], caller_ppid=request["ppid"])
        return open_gate(gate_options, request["environ"], positional=positional, errexit=errexit,
                         policy_memory=self.policies)

    def _decide(self, request: dict) -> dict:
        from capfence_sh.decision import Decision
        from capfence_sh.gate import approval_gate, approval_wait, real_shell, refusal_line
        from capfence_sh.shim import marker_for

        script = request.get("script")
        positional = tuple(request.get("positional") or ())
        gate = self._gate(request, positional=positional, errexit=bool(request.get("errexit")))
        with self.decide_lock:
            verdict = gate.decide_script(script) if script is not None else gate.decide_argv(request["argv"])
        if request.get("mode") == "check":
            return self._check(gate, verdict, bool(request.get("json")))
        if (verdict.decision is Decision.REQUIRE_APPROVAL and verdict.mode != "observe"
                and approval_wait(gate) > 0):
            # Waiting for a human: the client decides in its own process, so that "waiting for approval" shows
            # while it waits rather than after. Nothing has been recorded yet.
            return {"local": True}
        record = gate.record_decision(verdict)
        reply: dict = {"decision": verdict.decision.value, "record": _record_ref(record)}
        err = io.StringIO()
        if verdict.decision is Decision.REQUIRE_APPROVAL and verdict.mode != "observe":
            refused = approval_gate(gate, verdict, err=err)
            if refused is not None:
                return {**reply, "run": False, "status": refused, "stderr": err.getvalue()}
        elif not verdict.authorized:
            return {**reply, "run": False, "status": 126, "stderr": refusal_line(verdict) + "\n"}
        reply.update(run=True, stderr=err.getvalue(), marker=marker_for(verdict, request["pid"], approved=True))
        if script is not None and request.get("want_shell"):
            reply["shell"] = real_shell(gate.env)
        return reply

    def _check(self, gate, verdict, as_json: bool) -> dict:
        from capfence_sh.decision import Decision

        if as_json:
            import json

            from capfence_sh.records import verdict_data

            data = verdict_data(verdict)
            data["policy"].update({"path": gate.choice.path, "origin": gate.choice.origin,
                                   **({"overlay": gate.choice.workspace_overlay}
                                      if gate.choice.workspace_overlay else {})})
            data["workspace"] = gate.ctx.workspace
            data["cwd"] = gate.ctx.cwd
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        else:
            from capfence_sh.render import plain_check

            text = plain_check(verdict, gate)
        status = 0 if verdict.decision is Decision.ALLOW else (126 if verdict.decision is Decision.DENY else 3)
        return {"run": False, "status": status, "stdout": text}

    def _outcome(self, request: dict) -> dict:
        from capfence_sh.process import ChildResult

        gate = self._gate(request)
        result = ChildResult(request["exit_status"], request.get("signal"), request.get("wall_seconds", 0.0),
                             request.get("cpu_seconds", 0.0), request.get("peak_rss_bytes"))
        gate.record_outcome(request.get("record"), result if not request.get("error") else None,
                            error=request.get("error", ""), exit_status=request["exit_status"])
        return {"ok": True}

    def _hook(self, request: dict) -> dict:
        from capfence_sh import hooks

        options = request.get("options") or {}
        stdout, stderr, status = hooks.run(request["agent"], request["stdin"], env=request["environ"],
                                           allow_mode=options.get("allow_mode", "defer"),
                                           policy=options.get("policy"), audit=options.get("audit"),
                                           caller=(request["pid"], request["ppid"]), policy_memory=self.policies)
        return {"stdout": stdout, "stderr": stderr, "status": status}

    # --- the socket ------------------------------------------------------------------------------------------------

    def serve(self) -> None:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        server.bind(self.path)
        os.chmod(self.path, 0o600)
        server.listen(64)
        server.settimeout(0.25)  # how soon a stop request or the idle limit takes effect
        uid = os.getuid()
        workers: list[threading.Thread] = []
        try:
            while not self.stopping.is_set():
                if time.monotonic() - self.last_activity > self.idle_seconds:
                    break
                try:
                    conn, _ = server.accept()
                except socket.timeout:
                    continue
                if _peer_uid(conn) != uid:
                    conn.close()
                    continue
                worker = threading.Thread(target=self._serve_connection, args=(conn,), daemon=True)
                workers = [w for w in workers if w.is_alive()] + [worker]
                worker.start()
        finally:
            server.close()
            # Requests already taken are finished (an outcome being written must not die with the process); a
            # waiter stuck on a hung client is given up after a while.
            deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def _serve_connection(self, conn) -> None:
        with conn:
            try:
                request = read_message(conn)
                if request is None:
                    return
                reply = self.handle(request)
                if request.get("reply", True):
                    write_message(conn, reply)
            except (OSError, ValueError, EOFError, TypeError):
                return  # the client went away or sent garbage: it falls back or fails closed on its side


def _peer_uid(conn) -> int:
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[1]
    except (OSError, AttributeError):
        return -1


def _record_ref(record: dict | None) -> dict | None:
    if record is None:
        return None
    return {"seq": record["seq"], "hash": record["hash"]}


def _one_line(exc: BaseException) -> str:
    kind = type(exc).__name__
    if kind == "PolicyError":
        return f"capfence: policy error: {exc}; nothing was run"
    if kind == "AuditError":
        return f"capfence: audit log error: {exc}; nothing was run"
    from capfence_sh.errors import CapfenceError

    if isinstance(exc, CapfenceError):
        return f"capfence: gate error: {exc}; nothing was run"
    return f"capfence: internal error: {kind}: {exc}; nothing was run"


def _lock(path: str):
    """The lock that makes this the only service on its socket, or None when another holds it. A lock file can be
    removed by the exiting holder after another process opened it: locking a removed file does not count."""
    while True:
        handle = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


def run(env=None) -> int:
    """Serve until idle. Only one service per socket: a second one exits at once."""
    env = os.environ if env is None else env
    path = socket_path(env)
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return 1  # somebody else's directory (a shared /tmp): never serve decisions from there
    os.chmod(directory, 0o700)
    lock = _lock(path + ".lock")
    if lock is None:
        return 0  # another service already serves this socket
    try:
        idle = float(env.get("CAPFENCE_SERVICE_IDLE", DEFAULT_IDLE_SECONDS))
    except ValueError:
        idle = DEFAULT_IDLE_SECONDS
    try:
        from capfence_sh.parse.bashlex_loader import load_bashlex
        from capfence_sh.parse.programs import handler_for

        load_bashlex()  # warm: the first request should be as fast as the rest
        handler_for("true")
        Service(path, idle).serve()
    finally:
        try:
            os.unlink(path + ".lock")  # a service that opened it meanwhile notices (see _lock) and retries
        except FileNotFoundError:
            pass
        lock.close()
    return 0


if __name__ == "__main__":  # pragma: no cover - started by service_client.start()
    sys.exit(run())
