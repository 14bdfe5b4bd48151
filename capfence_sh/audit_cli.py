"""`capfence audit ...`: verify, show, tail and stats over the audit log. Parses arguments, calls audit_verify and
audit_read, renders (a rich table on a terminal, JSON Lines when piped or with --json). Mounted by cli.py."""

from __future__ import annotations

import json
import os
import sys
from collections import OrderedDict
from typing import Any, Optional

import typer

from capfence_sh.errors import EXIT_CHANGED, EXIT_USAGE, AuditError, PolicyError
from capfence_sh.printable import printable

audit_app = typer.Typer(
    help="Read and verify the audit log: every decision the gate made, hash-chained.\n\n"
         "The log is found as `capfence exec` finds it: PATH, else CAPFENCE_AUDIT, else the policy's audit.path, "
         "else $XDG_STATE_HOME/capfence/audit.jsonl.",
    no_args_is_help=True,
)

_PATH_HELP = "Audit log (default: CAPFENCE_AUDIT, the policy's audit.path, $XDG_STATE_HOME/capfence/audit.jsonl)."


def _fail(message: str, code: int = EXIT_CHANGED) -> typer.Exit:
    print(f"capfence: {message}", file=sys.stderr)
    return typer.Exit(code)


def _policy_audit_settings() -> dict[str, Any]:
    """The `audit:` mapping of the policy `capfence exec` would use here (mirrors gate.open_gate's lookup)."""
    from capfence_sh import paths
    from capfence_sh.policy import choose_policy, load_choice

    cwd = os.getcwd()
    workspace = os.environ.get("CAPFENCE_WORKSPACE") or cwd
    choice = choose_policy(None, os.environ, workspace, cwd)
    return load_choice(choice, cache_dir=paths.cache_dir(os.environ)).audit or {}


def resolve_log_path(path: str | None) -> str:
    from capfence_sh import paths

    if path:
        return os.path.expanduser(path)
    if os.environ.get("CAPFENCE_AUDIT"):
        return os.path.expanduser(os.environ["CAPFENCE_AUDIT"])
    try:
        configured = _policy_audit_settings().get("path")
    except PolicyError as exc:
        raise _fail(f"cannot tell where the audit log is (policy error: {exc}); give its PATH", EXIT_USAGE) from None
    return os.path.expanduser(configured or paths.default_audit_path(os.environ))


def _is_terminal() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def _write_line(raw: bytes) -> None:
    sys.stdout.buffer.write(raw + b"\n")
    sys.stdout.buffer.flush()


# --- verify -------------------------------------------------------------------------------------------------


@audit_app.command("verify", help="Check the whole chain, across segments: exit 0 when intact, 1 when broken "
                                  "(or missing), 2 on a usage error. Reports the first broken link and what it "
                                  "looks like (edited, deleted, inserted, reordered, truncated, forged).")
