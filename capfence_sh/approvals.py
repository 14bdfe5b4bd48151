"""The approvals store: pending requests for commands that need a human, and the grants humans give.

SQLite in WAL mode, beside the audit log (`approvals.db`). Why SQLite rather than files under a lock: many gates
(agents, shims) create and consume requests at once while a reviewer approves them, and every transition must be
atomic and single-use: "approved -> consumed" may happen exactly once even if two gates race for the same grant.
A conditional UPDATE inside a transaction gives that directly; WAL lets the review UI read while gates write.

A grant is bound to the exact command text, form, working directory, actor and environment (its fingerprint):
a changed command, or the same command elsewhere, needs its own approval. Scopes:
- once: consumed by one run;
- session: any run of the same command in the same agent session until it expires;
- until: any run of the same command until a time.
Requests expire (default 15 minutes); grants too.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from capfence_sh.errors import CapfenceError

DEFAULT_TTL_SECONDS = 15 * 60
SCOPES = ("once", "session", "until")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    status TEXT NOT NULL,               -- pending | approved | rejected | expired | consumed
    command TEXT NOT NULL,
    form TEXT NOT NULL,
    cwd TEXT NOT NULL,
    actor TEXT NOT NULL,
    environment TEXT NOT NULL,
    session TEXT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    actions TEXT NOT NULL,              -- JSON list of the parsed actions
    scope TEXT,                         -- once | session | until, set on approval
    grant_until REAL,
    decided_by TEXT,
    decided_at REAL,
    decision_note TEXT,
    uses INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_status ON requests(status, fingerprint);
"""


class ApprovalError(CapfenceError):
    """The approvals store cannot be used, or a transition is not allowed."""


@dataclass(frozen=True)
class Request:
    id: int
    fingerprint: str
    created_at: float
    expires_at: float
    status: str
    command: str
    form: str
    cwd: str
    actor: str
    environment: str
    session: str
    rule: str
    reason: str
    actions: list
    scope: str | None
    grant_until: float | None
    decided_by: str | None
    decided_at: float | None
    decision_note: str | None
    uses: int

    @property
    def age_seconds(self) -> float:
        return time.time() - self.created_at


def reviewer() -> str:
    """Who is deciding, for the record: `<user>@<terminal>` (or `@no-tty` for scripted decisions)."""
    import getpass

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid())
    tty = os.ttyname(0) if os.isatty(0) else "no-tty"
    return f"{who}@{tty}"


def fingerprint(command: str, form: str, cwd: str, actor: str, environment: str) -> str:
    from capfence_sh.shim import _sha256

    text = "\0".join((form, command, cwd, actor, environment))
    return _sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def store_path(audit_path: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(audit_path)), "approvals.db")


