"""How `capfence check` explains a decision: rich on a terminal, plain text when piped (or with NO_COLOR the
rich output has no colour). Only renders; the decision was made elsewhere."""

from __future__ import annotations

import os
import sys

from capfence_sh.decision import Decision, Verdict

_LABEL = {Decision.ALLOW: "allow", Decision.DENY: "DENY", Decision.REQUIRE_APPROVAL: "APPROVAL"}
_STYLE = {Decision.ALLOW: "green", Decision.DENY: "bold red", Decision.REQUIRE_APPROVAL: "bold yellow"}


def print_check(verdict: Verdict, gate) -> None:
    if sys.stdout.isatty() and os.environ.get("TERM") != "dumb":
        _print_rich(verdict, gate)
    else:
        sys.stdout.write(plain_check(verdict, gate))


def _targets_text(action) -> str:
    shown = []
    for t in action.targets[:6]:
        flag = "" if t.known else "?"
        flag += " (tree)" if t.recursive else ""
        shown.append(f"{t.access.value}:{t.path}{flag}")
    if len(action.targets) > 6:
        shown.append(f"... {len(action.targets) - 6} more")
    return ", ".join(shown)


def plain_check(verdict: Verdict, gate) -> str:
    from capfence_sh.records import redact

    lines = [
        f"decision  {verdict.decision.value}" + (" (observe mode: it would run)" if verdict.mode == "observe"
                                                  and verdict.would_block else ""),
        f"rule      {verdict.rule}",
        f"reason    {redact(verdict.reason)}",
        f"policy    {verdict.policy_name} ({gate.choice.origin}: {gate.choice.path})"
        + (f" tightened by {gate.choice.workspace_overlay}" if gate.choice.workspace_overlay else ""),
        f"context   cwd={gate.ctx.cwd} workspace={gate.ctx.workspace or '(none)'} "
        f"environment={gate.ctx.environment} actor={gate.ctx.actor}",
        "actions" if verdict.actions else "actions   (none: nothing would run)",
    ]
    for index, item in enumerate(verdict.actions):
        action = item.action
        marker = "   <- decided" if index == verdict.deciding_index and item.decision is not Decision.ALLOW else ""
        lines.append(f"  {index + 1:>2}  {_LABEL[item.decision]:<8} {redact(action.display)}{marker}")
        detail = f"capabilities: {', '.join(action.capabilities) or '-'}   rule: {item.rule}"
        if item.rule != "default" and item.decision is not Decision.ALLOW:
            detail += f" ({item.reason})"
        lines.append(f"        {detail}")
        if action.targets:
            lines.append(f"        targets: {redact(_targets_text(action))}")
        if action.via:
            lines.append(f"        via: {' > '.join(action.via)}")
        if action.note:
            lines.append(f"        note: {redact(action.note)}")
        if len(item.matched) > 1:
            lines.append(f"        also matched: {', '.join(m for m in item.matched if m != item.rule)}")
    return "\n".join(lines) + "\n"


def _print_rich(verdict: Verdict, gate) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from capfence_sh.records import redact

    console = Console()
    title = Text()
    title.append(f" {verdict.decision.value.upper()} ", style=f"reverse {_STYLE[verdict.decision]}")
    title.append(f"  {redact(verdict.reason)}")
    console.print(title)
    if verdict.mode == "observe" and verdict.would_block:
        console.print("[yellow]observe mode:[/] the command would run; enforcing would stop it")
    console.print(f"[dim]rule[/] {verdict.rule}   [dim]policy[/] {verdict.policy_name} "
                  f"[dim]({gate.choice.origin}: {gate.choice.path})[/]")
    console.print(f"[dim]cwd[/] {gate.ctx.cwd}   [dim]workspace[/] {gate.ctx.workspace or '(none)'}   "
                  f"[dim]environment[/] {gate.ctx.environment}   [dim]actor[/] {gate.ctx.actor}")
    if not verdict.actions:
        console.print("nothing would run")
        return
    table = Table(show_lines=False, header_style="bold", expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("decision")
    table.add_column("command", overflow="fold")
    table.add_column("capabilities", overflow="fold")
    table.add_column("targets", overflow="fold")
    table.add_column("rule", overflow="fold")
    for index, item in enumerate(verdict.actions):
        action = item.action
        command = Text(redact(action.display))
        if action.via:
            command.append(f"\nvia {' > '.join(action.via)}", style="dim")
        if action.note:
            command.append(f"\n{redact(action.note)}", style="dim italic")
        rule = Text(item.rule, style="bold" if index == verdict.deciding_index else "")
        table.add_row(str(index + 1), Text(_LABEL[item.decision], style=_STYLE[item.decision]), command,
                      ", ".join(action.capabilities), redact(_targets_text(action)), rule)
    console.print(table)
