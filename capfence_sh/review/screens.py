"""What the review UI draws: the header (counts, chain status), the queue of pending requests, the history table,
the detail view, the status/prompt line and the key footer. Only renders the state `app.ReviewApp` holds.

Everything shown from the log or the store passes through `printable` (a proposed command can hold escape
sequences that would drive the reviewer's terminal) and is put in `Text` objects, never in markup (a command can
hold `[bold]`). Without colour (NO_COLOR) the selection stays visible: a `>` marker and reverse video.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.layout import Layout
from rich.segment import Segment
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from capfence_sh.printable import printable

if TYPE_CHECKING:
    from capfence_sh.approvals import Request
    from capfence_sh.review.app import ReviewApp

DECISION_LABEL = {"allow": "allow", "deny": "DENY", "require_approval": "APPROVAL"}
DECISION_STYLE = {"allow": "green", "deny": "bold red", "require_approval": "bold yellow", "approved": "green",
                  "rejected": "red", "rejected-seen": "red", "expired": "dim", "consumed": "cyan",
                  "requested": "yellow"}
SELECTED = "reverse"
MARKER = ">"


def _p(value: Any) -> str:
    return printable(str(value if value is not None else ""))


def _home(path: str) -> str:
    home = os.environ.get("HOME", "")
    if home and (path == home or path.startswith(home.rstrip("/") + "/")):
        return "~" + path[len(home.rstrip("/")):]
    return path


def age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def short_time(ts: str, today: str) -> str:
    """`12:03:44` for today (UTC), `05-01 12:03` before; the log's times are UTC."""
    if len(ts) < 19:
        return ts
    return ts[11:19] if ts[:10] == today else f"{ts[5:10]} {ts[11:16]}"


def command_syntax(command: str, *, wrap: bool = True) -> Syntax:
    return Syntax(printable(command, keep_newlines=True), "bash", theme="ansi_dark", word_wrap=wrap,
                  background_color="default")


def _count(n: int) -> str:
    return f"{n:,}"


# --- the whole screen ---------------------------------------------------------------------------------------


def screen(app: ReviewApp) -> Layout:
    layout = Layout(name="root")
    layout.split_column(
        Layout(header(app), name="header", size=2),
        Layout(tabs(app), name="tabs", size=1),
        Layout(body(app), name="body"),
        Layout(status_line(app), name="status", size=1),
        Layout(footer(app), name="footer", size=1),
    )
    return layout


