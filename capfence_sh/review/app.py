"""The review UI's state and loop: keys in, store and log polled, a bounded amount of indexing per turn, the
screen redrawn. Approving and rejecting go through the approvals store and are recorded in the audit log exactly
as `capfence approve` / `capfence reject` do; nothing is decided here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions
from rich.live import Live

from capfence_sh import approvals
from capfence_sh.review import screens
from capfence_sh.review.chain import ChainState, ChainWatch
from capfence_sh.review.history import HistoryIndex, HistoryView, find_outcome
from capfence_sh.review.query import HistoryQuery, QueryError, parse_query
from capfence_sh.review.terminal import Stopped, Terminal

POLL_SECONDS = 0.5  # how often the approvals store is read for new, decided and expired requests
WORK_SECONDS = 0.03  # indexing and filtering done per turn of the loop: keys are never kept waiting longer
REDRAW_SECONDS = 1.0  # ages and expiry counters move even when nothing else does
FLASH_SECONDS = 6.0


@dataclass
class Prompt:
    kind: str  # reject | until | filter
    label: str
    text: str = ""
    request_id: int | None = None


@dataclass(frozen=True)
class DetailTarget:
    kind: str  # request | record
    key: int  # request id, or the record's ordinal in the history index


class ReviewApp:
    def __init__(self, gate, console: Console, terminal: Terminal) -> None:
        self.gate = gate
        self.console = console
        self.terminal = terminal
        self.store = approvals.ApprovalStore(approvals.store_path(gate.audit_path))
        self.index = HistoryIndex(gate.audit_path)
        self.view = HistoryView(self.index, HistoryQuery())
        self.chain = ChainWatch(gate.audit_path, gate.audit_key)
        self.chain_state = ChainState()
        self.tab = "queue"
        self.queue: list[approvals.Request] = []
        self.queue_index = 0
        self.queue_top = 0
        self.history_row = 0
        self.history_top = 0
        self.history_page = 10
        self._history_ordinal: int | None = None
        self.detail: DetailTarget | None = None
        self.detail_scroll = 0
        self.detail_page = 10
        self._detail_cache: tuple[Any, int, list] | None = None
        self._outcomes: dict[int, dict] = {}
        self.prompt: Prompt | None = None
        self._flash: tuple[str, str, float] | None = None
        self.quit = False
        self.exit_status = 0
        self._last_poll = 0.0
        self._last_draw = 0.0
        self._dirty = True
        self.reviewer = _reviewer()

    # --- facts the screens read -----------------------------------------------------------------------------

    @property
    def width(self) -> int:
        return self.console.size.width

    @property
    def policy(self):
        return self.gate.policy

    def flash(self, text: str, style: str = "") -> None:
        self._flash = (text, style, time.monotonic() + FLASH_SECONDS)
        self._dirty = True

    def flash_message(self) -> tuple[str, str] | None:
        if self._flash is None or self._flash[2] < time.monotonic():
            return None
        return self._flash[0], self._flash[1]

    def hint(self) -> str:
        if self.detail is not None:
            return "Esc back · ↑↓ PgUp PgDn scroll"
        if self.tab == "queue":
            if not self.queue:
                return f"watching {approvals.store_path(self.gate.audit_path)}"
            return f"request {self.queue_index + 1} of {len(self.queue)} · newest first"
        total = len(self.view)
        if not total:
            return f"{self.gate.audit_path}"
        return f"row {self.history_row + 1} of {total:,}{'+' if not self.view.complete else ''} · newest first"

    def footer_keys(self) -> list[tuple[str, str]]:
        if self.prompt is not None:
            return [("Enter", "submit"), ("Esc", "cancel"), ("Ctrl-U", "clear")]
        request_keys = [("a", "approve"), ("s", "session"), ("r", "reject")]
        if self.detail is not None and self.detail.kind == "request":
            return request_keys + [("Esc", "back"), ("↑↓", "scroll"), ("q", "quit"), ("u", "until")]
        if self.detail is not None:
            return [("Esc", "back"), ("↑↓", "scroll"), ("PgUp PgDn", "page"), ("q", "quit")]
        if self.tab == "queue":
            return request_keys + [("Enter", "details"), ("/", "filter"), ("Tab", "history"), ("q", "quit"),
                                   ("u", "until"), ("↑↓ j k", "move")]
        return [("↑↓", "move"), ("Enter", "details"), ("/", "filter"), ("Tab", "queue"), ("q", "quit"),
                ("PgUp PgDn", "page"), ("g G", "newest/oldest"), ("Esc", "clear filter")]

    def outcome_of(self, ordinal: int, seq: Any) -> dict | None:
        if not isinstance(seq, int):
            return None
        if seq not in self._outcomes:
            found = find_outcome(self.index, ordinal, seq)
            if found is None:
                return None  # not cached: the command may still be running
            self._outcomes[seq] = found
        return self._outcomes[seq]

    def detail_lines(self, console: Console, options: ConsoleOptions) -> list:
        """The detail view rendered at this width, cached until something it shows changes."""
        target = self.detail
        if target is None:
            return []
        if target.kind == "request":
            request = self.store.get(target.key)
            # Ages move: a request's details are drawn again each second, and when its status changes.
            state: Any = (request.status, int(time.time())) if request is not None else None
        else:
            record = self.view.record(target.key)
            seq = record.get("seq") if record is not None else None
            state = self.chain_state.status_of(seq) if isinstance(seq, int) else None
        cache_key = (target, options.max_width, state)
        if self._detail_cache is None or self._detail_cache[0] != cache_key:
            if target.kind == "request":
                content = screens.request_detail(self, request) if request is not None else \
                    screens.Text("the request is gone")
            else:
                content = screens.record_detail(self, record, target.key) if record is not None else \
                    screens.Text("the record cannot be read")
            self._detail_cache = (cache_key, options.max_width, console.render_lines(content, options, pad=True))
        return self._detail_cache[2]

    # --- the loop -------------------------------------------------------------------------------------------

    def run(self) -> int:
        self.chain.start()
        live = Live(console=self.console, screen=True, auto_refresh=False, transient=True,
                    redirect_stdout=False, redirect_stderr=False)
        self.terminal.enter()
        try:
            live.start()
            try:
                self._loop(live)
            finally:
                live.stop()
        except Stopped as stop:
            self.exit_status = 128 + stop.signum
        except KeyboardInterrupt:
            self.exit_status = 130
        finally:
            self.terminal.close()
            self.chain.stop()
            self.index.close()
            self.store.close()
        return self.exit_status

    def _loop(self, live: Live) -> None:
        self._poll_store()
        while not self.quit:
            if self.terminal.suspend_requested:
                self.terminal.suspend_requested = False
                self.terminal.suspend(live.stop, live.start)
                self._dirty = True
            busy = not self.index.complete or not self.view.complete
            until_poll = self._last_poll + POLL_SECONDS - time.monotonic()
            timeout = 0.0 if busy else max(0.0, min(until_poll, REDRAW_SECONDS))
            keys = self.terminal.read_keys(timeout)
            for key in keys:
                self.on_key(key)
                if self.quit:
                    return
            if keys:
                self._dirty = True
            if self.terminal.resized:
                self.terminal.resized = False
                self._detail_cache = None
                self._dirty = True
            if time.monotonic() >= self._last_poll + POLL_SECONDS:
                self._poll_store()
                self._poll_log()
            self._work()
            now = time.monotonic()
            if self._dirty or now - self._last_draw >= (0.25 if busy else REDRAW_SECONDS):
                live.update(screens.screen(self), refresh=True)
                self._last_draw = now
                self._dirty = False

    def _work(self) -> None:
        """Index and filter for a bounded time; the selection follows its record as rows shift."""
        deadline = time.monotonic() + WORK_SECONDS
        before = len(self.view)
        self.index.scan_back(deadline)
        self.view.scan(deadline)
        if len(self.view) != before:
            self._keep_history_selection()
            if self.tab == "history":
                self._dirty = True

    def _poll_log(self) -> None:
        before = len(self.view)
        if self.index.scan_new():
            self.view.scan(time.monotonic() + WORK_SECONDS)
            if len(self.view) != before:
                self._keep_history_selection()
                self._dirty = True
        state = self.chain.state()
        if state != self.chain_state:
            self.chain_state = state
            self._dirty = True

    def _keep_history_selection(self) -> None:
        # At the top the view follows the newest record; elsewhere the selected record stays selected.
        if self._history_ordinal is not None and self.history_row > 0:
            row = self.view.row_of(self._history_ordinal)
            if row is not None:
                shift = row - self.history_row
                self.history_row = row
                self.history_top += shift

    def _remember_history_selection(self) -> None:
        self._history_ordinal = self.view.ordinal_at(self.history_row)

    def _poll_store(self) -> None:
        self._last_poll = time.monotonic()
        try:
            from capfence_sh.gate import record_expired

            record_expired(self.gate, self.store)
            pending = self.store.pending()
        except approvals.ApprovalError as exc:
            self.flash(str(exc), "bold red")
            return
        except Exception as exc:  # noqa: BLE001 - sqlite3.Error (busy, locked): shown, retried on the next poll
            self.flash(f"cannot read the approvals store: {exc}", "bold red")
            return
        old_ids = [r.id for r in self.queue]
        new_ids = [r.id for r in pending]
        if old_ids == new_ids and all(a == b for a, b in zip(self.queue, pending)):
            return
        selected = self.queue[self.queue_index].id if self.queue and self.queue_index < len(self.queue) else None
        gone = [i for i in old_ids if i not in new_ids]
        for request_id in gone:
            request = self.store.get(request_id)
            if request is not None and request.status != "pending" and request.decided_by != self.reviewer:
                how = {"expired": "expired", "approved": f"approved by {request.decided_by}",
                       "rejected": f"rejected by {request.decided_by}",
                       "consumed": "approved and used"}.get(request.status, request.status)
                self.flash(f"request #{request_id} {how}: {screens.printable(request.command)}",
                           "yellow" if request.status == "expired" else "")
        arrived = [i for i in new_ids if i not in old_ids]
        self.queue = pending
        if selected in new_ids and not (arrived and self.queue_index == 0):
            self.queue_index = new_ids.index(selected)
        self.queue_index = max(0, min(self.queue_index, len(self.queue) - 1))
        if self.detail is not None and self.detail.kind == "request" and self.detail.key in gone:
            self._detail_cache = None
        self._dirty = True

    # --- keys -----------------------------------------------------------------------------------------------

    def on_key(self, key: str) -> None:
        if self.prompt is not None:
            self._prompt_key(key)
        elif key == "q":
            self.quit = True
        elif key == "redraw":
            self.terminal.resized = True
        elif self.detail is not None:
            self._detail_key(key)
        elif key in ("tab", "backtab"):
            self.tab = "history" if self.tab == "queue" else "queue"
        elif key == "/":
            self.tab = "history"
            self.prompt = Prompt("filter", "filter: ", self.view.query.text)
        elif self.tab == "queue":
            self._queue_key(key)
        else:
            self._history_key(key)

    def _move(self, key: str, row: int, count: int, page: int) -> int:
        step = {"up": -1, "k": -1, "down": 1, "j": 1, "pageup": -page, "pagedown": page}.get(key)
        if step is not None:
            row += step
        elif key in ("home", "g"):
            row = 0
        elif key in ("end", "G"):
            row = count - 1
        return max(0, min(row, count - 1)) if count else 0

    def _queue_key(self, key: str) -> None:
        request = self.queue[self.queue_index] if self.queue else None
        if key in ("up", "down", "j", "k", "pageup", "pagedown", "home", "end", "g", "G"):
            self.queue_index = self._move(key, self.queue_index, len(self.queue), 3)
        elif request is None:
            if key in ("a", "s", "r", "u", "enter"):
                self.flash("no pending request selected", "yellow")
        elif key == "enter":
            self._open_detail(DetailTarget("request", request.id))
        else:
            self._request_key(key, request.id)

    def _request_key(self, key: str, request_id: int) -> None:
        if key == "a":
            self.approve(request_id, "once")
        elif key == "s":
            self.approve(request_id, "session")
        elif key == "u":
            if self._scope_refused("until"):
                return
            self.prompt = Prompt("until", f"approve #{request_id} until (30m, 2h, 1d or an ISO time): ",
                                 request_id=request_id)
        elif key == "r":
            self.prompt = Prompt("reject", f"reject #{request_id}, reason: ", request_id=request_id)

    def _history_key(self, key: str) -> None:
        total = len(self.view)
        if key in ("up", "down", "j", "k", "pageup", "pagedown", "home", "end", "g", "G"):
            if key in ("end", "G") and not self.view.complete:
                self._finish_scanning()
                total = len(self.view)
            self.history_row = self._move(key, self.history_row, total, max(self.history_page - 1, 1))
            self._remember_history_selection()
        elif key == "enter":
            ordinal = self.view.ordinal_at(self.history_row)
            if ordinal is not None:
                self._open_detail(DetailTarget("record", ordinal))
        elif key == "esc" and self.view.filtered:
            self.apply_filter("")

    def _finish_scanning(self) -> None:
        """`End`: the oldest record is wanted. Index for a little longer (bounded); the row follows later."""
        deadline = time.monotonic() + 0.5
        while not self.view.complete and time.monotonic() < deadline:
            self.index.scan_back(deadline)
            self.view.scan(deadline)
        if not self.view.complete:
            self.flash("still reading the log: the oldest records are not indexed yet", "yellow")

    def _detail_key(self, key: str) -> None:
        target = self.detail
        assert target is not None
        if key in ("esc", "left", "backspace", "h"):
            self.detail = None
            self._detail_cache = None
        elif key in ("up", "k"):
            self.detail_scroll = max(0, self.detail_scroll - 1)
        elif key in ("down", "j"):
            self.detail_scroll += 1
        elif key == "pageup":
            self.detail_scroll = max(0, self.detail_scroll - max(self.detail_page - 1, 1))
        elif key in ("pagedown", " "):
            self.detail_scroll += max(self.detail_page - 1, 1)
        elif key in ("home", "g"):
            self.detail_scroll = 0
        elif key in ("end", "G"):
            self.detail_scroll = 1 << 30
        elif target.kind == "request" and key in ("a", "s", "r", "u"):
            self._request_key(key, target.key)

    def _open_detail(self, target: DetailTarget) -> None:
        self.detail = target
        self.detail_scroll = 0
        self._detail_cache = None

    def _prompt_key(self, key: str) -> None:
        prompt = self.prompt
        assert prompt is not None
        if key == "esc":
            self.prompt = None
        elif key == "enter":
            self.prompt = None
            self._submit(prompt)
        elif key == "backspace":
            prompt.text = prompt.text[:-1]
        elif key == "kill-line":
            prompt.text = ""
        elif key == "kill-word":
            prompt.text = prompt.text.rstrip().rpartition(" ")[0] + (" " if " " in prompt.text.rstrip() else "")
        elif len(key) == 1 and key.isprintable():
            prompt.text += key
        elif key == "tab":
            prompt.text += " "

    def _submit(self, prompt: Prompt) -> None:
        if prompt.kind == "filter":
            self.apply_filter(prompt.text)
        elif prompt.kind == "reject" and prompt.request_id is not None:
            self.reject(prompt.request_id, prompt.text.strip())
        elif prompt.kind == "until" and prompt.request_id is not None:
            try:
                until = approvals.parse_until(prompt.text)
            except approvals.ApprovalError as exc:
                self.flash(str(exc), "bold red")
                return
            self.approve(prompt.request_id, "until", until=until)

    def apply_filter(self, text: str) -> None:
        try:
            query = parse_query(text)
        except QueryError as exc:
            self.flash(f"filter not applied: {exc}", "bold red")
            return
        self.view = HistoryView(self.index, query)
        self.history_row = self.history_top = 0
        self._history_ordinal = None
        self.view.scan(time.monotonic() + WORK_SECONDS)
        self.flash("filter cleared" if query.empty else f"filter: {query.text}", "")

    # --- decisions, as `capfence approve` / `capfence reject` make them --------------------------------------

    def _scope_refused(self, scope: str) -> bool:
        allowed = self.gate.policy.approval.get("remember")
        allowed = [allowed] if isinstance(allowed, str) else (allowed or list(approvals.SCOPES))
        if scope != "once" and scope not in allowed:
            self.flash(f"the policy does not allow `{scope}` approvals (allowed: {', '.join(allowed)})", "bold red")
            return True
        return False

    def approve(self, request_id: int, scope: str, until: float | None = None) -> None:
        from capfence_sh.errors import AuditError

        if self._scope_refused(scope):
            return
        try:
            request = self.store.approve(request_id, by=self.reviewer, scope=scope, until=until,
                                         record=lambda decided: self.gate.record_approval("approved", decided))
        except approvals.ApprovalError as exc:
            self.flash(str(exc), "bold red")
            self._poll_store()
            return
        except AuditError as exc:
            self.flash(f"#{request_id} was not approved: its audit record could not be written: {exc}", "bold red")
            return
        self.flash(f"approved #{request.id} ({scope}): {screens.printable(request.command)}", "green")
        self._after_decision(request_id)

    def reject(self, request_id: int, reason: str) -> None:
        from capfence_sh.errors import AuditError

        try:
            request = self.store.reject(request_id, by=self.reviewer, note=reason,
                                        record=lambda decided: self.gate.record_approval("rejected", decided))
        except approvals.ApprovalError as exc:
            self.flash(str(exc), "bold red")
            self._poll_store()
            return
        except AuditError as exc:
            self.flash(f"#{request_id} was not rejected: its audit record could not be written: {exc}", "bold red")
            return
        self.flash(f"rejected #{request.id}" + (f": {reason}" if reason else ""), "yellow")
        self._after_decision(request_id)

    def _after_decision(self, request_id: int) -> None:
        if self.detail is not None and self.detail.kind == "request" and self.detail.key == request_id:
            self.detail = None
            self._detail_cache = None
        self._poll_store()


def _reviewer() -> str:
    from capfence_sh.approvals import reviewer  # the same `<user>@<tty>` as `capfence approve`

    return reviewer()