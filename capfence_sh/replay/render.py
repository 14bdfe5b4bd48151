"""How replay shows its results: JSON Lines (`--json`), a rich summary on a terminal, plain text when piped (and
the seed's four-line shape when a single command was replayed). Only renders; the decisions were made in
engine.py."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Callable, TextIO

from capfence_sh.decision import Decision
from capfence_sh.records import redact
from capfence_sh.replay.engine import ReplayRow, ReplayTotals

_encode = json.JSONEncoder(ensure_ascii=False).encode
RICH_ROWS = 50  # rows of the changed table on a terminal; --json lists everything
PLAIN_COMMAND = 160  # characters of a command in a plain listing line
_ORDER = (Decision.ALLOW, Decision.REQUIRE_APPROVAL, Decision.DENY)
_STYLE = {Decision.ALLOW: "green", Decision.DENY: "bold red", Decision.REQUIRE_APPROVAL: "bold yellow"}


@dataclass(frozen=True, slots=True)
class PolicyLabel:
    name: str
    origin: str
    path: str

    def __str__(self) -> str:
        return f"{self.name} ({self.origin}: {self.path})"


@dataclass(frozen=True, slots=True)
class ReplayHeader:
    policy: PolicyLabel
    against: PolicyLabel | None = None


def is_terminal(stream: TextIO) -> bool:
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def printable_command(text: str, limit: int | None = None) -> str:
    from capfence_sh.audit_cli import printable

    shown = printable(redacted(text))
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    return shown


def recorded_capability(row: ReplayRow) -> str:
    """The seed's event capability of the record: resource.action.environment."""
    return f"shell.exec.{row.replayed.environment}"


def decision_label(decision: Decision | None) -> str:
    return decision.value if decision is not None else "-"


_SHOWN_CACHE = 1 << 16
_shown: dict[str, str] = {}


def redacted(text: str) -> str:
    """redact(), remembered: a corpus repeats the same commands, and the regular expressions cost more than the
    rest of a row's output."""
    found = _shown.get(text)
    if found is None:
        if len(_shown) >= _SHOWN_CACHE:
            _shown.clear()
        found = _shown[text] = redact(text)
    return found


def row_data(row: ReplayRow, against: bool) -> dict:
    command = row.command
    data = {
        "command": redacted(command.text),
        "source": command.source,
        "format": command.format,
        "form": "argv" if command.argv is not None else "script",
        "cwd": command.cwd,
        "workspace": row.replayed.workspace,
        "environment": row.replayed.environment,
        "actor": row.replayed.actor,
        "timestamp": command.timestamp or None,
        "decision": row.replayed.decision.value,
        "rule": row.replayed.rule,
        "reason": row.replayed.reason,
        "original": row.original.value if row.original is not None else None,
        "original_rule": row.original_rule or None,
        "changed": row.changed,
    }
    if command.argv is not None:
        data["argv"] = [redact(a) for a in command.argv]
    if against:
        data["recorded"] = command.original.value if command.original is not None else None
        if row.compared is not None:
            data["original_reason"] = row.compared.reason
    return data


class JsonRenderer:
    """One JSON object per listed command (every command unless --only narrows it), nothing else on stdout."""

    def __init__(self, header: ReplayHeader, out: TextIO, listed: Callable[[ReplayRow], bool] | None) -> None:
        self.out = out
        self.listed = listed
        self.against = header.against is not None

    def row(self, row: ReplayRow) -> None:
        if self.listed is None or self.listed(row):
            self.out.write(_encode(row_data(row, self.against)) + "\n")

    def finish(self, totals: ReplayTotals) -> None:
        self.out.flush()