def compact(n: int) -> str:
    """12,345 as 12.3k: the header stays one line on an 80-column terminal however large the log."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def header(app: ReviewApp) -> Group:
    chain = app.chain_state
    first = Text(no_wrap=True, overflow="ellipsis")
    first.append("capfence review", style="bold")
    first.append("  │  ")
    first.append(f"{len(app.queue)} pending", style="bold yellow" if app.queue else "")
    first.append("  │  chain ")
    if chain.broken_seq is not None:
        first.append(f"BROKEN at seq {chain.broken_seq} ({chain.broken_kind})", style="bold red")
    elif chain.error:
        first.append(f"not verified: {_p(chain.error)}", style="yellow")
    elif not chain.done:
        first.append(f"not verified yet ({chain.progress:.0%}: intact through seq {chain.verified_through})",
                     style="yellow")
    elif chain.verified_through:
        first.append(f"OK (seq 1..{chain.verified_through}{', hmac' if chain.hmac_checked else ''})",
                     style="green")
    else:
        first.append("no records yet", style="dim")
    second = Text(no_wrap=True, overflow="ellipsis")
    decided = sum(chain.decisions.values())
    second.append(f"{compact(decided)} decisions")
    if chain.decisions:
        second.append(": ")
        for i, (decision, n) in enumerate(sorted(chain.decisions.items(), key=lambda kv: -kv[1])):
            second.append(("  " if i else "") + f"{DECISION_LABEL.get(decision, decision).lower()} {compact(n)}",
                          style=DECISION_STYLE.get(decision, ""))
    if not chain.done:
        second.append(" so far", style="dim")
    top = chain.denied_programs.most_common(3)
    second.append("  │  top denied: ")
    second.append(", ".join(f"{_p(p)} {compact(n)}" for p, n in top) if top else "none",
                  style="red" if top else "dim")
    return Group(first, second)


def tabs(app: ReviewApp) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    for name, label in (("queue", f" Queue ({len(app.queue)}) "),
                        ("history", f" History ({_count(len(app.view))}{'+' if not app.view.complete else ''}) ")):
        active = app.tab == name and app.detail is None
        line.append(f"[{label}]" if active else f" {label} ", style="bold reverse" if active else "")
        line.append(" ")
    if app.view.filtered:
        line.append("filter: ", style="dim")
        line.append(_p(app.view.query.text), style="bold")
        if not app.view.complete:
            done = app.view.scanned / max(len(app.index), 1)
            line.append(f"  searching {done:.0%}", style="dim")
    elif not app.index.complete:
        line.append(f"indexing the log… {_count(len(app.index))} records so far", style="dim")
    return line


def body(app: ReviewApp):
    if app.detail is not None:
        return DetailView(app)
    if app.tab == "queue":
        return QueueView(app)
    return HistoryTable(app)


def status_line(app: ReviewApp) -> Text:
    if app.prompt is not None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(app.prompt.label, style="bold")
        shown = app.prompt.text
        room = max(app.width - len(app.prompt.label) - 2, 10)
        line.append(("…" + shown[-room + 1:]) if len(shown) > room else shown)
        line.append("█")
        return line
    message = app.flash_message()
    if message is not None:
        text, style = message
        return Text(text, style=style, no_wrap=True, overflow="ellipsis")
    return Text(app.hint(), style="dim", no_wrap=True, overflow="ellipsis")


def footer(app: ReviewApp) -> Text:
    keys = app.footer_keys()
    line = Text(no_wrap=True, overflow="ellipsis")
    used = 0
    for i, (key, words) in enumerate(keys):
        piece = ("  " if i else "") + f"{key} {words}"
        if used + len(piece) > app.width and i:
            break
        if i:
            line.append("  ")
        line.append(key, style="bold reverse")
        line.append(f" {words}")
        used += len(piece)
    return line


# --- the queue ----------------------------------------------------------------------------------------------


def request_block(request: Request, selected: bool, now: float) -> Group:
    head = Text(no_wrap=True, overflow="ellipsis")
    head.append(f"#{request.id} ", style="bold")
    head.append(f" {age(now - request.created_at)} ago", style="")
    head.append(f"  {_p(request.actor)}", style="cyan")
    head.append(f"  in {_p(_home(request.cwd))}")
    left = request.expires_at - now
    head.append(f"  expires in {age(left)}" if left > 0 else "  expired", style="dim")
    if selected:
        head.stylize(SELECTED)
    actions = Text()
    for i, action in enumerate(request.actions[:6]):
        if not isinstance(action, dict):
            continue
        if i:
            actions.append("  ·  ", style="dim")
        actions.append(_p(action.get("program") or "?"), style="bold")
        caps = ", ".join(_p(c) for c in action.get("capabilities") or []) or "-"
        actions.append(f" {caps}", style="magenta")
    if len(request.actions) > 6:
        actions.append(f"  · {len(request.actions) - 6} more", style="dim")
    reason = Text()
    reason.append("rule ", style="dim")
    reason.append(_p(request.rule), style="bold yellow")
    reason.append(f": {_p(request.reason)}")
    return Group(head, command_syntax(request.command), actions, reason)


class QueueView:
    """The pending requests, newest first, as blocks; the selected one kept in view."""

    def __init__(self, app: ReviewApp) -> None:
        self.app = app

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        app = self.app
        width = options.max_width
        height = options.height or options.size.height
        if not app.queue:
            message = Text("\n  No pending approval requests.\n\n", style="bold")
            message.append("  Requests appear here while an agent waits (`capfence exec --wait`).\n"
                           "  Tab shows the history of decisions.", style="dim")
            yield message
            return
        now = time.time()
        inner = options.update(width=max(width - 2, 10), height=None)
        rendered = []
        for i, request in enumerate(app.queue[:200]):
            selected = i == app.queue_index
            lines = console.render_lines(request_block(request, selected, now), inner, pad=True)
            # The gutter marks the selection without colour: `>` on the first line, a bar beside the rest.
            bold = console.get_style("bold")
            rendered.append([[Segment(MARKER + " " if selected else "  ", bold), *line] if n == 0 else
                             [Segment("┃ " if selected else "  ", bold), *line] for n, line in enumerate(lines)])
        # Separate blocks by one blank line when there is room for it.
        spacing = 1 if sum(len(r) for r in rendered) + len(rendered) <= height * 2 else 0
        top = min(app.queue_top, app.queue_index)
        while top < app.queue_index and sum(len(r) + spacing for r in rendered[top:app.queue_index + 1]) > height:
            top += 1
        app.queue_top = top
        out: list[list[Segment]] = []
        for block in rendered[top:]:
            for line in block:
                out.append(line)
            out.extend([[Segment(" " * width)]] * spacing)
            if len(out) >= height:
                break
        for line in out[:height]:
            yield from line
            yield Segment.line()


# --- the history --------------------------------------------------------------------------------------------


def decision_text(record: dict[str, Any]) -> Text:
    if record.get("kind") == "approval":
        event = str(record.get("event", ""))
        return Text(_p(event), style=DECISION_STYLE.get(event, ""))
    decision = str(record.get("decision"))
    label = DECISION_LABEL.get(decision, _p(decision))
    if record.get("mode") == "observe" and record.get("would_block"):
        label += "·obs"
    return Text(label, style=DECISION_STYLE.get(decision, ""))


class HistoryTable:
    """The rows on screen, read from the log when drawn; the selected record's command below in full."""

    PREVIEW = 3

    def __init__(self, app: ReviewApp) -> None:
        self.app = app

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        app = self.app
        view = app.view
        width = options.max_width
        height = options.height or options.size.height
        preview_height = self.PREVIEW if height >= 10 else 0
        rows = max(height - 1 - preview_height - (1 if preview_height else 0), 1)
        app.history_page = rows
        total = len(view)
        if app.history_row >= total and total:
            app.history_row = total - 1
        top = app.history_top
        if app.history_row < top:
            top = app.history_row
        if app.history_row >= top + rows:
            top = app.history_row - rows + 1
        app.history_top = top = max(top, 0)
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        wide = width >= 110
        table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 1), expand=True, show_header=True,
                      header_style="bold dim")
        table.add_column("", width=1, no_wrap=True)
        table.add_column("seq", justify="right", no_wrap=True)
        table.add_column("time (UTC)", no_wrap=True)
        table.add_column("decision", no_wrap=True, max_width=10)
        table.add_column("actor", no_wrap=True, overflow="ellipsis", max_width=16 if wide else 12)
        table.add_column("rule", no_wrap=True, overflow="ellipsis", max_width=28 if wide else 14)
        table.add_column("command", no_wrap=True, overflow="ellipsis", ratio=1)
        selected_record = None
        for row in range(top, top + rows):
            ordinal = view.ordinal_at(row)
            if ordinal is None:
                if row == total and not view.complete:
                    table.add_row("", "", Text("searching…" if view.filtered else "indexing…", style="dim"),
                                  "", "", "", "")
                break
            record = view.record(ordinal)
            selected = row == app.history_row
            if record is None:
                cells = ["", "?", "", Text("unreadable", style="red"), "", "", ""]
            else:
                if selected:
                    selected_record = record
                ts = str(record.get("ts", ""))
                cells = [MARKER if selected else " ", str(record.get("seq", "")),
                         ts[:19].replace("T", " ") if wide else short_time(ts, today), decision_text(record),
                         _p(record.get("actor", "")), _p(record.get("rule", "")),
                         Text(_p(record.get("command", "")).replace("\n", " ⏎ "))]
            table.add_row(*cells, style=SELECTED if selected else None)
        if total == 0:
            if view.complete:
                table.add_row("", "", Text("no matching records" if view.filtered else "no records yet",
                                           style="dim"), "", "", "", "")
        lines = console.render_lines(table, options.update(width=width, height=rows + 1), pad=True)
        for line in lines:
            yield from line
            yield Segment.line()
        if preview_height:
            yield Segment("─" * width, console.get_style("dim"))
            yield Segment.line()
            preview = self._preview(selected_record)
            for line in console.render_lines(preview, options.update(width=width, height=preview_height), pad=True):
                yield from line
                yield Segment.line()

    @staticmethod
    def _preview(record: dict[str, Any] | None):
        if record is None:
            return Text("")
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(f"seq {record.get('seq')} ", style="bold")
        head.append_text(decision_text(record))
        head.append(f"  {_p(record.get('rule', ''))}: {_p(record.get('reason', ''))}")
        return Group(head, command_syntax(str(record.get("command", ""))))