def verify_command(
    path: Optional[str] = typer.Argument(None, help=_PATH_HELP, show_default=False),
    key_file: Optional[str] = typer.Option(None, "--key-file", help="HMAC key file; also checks every record's "
                                           "hmac (default: CAPFENCE_AUDIT_KEY_FILE, the policy's audit.key_file)."),
    no_key: bool = typer.Option(False, "--no-key", help="Check the chain only, even when a key file is configured."),
    anchor: list[str] = typer.Option([], "--anchor", help="SEQ:HASH recorded earlier (from verify's `last`): "
                                     "that record must still be there, unchanged. Repeatable."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    from capfence_sh.audit_verify import Anchor, verify_log

    try:
        anchors = tuple(Anchor.parse(a) for a in anchor)
    except ValueError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    log = resolve_log_path(path)
    key = None if no_key else _load_key(key_file)
    try:
        report = verify_log(log, key=key, anchors=anchors)
    except AuditError as exc:
        raise _fail(f"audit log error: {exc}") from None
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        sys.stdout.write(verify_text(report))
    raise typer.Exit(0 if report.ok else EXIT_CHANGED)


def _load_key(key_file: str | None) -> bytes | None:
    from capfence_sh.gate import _read_key  # the gate's own reading (strip, at least 16 bytes): same key bytes

    source = key_file or os.environ.get("CAPFENCE_AUDIT_KEY_FILE")
    if not source:
        try:
            source = _policy_audit_settings().get("key_file")
        except PolicyError:
            source = None  # the log path was given or found without the policy; no key is reported as such
    if not source:
        return None
    try:
        return _read_key(source)
    except AuditError as exc:
        raise _fail(f"{exc} (use --no-key to check the chain only)", EXIT_USAGE) from None


def verify_text(report) -> str:
    segments = len(report.segments)
    lines = []
    if report.ok:
        span = f"seq {report.first_seq}..{report.last_seq}" if report.records else "no records"
        lines.append(f"OK: {report.path}: {report.records} records in {segments} segment"
                     f"{'s' if segments != 1 else ''} ({span}), chain intact")
    else:
        b = report.broken
        where = f"{b.segment} line {b.line}" if b.line else b.segment
        lines.append(f"BROKEN: {where}" + (f" (seq {b.seq})" if b.seq is not None else "") + f": {b.kind}: "
                     f"{b.message}")
        if b.expected_seq is not None or b.found_seq is not None:
            lines.append(f"  seq:   expected {b.expected_seq}, found {b.found_seq}")
        if b.expected_prev is not None:
            lines.append(f"  prev:  expected {b.expected_prev}")
            lines.append(f"         found    {b.found_prev}")
        if b.expected_hash is not None:
            lines.append(f"  hash:  expected {b.expected_hash}")
            lines.append(f"         found    {b.found_hash}")
        if b.related:
            lines.append(f"  see:   {b.related}")
        lines.append(f"  verified before the break: {report.records} records"
                     + (f" (seq {report.first_seq}..{report.last_seq})" if report.records else ""))
    if report.kinds:
        lines.append("  kinds:      " + ", ".join(f"{k} {n}" for k, n in sorted(report.kinds.items())))
    if report.decisions:
        lines.append("  decisions:  " + ", ".join(f"{k} {n}" for k, n in sorted(report.decisions.items())))
    if report.hmac_checked:
        lines.append("  hmac:       checked on every record" if report.ok else "  hmac:       checked")
    elif report.hmac_present:
        lines.append(f"  hmac:       present on {report.hmac_present} records but not checked: give --key-file")
    else:
        lines.append("  hmac:       not checked (no key): a chain alone can be rewritten end to end by whoever "
                     "can write the log")
    if report.anchors_checked:
        lines.append(f"  anchors:    {report.anchors_checked} checked")
    if report.quarantined or report.recovered:
        offsets = ", ".join(f"{e.get('offset')} (after seq {e.get('after_seq')})" for e in report.quarantined[:10])
        more = f", ... {len(report.quarantined) - 10} more" if len(report.quarantined) > 10 else ""
        lines.append(f"  quarantined torn lines: {len(report.quarantined)}"
                     + (f" at offsets {offsets}{more}" if offsets else "")
                     + f"; crash recoveries recorded in the chain: {len(report.recovered)}")
    else:
        lines.append("  quarantined torn lines: 0")
    if report.torn_tail:
        t = report.torn_tail
        lines.append(f"  torn final line: {t['length']} bytes at offset {t['offset']} of {t['segment']} (a writer "
                     f"was interrupted; the next append moves it to quarantine)")
    for warning in report.warnings:
        lines.append(f"  warning:    {warning}")
    if report.ok and report.last_hash:
        lines.append(f"  last:       seq {report.last_seq} hash {report.last_hash}")
        lines.append(f"              keep it elsewhere; `--anchor {report.last_seq}:{report.last_hash}` later "
                     f"detects records cut off the end")
    return "\n".join(lines) + "\n"


# --- show ---------------------------------------------------------------------------------------------------


@audit_app.command("show", help="List decisions, filtered: a table on a terminal, JSON Lines (the records as "
                                "stored) when piped or with --json.")
def show_command(
    path: Optional[str] = typer.Argument(None, help=_PATH_HELP, show_default=False),
    decision: Optional[str] = typer.Option(None, "--decision", help="allow, deny or require_approval."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Actor name (glob)."),
    since: Optional[str] = typer.Option(None, "--since", help="30m, 1h, 2d, 1w, or an ISO date/time."),
    rule: Optional[str] = typer.Option(None, "--rule", help="Deciding rule id (glob)."),
    program: Optional[str] = typer.Option(None, "--program", help="A program among the command's actions (glob)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=0, help="Only the last N matches (0: all). Default: "
                                        "50 in the table, all as JSON."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines even on a terminal."),
) -> None:
    from capfence_sh.audit_read import iter_records

    record_filter = _record_filter(decision, actor, since, rule, program)
    log = resolve_log_path(path)
    table = _is_terminal() and not as_json
    keep = (50 if table else 0) if limit is None else limit
    rows: OrderedDict[int, list] = OrderedDict()  # seq -> [raw, record, outcome]; the last `keep` matches
    matched = 0
    try:
        for raw, record in iter_records(log):
            if record.get("kind") == "outcome" and table:
                row = rows.get(record.get("ref"))  # type: ignore[arg-type]
                if row is not None:
                    row[2] = record
                continue
            if not record_filter.matches(record):
                continue
            matched += 1
            if not table and not keep:
                _write_line(raw)  # streaming: nothing is held
                continue
            rows[record["seq"]] = [raw, record, None]
            if keep and len(rows) > keep:
                rows.popitem(last=False)
    except AuditError as exc:
        raise _fail(f"audit log error: {exc}") from None
    if table:
        _print_table(log, [(r, o) for _, r, o in rows.values()], matched)
    else:
        for raw, _, _ in rows.values():
            _write_line(raw)


def _record_filter(decision, actor, since, rule, program):
    from capfence_sh.audit_read import RecordFilter, parse_since
    from capfence_sh.decision import Decision

    if decision is not None:
        try:
            decision = Decision.parse(decision).value
        except ValueError:
            raise _fail(f"--decision {decision!r}: expected allow, deny or require_approval", EXIT_USAGE) from None
    try:
        since_ts = parse_since(since) if since else None
    except ValueError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    return RecordFilter(decision=decision, actor=actor, since=since_ts, rule=rule, program=program)


_DECISION_STYLE = {"allow": "green", "deny": "bold red", "require_approval": "bold yellow"}


def _decision_label(record: dict[str, Any]) -> str:
    label = {"allow": "allow", "deny": "DENY", "require_approval": "APPROVAL"}.get(str(record.get("decision")),
                                                                                   str(record.get("decision")))
    return f"{label} (observe)" if record.get("mode") == "observe" and record.get("would_block") else label


def _exit_label(outcome: dict[str, Any] | None) -> str:
    if outcome is None:
        return ""
    if outcome.get("signal"):
        return f"sig {outcome['signal']}"
    return str(outcome.get("exit_status"))


def _print_table(log: str, rows: list[tuple[dict, dict | None]], matched: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    shown = len(rows)
    title = f"{matched} matching decision{'s' if matched != 1 else ''}"
    if shown < matched:
        title += f", the last {shown} shown (--limit 0 for all)"
    table = Table(title=title, caption=_escape(log), title_justify="left", caption_justify="left", show_edge=False,
                  pad_edge=False)
    for name, options in (("seq", {"justify": "right"}), ("time (UTC)", {"no_wrap": True}),
                          ("decision", {"no_wrap": True}), ("actor", {}), ("rule", {}),
                          ("exit", {"justify": "right"}), ("command", {"overflow": "fold", "ratio": 1})):
        table.add_column(name, **options)
    for record, outcome in rows:
        ts = str(record.get("ts", ""))[:19].replace("T", " ")
        style = _DECISION_STYLE.get(str(record.get("decision")), "")
        label = _escape(_decision_label(record))
        table.add_row(str(record.get("seq")), ts, f"[{style}]{label}[/]" if style else label,
                      _escape(str(record.get("actor", ""))), _escape(str(record.get("rule", ""))),
                      _exit_label(outcome), _escape(str(record.get("command", ""))))
    console.print(table)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(printable(text, keep_newlines=True))


@audit_app.command("tail", help="The last records (decisions and outcomes); with -f, then every new one as it is "
                                "written, across rotation. One line each on a terminal, JSON Lines when piped.")
def tail_command(
    path: Optional[str] = typer.Argument(None, help=_PATH_HELP, show_default=False),
    lines: int = typer.Option(10, "-n", "--lines", min=0, help="How many of the last records to print first."),
    follow_: bool = typer.Option(False, "-f", "--follow", help="Keep printing new records until interrupted."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines even on a terminal."),
) -> None:
    from capfence_sh.audit_read import follow, last_records, log_segments

    log = resolve_log_path(path)
    emit = _write_line if as_json or not _is_terminal() else _write_summary
    try:
        if follow_:
            for raw in follow(log, backlog=lines):
                emit(raw)
            return
        if not log_segments(log):
            raise _fail(f"audit log error: no audit log at {log}")
        for raw in last_records(log, lines) if lines else []:
            emit(raw)
    except AuditError as exc:
        raise _fail(f"audit log error: {exc}") from None


def _write_summary(raw: bytes) -> None:
    record = json.loads(raw)
    ts = str(record.get("ts", ""))[:19].replace("T", " ")
    if record.get("kind") == "outcome":
        text = (f"{ts}  #{record.get('seq')}  outcome   {_exit_label(record) or '?'} after "
                f"{record.get('wall_seconds')}s, for #{record.get('ref')}"
                + (f": {record['error']}" if record.get("error") else ""))
    else:
        text = (f"{ts}  #{record.get('seq')}  {_decision_label(record):<9} {record.get('actor', '')}  "
                f"{record.get('rule', '')}: {record.get('command', '')}")
    sys.stdout.write(printable(text) + "\n")
    sys.stdout.flush()


# --- stats --------------------------------------------------------------------------------------------------


@audit_app.command("stats", help="Counts by decision, rule, actor and program; the most denied commands; and "
                                 "what observe mode would have blocked (the rollout view).")
def stats_command(
    path: Optional[str] = typer.Argument(None, help=_PATH_HELP, show_default=False),
    since: Optional[str] = typer.Option(None, "--since", help="30m, 1h, 2d, 1w, or an ISO date/time."),
    top: int = typer.Option(10, "--top", min=1, help="How many commands to list."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    from capfence_sh.audit_read import compute_stats, parse_since

    try:
        since_ts = parse_since(since) if since else None
    except ValueError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    log = resolve_log_path(path)
    try:
        stats = compute_stats(log, since_ts).as_dict(top)
    except AuditError as exc:
        raise _fail(f"audit log error: {exc}") from None
    if as_json:
        print(json.dumps({"path": log, **stats}, indent=2, ensure_ascii=False))
        return
    sys.stdout.write(stats_text(log, stats))


def stats_text(log: str, stats: dict[str, Any]) -> str:
    def counts(mapping: dict[str, int]) -> str:
        return ", ".join(f"{k} {n}" for k, n in mapping.items()) or "none"

    decisions = sum(stats["decisions"].values())
    lines = [f"audit log   {log}",
             f"records     {stats['records']} ({decisions} decisions, {stats['outcomes']['total']} outcomes, "
             f"{stats['outcomes']['failed']} of them failed)"
             + (f", {stats['first_ts']} .. {stats['last_ts']}" if stats["records"] else ""),
             f"decisions   {counts(stats['decisions'])}",
             f"by rule     {counts(stats['by_rule'])}",
             f"by actor    {counts(stats['by_actor'])}",
             f"by program  {counts(stats['by_program'])}",
             "most denied commands (enforce mode):"]
    lines += [f"  {item['count']:>6}  {item['command']}" for item in stats["top_denied_commands"]] or ["  none"]
    observe = stats["observe_would_block"]
    lines.append(f"observe mode: {observe['total']} would have been blocked"
                 + (f" ({counts(observe['by_rule'])})" if observe["total"] else ""))
    lines += [f"  {item['count']:>6}  {item['command']}" for item in observe["top_commands"]]
    return "\n".join(printable(line) for line in lines) + "\n"