class PlainRenderer:
    """Listed rows as they come (changed ones unless --only says otherwise), then a summary. A single replayed
    command is shown in the seed's shape instead."""

    def __init__(self, header: ReplayHeader, out: TextIO, listed: Callable[[ReplayRow], bool] | None) -> None:
        self.header = header
        self.out = out
        self.listed = listed or (lambda row: row.changed)
        self.first: ReplayRow | None = None
        self.count = 0
        self.shown = 0

    def row(self, row: ReplayRow) -> None:
        self.count += 1
        if self.count == 1:
            self.first = row  # held back: if it stays the only one, the seed's shape shows it
            return
        if self.first is not None:
            self._list(self.first)
            self.first = None
        self._list(row)

    def _list(self, row: ReplayRow) -> None:
        if not self.listed(row):
            return
        if not self.shown:
            self.out.write("source  original -> replayed  rule  command\n")
        self.shown += 1
        self.out.write(f"{row.command.source}  {decision_label(row.original)} -> {row.replayed.decision.value}  "
                       f"{row.replayed.rule}  {printable_command(row.command.text, PLAIN_COMMAND)}\n")

    def finish(self, totals: ReplayTotals) -> None:
        if totals.commands == 1 and self.first is not None:
            row = self.first
            self.out.write(f"Recorded: {recorded_capability(row)}\n"
                           f"Original: {decision_label(row.original).upper()}\n"
                           f"Replayed: {row.replayed.decision.value.upper()}\n"
                           f"Changed:  {'true' if row.changed else 'false'}\n"
                           f"Rule:     {row.replayed.rule} ({row.replayed.reason})\n")
            return
        if self.first is not None:
            self._list(self.first)
        if self.shown:
            self.out.write("\n")
        self.out.write(summary_text(self.header, totals))
        self.out.flush()


def _counts(counter, keys=_ORDER) -> str:
    parts = [f"{k.value if isinstance(k, Decision) else k} {counter[k]:,}" for k in keys if counter.get(k)]
    return ", ".join(parts) or "none"


def _transitions(totals: ReplayTotals) -> str:
    return ", ".join(f"{decision_label(a)} -> {decision_label(b)} {n:,}"
                     for (a, b), n in totals.transitions.most_common())


def summary_lines(header: ReplayHeader, totals: ReplayTotals) -> list[tuple[str, str]]:
    rows = [("replayed", f"{totals.commands:,} command{'s' if totals.commands != 1 else ''} "
                         f"({totals.distinct:,} distinct) from {totals.inputs:,} input"
                         f"{'s' if totals.inputs != 1 else ''}"
                         + (f" ({', '.join(f'{k} {n}' for k, n in sorted(totals.formats.items()))})"
                            if totals.formats else ""))]
    if header.against is None:
        rows.append(("policy", str(header.policy)))
    else:
        rows.append(("original", f"policy {header.policy}"))
        rows.append(("replayed", f"policy {header.against}"))
    rows.append(("decisions", _counts(totals.replayed)))
    if header.against is None:
        with_original = sum(totals.original.values())
        rows.append(("recorded", f"{_counts(totals.original)} ({with_original:,} of {totals.commands:,} commands "
                                 f"carry a recorded decision)" if with_original else
                     "no recorded decisions in the input: nothing to compare"))
    rows.append(("changed", f"{totals.changed:,}" + (f": {_transitions(totals)}" if totals.changed else "")))
    if totals.rules:
        rows.append(("top rules", ", ".join(f"{rule} {n:,}" for rule, n in totals.rules.most_common(8))))
    if totals.skipped:
        why = ", ".join(f"{w} {n:,}" for w, n in totals.skipped_why.most_common(4))
        rows.append(("skipped", (f"{totals.skipped:,} lines that are not commands" if totals.skipped != 1
                                 else "1 line that is not a command") + f" ({why})"))
    if totals.ignored_files:
        rows.append(("ignored", f"{totals.ignored_files:,} file{'s' if totals.ignored_files != 1 else ''} in "
                                f"directories whose format is not recognised"))
    problems = []
    if totals.malformed:
        problems.append(f"{totals.malformed:,} malformed line{'s' if totals.malformed != 1 else ''}")
    if totals.unreadable:
        problems.append(f"{totals.unreadable:,} unreadable input{'s' if totals.unreadable != 1 else ''}")
    if problems:
        rows.append(("problems", ", ".join(problems) + " (reported on stderr)"))
    return rows