# --- details ------------------------------------------------------------------------------------------------


class DetailView:
    """One request or record in full, scrollable. Rendered once per width and sliced."""

    def __init__(self, app: ReviewApp) -> None:
        self.app = app

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        app = self.app
        width = options.max_width
        height = options.height or options.size.height
        lines = app.detail_lines(console, options.update(width=width, height=None))
        app.detail_page = height
        app.detail_scroll = max(0, min(app.detail_scroll, len(lines) - height))
        window = lines[app.detail_scroll:app.detail_scroll + height]
        for line in window:
            yield from line
            yield Segment.line()


def _field(table: Table, name: str, value: Any) -> None:
    if value is None or value == "":
        return  # a field this record does not carry
    table.add_row(Text(name, style="dim"), value if isinstance(value, (Text, Syntax, Group)) else Text(_p(value)))


def _fields() -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, width=11)
    table.add_column(ratio=1, overflow="fold")
    return table


def actions_tree(actions: Iterable[Any], decided_rule: str | None, decided: str | None) -> Tree:
    items = [a for a in actions if isinstance(a, dict)]
    tree = Tree(Text(f"actions ({len(items)})", style="bold"), guide_style="dim")
    marked = False
    for i, action in enumerate(items, 1):
        decision = str(action.get("decision", ""))
        label = Text()
        label.append(f"{i} ")
        label.append(DECISION_LABEL.get(decision, _p(decision)), style=DECISION_STYLE.get(decision, ""))
        label.append("  ")
        label.append(_p(action.get("program") or "?"), style="bold")
        text = _p(action.get("text") or " ".join(str(a) for a in action.get("argv") or []))
        if text and text != action.get("program"):
            label.append(f"  {text}")
        if not marked and decided and decision == decided and action.get("rule") == decided_rule \
                and decision != "allow":
            label.append("   ← decided", style="bold")
            marked = True
        node = tree.add(label)
        argv = action.get("argv") or []
        if argv:
            node.add(Text(f"argv: {_p(json.dumps(argv, ensure_ascii=False))}"))
        node.add(Text(f"capabilities: {', '.join(_p(c) for c in action.get('capabilities') or []) or '-'}"))
        targets = [t for t in action.get("targets") or [] if isinstance(t, dict)]
        if targets:
            shown = ", ".join(f"{_p(t.get('access'))}:{_p(t.get('path'))}{'' if t.get('known', True) else '?'}"
                              f"{' (tree)' if t.get('recursive') else ''}" for t in targets[:8])
            node.add(Text(f"targets: {shown}" + (f", … {len(targets) - 8} more" if len(targets) > 8 else "")))
        redirects = [r for r in action.get("redirects") or [] if isinstance(r, dict)]
        if redirects:
            node.add(Text("redirects: " + ", ".join(f"{_p(r.get('op'))} {_p(r.get('target'))}" for r in redirects)))
        if action.get("via"):
            node.add(Text(f"via: {' > '.join(_p(v) for v in action.get('via'))}"))
        if action.get("remote"):
            node.add(Text(f"remote: {_p(action.get('remote'))}"))
        rule = Text(f"rule: {_p(action.get('rule'))}")
        if action.get("rule") not in (None, "default") and decision != "allow" and action.get("reason"):
            rule.append(f" ({_p(action.get('reason'))})")
        node.add(rule)
        if action.get("note"):
            node.add(Text(f"note: {_p(action.get('note'))}", style="italic"))
    if not items:
        tree.add(Text("none recorded", style="dim"))
    return tree