class ApprovalStore:
    def __init__(self, path: str) -> None:
        import sqlite3

        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            existed = os.path.exists(path)
            self._db = sqlite3.connect(path, timeout=10, isolation_level=None)
            if not existed:
                os.chmod(path, 0o600)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ApprovalError(f"cannot open the approvals store {path}: {exc}") from None
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ApprovalStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the gate's side -----------------------------------------------------------------------------------------

    def request(self, *, command: str, form: str, cwd: str, actor: str, environment: str, session: str, rule: str,
                reason: str, actions: list, ttl: float = DEFAULT_TTL_SECONDS) -> tuple[Request, bool]:
        """A pending request for this exact command (an existing pending one is reused). (request, created)."""
        fp = fingerprint(command, form, cwd, actor, environment)
        now = time.time()
        with self._transaction():
            self._expire(now)
            row = self._db.execute(
                "SELECT * FROM requests WHERE fingerprint=? AND status='pending' AND session=? ORDER BY id DESC LIMIT 1",
                (fp, session)).fetchone()
            if row is not None:
                return _request(row), False
            cursor = self._db.execute(
                "INSERT INTO requests (fingerprint, created_at, expires_at, status, command, form, cwd, actor, "
                "environment, session, rule, reason, actions) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (fp, now, now + ttl, "pending", command, form, cwd, actor, environment, session, rule, reason,
                 json.dumps(actions, ensure_ascii=False)))
            return self.get(cursor.lastrowid), True  # type: ignore[arg-type]

    def consume_grant(self, *, command: str, form: str, cwd: str, actor: str, environment: str,
                      session: str) -> Request | None:
        """Use a grant for exactly this command, if one is valid; a `once` grant can be used by one run only."""
        fp = fingerprint(command, form, cwd, actor, environment)
        now = time.time()
        with self._transaction():
            self._expire(now)
            rows = self._db.execute(
                "SELECT * FROM requests WHERE fingerprint=? AND status='approved' ORDER BY id", (fp,)).fetchall()
            for row in rows:
                scope = row["scope"]
                if scope == "session" and row["session"] != session:
                    continue
                if scope == "once":
                    changed = self._db.execute(
                        "UPDATE requests SET status='consumed', uses=uses+1 WHERE id=? AND status='approved'",
                        (row["id"],)).rowcount
                    if changed != 1:
                        continue  # another gate used it first
                else:
                    self._db.execute("UPDATE requests SET uses=uses+1 WHERE id=?", (row["id"],))
                return self.get(row["id"])
        return None

    def wait(self, request_id: int, timeout: float, poll: float = 0.2) -> Request:
        """Block until a human decides (or the request expires or the wait times out)."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.get(request_id)
            if current is None:
                raise ApprovalError(f"approval request {request_id} disappeared")
            if current.status != "pending" or time.monotonic() >= deadline:
                return current
            if current.expires_at <= time.time():
                with self._transaction():
                    self._expire(time.time())
                return self.get(request_id)  # type: ignore[return-value]
            time.sleep(poll)

    def consume(self, request_id: int) -> bool:
        """Use a specific approved request (the one a waiting gate asked for)."""
        with self._transaction():
            row = self._db.execute("SELECT * FROM requests WHERE id=?", (request_id,)).fetchone()
            if row is None or row["status"] != "approved":
                return False
            if row["scope"] == "once":
                return self._db.execute("UPDATE requests SET status='consumed', uses=uses+1 WHERE id=? AND "
                                        "status='approved'", (request_id,)).rowcount == 1
            self._db.execute("UPDATE requests SET uses=uses+1 WHERE id=?", (request_id,))
            return True

    # --- the human's side ----------------------------------------------------------------------------------------

    def approve(self, request_id: int, *, by: str, scope: str = "once", until: float | None = None,
                note: str = "", record: Callable[[Request], None] | None = None) -> Request:
        """`record` (the audit record of the decision) is called before the grant is committed: a waiting gate
        can only use an approval that is already in the audit log, so the log reads approved, then consumed, and
        an approval whose record cannot be written is not granted (`record` raises, the transaction rolls back)."""
        if scope not in SCOPES:
            raise ApprovalError(f"scope must be one of {', '.join(SCOPES)}")
        now = time.time()
        with self._transaction():
            self._expire(now)
            row = self._db.execute("SELECT * FROM requests WHERE id=?", (request_id,)).fetchone()
            if row is None:
                raise ApprovalError(f"no approval request {request_id}")
            if row["status"] != "pending":
                raise ApprovalError(f"request {request_id} is {row['status']}, not pending")
            if scope == "until":
                if until is None or until <= now:
                    raise ApprovalError("an `until` grant needs a time in the future")
                expires = until
            else:
                expires = max(row["expires_at"], now + DEFAULT_TTL_SECONDS)
            self._db.execute("UPDATE requests SET status='approved', scope=?, grant_until=?, decided_by=?, "
                             "decided_at=?, decision_note=?, expires_at=? WHERE id=?",
                             (scope, until, by, now, note, expires, request_id))
            return self._decided(request_id, record)

    def reject(self, request_id: int, *, by: str, note: str = "",
               record: Callable[[Request], None] | None = None) -> Request:
        """`record`: as for approve(), the audit record comes before the waiting gate can see the rejection."""
        now = time.time()
        with self._transaction():
            row = self._db.execute("SELECT * FROM requests WHERE id=?", (request_id,)).fetchone()
            if row is None:
                raise ApprovalError(f"no approval request {request_id}")
            if row["status"] not in ("pending", "approved"):
                raise ApprovalError(f"request {request_id} is {row['status']}")
            self._db.execute("UPDATE requests SET status='rejected', decided_by=?, decided_at=?, decision_note=? "
                             "WHERE id=?", (by, now, note, request_id))
            return self._decided(request_id, record)

    def _decided(self, request_id: int, record: Callable[[Request], None] | None) -> Request:
        """The request as just decided, recorded (when asked) while its transaction is still open."""
        decided = self.get(request_id)
        if record is not None:
            record(decided)  # type: ignore[arg-type]
        return decided  # type: ignore[return-value]

    # --- reading -------------------------------------------------------------------------------------------------

    def get(self, request_id: int) -> Request | None:
        row = self._db.execute("SELECT * FROM requests WHERE id=?", (request_id,)).fetchone()
        return _request(row) if row is not None else None

    def pending(self) -> list[Request]:
        """Pending requests that have not run out, newest first. Read-only: it never waits for the write lock."""
        rows = self._db.execute("SELECT * FROM requests WHERE status='pending' AND expires_at>? ORDER BY id DESC",
                                (time.time(),)).fetchall()
        return [_request(r) for r in rows]

    def expire_due(self) -> list[Request]:
        """Mark requests and grants whose time ran out as expired; returns them (each exactly once, whichever
        process gets there first), so the caller can record the expiry in the audit log."""
        with self._transaction():
            ids = self._expire(time.time())
        return [r for r in (self.get(i) for i in ids) if r is not None]

    def recent(self, limit: int = 100) -> list[Request]:
        rows = self._db.execute("SELECT * FROM requests ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_request(r) for r in rows]

    def expired_since(self, since_id: int = 0) -> list[Request]:
        rows = self._db.execute("SELECT * FROM requests WHERE status='expired' AND id>? ORDER BY id",
                                (since_id,)).fetchall()
        return [_request(r) for r in rows]

    # --- internals -----------------------------------------------------------------------------------------------

    def _expire(self, now: float) -> list[int]:
        rows = self._db.execute("SELECT id FROM requests WHERE status IN ('pending','approved') AND expires_at<=?",
                                (now,)).fetchall()
        ids = [r["id"] if hasattr(r, "keys") else r[0] for r in rows]
        if ids:
            self._db.execute(f"UPDATE requests SET status='expired' WHERE id IN ({','.join('?' * len(ids))})", ids)
        return ids

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front, so check-then-update cannot interleave."""

    def __init__(self, db) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _request(row) -> Request:
    data = dict(row)
    data["actions"] = json.loads(data["actions"] or "[]")
    return Request(**data)


def parse_until(text: str) -> float:
    """`30m`, `2h`, `1d`, or an ISO date/time: the end of an `until` grant."""
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if text[:-1].isdigit() and text[-1:] in units:
        return time.time() + int(text[:-1]) * units[text[-1]]
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApprovalError(f"cannot read {text!r} as a duration (30m, 2h, 1d) or an ISO time") from None
    return moment.timestamp()