def summary_text(header: ReplayHeader, totals: ReplayTotals) -> str:
    return "".join(f"{label:<10} {value}\n" for label, value in summary_lines(header, totals))


class RichRenderer:
    """A summary for a terminal: totals by decision, the changed (or --only) rows, the rules that fired."""

    def __init__(self, header: ReplayHeader, console, listed: Callable[[ReplayRow], bool] | None) -> None:
        self.header = header
        self.console = console
        self.only = listed is not None
        self.listed = listed or (lambda row: row.changed)
        self.rows: list[ReplayRow] = []
        self.more = 0

    def row(self, row: ReplayRow) -> None:
        if self.listed(row):
            if len(self.rows) < RICH_ROWS:
                self.rows.append(row)
            else:
                self.more += 1

    def finish(self, totals: ReplayTotals) -> None:
        from rich.markup import escape
        from rich.table import Table
        from rich.text import Text

        console = self.console
        against = self.header.against is not None
        console.print(Text(f"replay: {totals.commands:,} commands ({totals.distinct:,} distinct) from "
                           f"{totals.inputs:,} input{'s' if totals.inputs != 1 else ''}", style="bold"))
        if against:
            console.print(f"[dim]original[/] {escape(str(self.header.policy))}")
            console.print(f"[dim]replayed[/] {escape(str(self.header.against))}")
        else:
            console.print(f"[dim]policy[/] {escape(str(self.header.policy))}")
        totals_table = Table(header_style="bold", expand=False, box=None, padding=(0, 2))
        totals_table.add_column("decision")
        totals_table.add_column("original" if not against else "first policy", justify="right")
        totals_table.add_column("replayed", justify="right")
        originals = totals.original  # with --against, the first policy's decisions
        for decision in _ORDER:
            totals_table.add_row(Text(decision.value, style=_STYLE[decision]),
                                 f"{originals.get(decision, 0):,}" if originals else "-",
                                 f"{totals.replayed.get(decision, 0):,}")
        console.print(totals_table)
        changed = Text(f"changed: {totals.changed:,}", style="bold red" if totals.changed else "bold green")
        if totals.changed:
            changed.append(f"  ({_transitions(totals)})", style="")
        console.print(changed)
        if self.rows:
            title = "changed decisions" if not self.only else "listed commands"
            table = Table(title=title, title_justify="left", header_style="bold", expand=False)
            table.add_column("Recorded", overflow="fold")
            table.add_column("Original")
            table.add_column("Replayed")
            table.add_column("Rule", overflow="fold")
            for row in self.rows:
                recorded = Text(printable_command(row.command.text, 300))
                recorded.append(f"\n{row.command.source}", style="dim")
                table.add_row(recorded,
                              Text(decision_label(row.original),
                                   style=_STYLE[row.original] if row.original is not None else "dim"),
                              Text(row.replayed.decision.value, style=_STYLE[row.replayed.decision]),
                              row.replayed.rule)
            console.print(table)
            if self.more:
                console.print(f"[dim]... and {self.more:,} more (use --json for all)[/]")
        if totals.rules:
            rules = Table(title="rules that fired", title_justify="left", header_style="bold", expand=False)
            rules.add_column("rule")
            rules.add_column("commands", justify="right")
            for rule, count in totals.rules.most_common(10):
                rules.add_row(rule, f"{count:,}")
            console.print(rules)
        for label, value in summary_lines(self.header, totals):
            if label in ("skipped", "ignored", "problems"):
                console.print(f"[dim]{label}[/] {escape(value)}")


def make_renderer(header: ReplayHeader, *, as_json: bool, listed, out: TextIO = sys.stdout):
    if as_json:
        return JsonRenderer(header, out, listed)
    if is_terminal(out):
        from rich.console import Console

        return RichRenderer(header, Console(file=out), listed)
    return PlainRenderer(header, out, listed)