def rule_definition(app: ReviewApp, rule_id: str, policy_sha: str | None) -> Text:
    """The rule as the current policy defines it (the log records the policy's sha256, not its text): where, and
    its conditions on one line."""
    policy = app.policy
    text = Text(style="dim")
    if rule_id == "default":
        text.append("no rule matched: the policy's default decision")
        return text
    rule = policy.rule_by_id(rule_id) if policy is not None and rule_id else None
    if rule is None:
        text.append("not in the current policy")
        return text
    raw = rule.raw or {}
    conditions = raw.get("match") if isinstance(raw.get("match"), dict) else {}
    text.append("; ".join(f"{_p(k)}: {_p(_plain(v))}" for k, v in conditions.items()) or "(no conditions)")
    if raw.get("unless"):
        text.append(f"; unless {_p(_plain(raw['unless']))}")
    where = f"{_p(os.path.basename(rule.source))}:{rule.line}" if rule.source else "the current policy"
    text.append(f"  ({where})")
    if policy_sha is not None and policy_sha != policy.sha256:
        text.append("  the current policy differs from the one that decided", style="yellow")
    return text


def _plain(value: Any) -> str:
    if isinstance(value, list):
        # A pack's path lists run to dozens of globs: the first few say what the rule is about.
        shown = [_plain(v) for v in value[:4]] + ([f"… {len(value) - 4} more"] if len(value) > 5 else
                                                 [_plain(v) for v in value[4:]])
        return "[" + ", ".join(shown) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) + "}"
    return str(value)


def request_detail(app: ReviewApp, request: Request) -> Group:
    now = time.time()
    title = Text()
    title.append(f"Request #{request.id}", style="bold")
    title.append(f"  {request.status}", style="bold yellow" if request.status == "pending" else "bold")
    left = request.expires_at - now
    title.append(f"  {_p(request.actor)}", style="cyan")
    title.append(f"  created {age(now - request.created_at)} ago, "
                 + (f"expires in {age(left)}" if left > 0 else "expired"), style="dim")
    fields = _fields()
    _field(fields, "rule", Text.assemble((_p(request.rule), "bold yellow"), f": {_p(request.reason)}"))
    _field(fields, "", rule_definition(app, request.rule, None))
    decided = next((a.get("decision") for a in request.actions if isinstance(a, dict)
                    and a.get("rule") == request.rule), None)
    context = _fields()
    _field(context, "cwd", request.cwd)
    _field(context, "environment", request.environment)
    _field(context, "session", request.session)
    _field(context, "form", request.form)
    _field(context, "fingerprint", request.fingerprint)
    if request.decided_by:
        _field(context, "decided", f"{request.status} by {request.decided_by}"
               + (f": {request.decision_note}" if request.decision_note else ""))
    return Group(title, command_syntax(request.command), fields,
                 actions_tree(request.actions, request.rule, decided), context)


def record_detail(app: ReviewApp, record: dict[str, Any], ordinal: int) -> Group:
    kind = record.get("kind")
    seq = record.get("seq")
    title = Text()
    title.append(f"Record seq {seq}", style="bold")
    title.append("  ")
    title.append_text(decision_text(record))
    title.append(f"  {_p(record.get('actor'))}", style="cyan")
    title.append(f"  {_p(record.get('ts', ''))[:19].replace('T', ' ')} UTC", style="dim")
    state, words = app.chain_state.status_of(seq if isinstance(seq, int) else 0)
    chain_style = {"ok": "green", "broken": "bold red"}.get(state, "yellow")
    fields = _fields()
    _field(fields, "chain", Text(words, style=chain_style))
    policy = record.get("policy") if isinstance(record.get("policy"), dict) else {}
    _field(fields, "rule", Text.assemble((_p(record.get("rule")), "bold"), f": {_p(record.get('reason'))}"))
    _field(fields, "", rule_definition(app, str(record.get("rule", "")), policy.get("sha256") if policy else None))
    if kind == "approval":
        _field(fields, "event", f"{_p(record.get('event'))} (request #{_p(record.get('request'))}, now "
                                f"{_p(record.get('status'))})" + (f", scope {_p(record.get('scope'))}"
                                                                  if record.get("scope") else ""))
        if record.get("by"):
            _field(fields, "by", record.get("by"))
        if record.get("note"):
            _field(fields, "note", record.get("note"))
    chain = _fields()
    _field(chain, "seq", str(seq))
    _field(chain, "hash", _p(record.get("hash")))
    _field(chain, "prev", _p(record.get("prev")))
    if record.get("hmac"):
        _field(chain, "hmac", _p(record.get("hmac")))
    context = _fields()
    if kind == "decision":
        outcome = app.outcome_of(ordinal, seq)
        if outcome is None and record.get("decision") == "deny" and record.get("mode") != "observe":
            words = "not run: denied"
        elif outcome is None:
            words = "no outcome record nearby (not run, still running, or run through a shim)"
        elif outcome.get("signal"):
            words = f"killed by signal {outcome['signal']} after {outcome.get('wall_seconds')}s"
        else:
            words = f"exit {outcome.get('exit_status')} after {outcome.get('wall_seconds')}s" + \
                (f" ({_p(outcome.get('error'))})" if outcome.get("error") else "")
        _field(context, "outcome", words)
        if policy:
            _field(context, "policy", f"{_p(policy.get('name'))} sha256 {_p(policy.get('sha256'))[:16]}…")
        _field(context, "mode", _p(record.get("mode")) + ("  (would have been blocked)" if record.get("would_block")
                                                         and record.get("mode") == "observe" else ""))
    if record.get("actor_source"):
        _field(context, "actor", f"{_p(record.get('actor'))} ({_p(record.get('actor_source'))})")
    if record.get("user"):
        _field(context, "user", f"{_p(record.get('user'))}@{_p(record.get('host'))}"
               + (f"  pid {record.get('pid')}" if record.get("pid") else ""))
    _field(context, "cwd", _p(record.get("cwd")))
    _field(context, "workspace", _p(record.get("workspace")))
    _field(context, "environment", _p(record.get("environment")))
    if kind == "approval":
        _field(context, "session", record.get("session"))
    parts: list[Any] = [title, command_syntax(str(record.get("command", ""))), fields]
    if kind == "decision":
        parts.append(actions_tree(record.get("actions") or [], record.get("rule"), record.get("decision")))
    parts += [chain, context]
    return Group(*parts)
