"""Deciding recorded commands again, under one policy or two, without running anything.

Each distinct (command, cwd, workspace, environment, actor) is decided once: months of sessions repeat the same
few hundred commands, and a decision costs about a millisecond while a dictionary lookup costs well under a
microsecond. The core Engine keeps its own LRU of 4,096 verdicts, too small for a corpus; the cache here keeps
262,144 slim results (decision, rule, reason), not whole Verdicts with their actions.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from capfence_sh.decision import Decision
from capfence_sh.engine import Engine
from capfence_sh.parse.context import Context
from capfence_sh.policy.model import Policy
from capfence_sh.records import redact
from capfence_sh.replay.proposed import MalformedLine, ProposedCommand, SkippedLine

CACHE_SIZE = 1 << 18
DEFAULT_ENVIRONMENT = "development"
DEFAULT_ACTOR = "replay"


@dataclass(frozen=True, slots=True)
class Situation:
    """What replay knows about the machine the commands ran on, beyond what each record says."""

    home: str
    user: str = ""
    workspace: str = ""  # --workspace; "" to take each record's
    environment: str = ""  # --env; "" for the record's, else the policy's, else "development"
    actor: str = ""  # --actor; "" for the record's, else "replay"
    capfence_paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplayedDecision:
    """What one policy decided about one command (the parts of a Verdict that replay reports), and the context
    it was decided in."""

    decision: Decision
    rule: str
    reason: str  # redacted, as in the audit log
    environment: str
    actor: str
    workspace: str


@dataclass(frozen=True, slots=True)
class ReplayRow:
    command: ProposedCommand
    replayed: ReplayedDecision  # under POLICY, or under --against's policy when comparing two
    original: Decision | None  # the recorded decision, or with --against the first policy's
    original_rule: str
    changed: bool
    compared: ReplayedDecision | None = None  # with --against: the first policy's full result


class PolicyReplayer:
    """One policy deciding recorded commands, each distinct one once."""

    def __init__(self, policy: Policy, situation: Situation) -> None:
        self.policy = policy
        self.engine = Engine(policy, mode="enforce")
        self.situation = situation
        self._cache: dict[tuple, ReplayedDecision] = {}
        self.distinct = 0

    def decide(self, command: ProposedCommand) -> ReplayedDecision:
        key = (command.argv if command.argv is not None else command.text, command.cwd, command.workspace,
               command.environment, command.actor)
        found = self._cache.get(key)
        if found is not None:
            return found
        self.distinct += 1
        result = self._decide(command)
        if len(self._cache) >= CACHE_SIZE:
            del self._cache[next(iter(self._cache))]  # the oldest: sessions are read in time order
        self._cache[key] = result
        return result

    def context_for(self, command: ProposedCommand) -> Context:
        situation = self.situation
        environment = (command.environment or situation.environment or self.policy.environment
                       or DEFAULT_ENVIRONMENT)
        actor = command.actor or situation.actor or DEFAULT_ACTOR
        return Context(cwd=command.cwd, home=situation.home, workspace=self._workspace(command),
                       user=situation.user, environment=environment, actor=actor, env={}, env_complete=False,
                       positional=(), capfence_paths=situation.capfence_paths)

    def _workspace(self, command: ProposedCommand) -> str:
        from capfence_sh.situation import find_workspace

        candidate = (self.situation.workspace or command.workspace or self.policy.workspace or command.cwd)
        if not candidate:
            return ""
        # The gate's rule: the home directory, the root and their ancestors are never a workspace.
        return find_workspace(candidate, {}, None, command.cwd or candidate, self.situation.home)

    def _decide(self, command: ProposedCommand) -> ReplayedDecision:
        ctx = self.context_for(command)
        try:
            if command.argv is not None:
                verdict = self.engine.decide_argv(list(command.argv), ctx)
            else:
                verdict = self.engine.decide_script(command.text, ctx)
            decision, rule, reason = verdict.decision, verdict.rule, verdict.reason
        except Exception as exc:  # noqa: BLE001 - on the decision path an error means deny, never a traceback
            decision, rule = Decision.DENY, "internal-error"
            reason = f"capfence could not analyse this command ({type(exc).__name__}: {exc})"
        return ReplayedDecision(decision, rule, redact(reason), ctx.environment, ctx.actor, ctx.workspace)


@dataclass
class ReplayTotals:
    commands: int = 0
    changed: int = 0
    replayed: Counter = field(default_factory=Counter)  # decision -> count
    original: Counter = field(default_factory=Counter)  # decision -> count (commands with an original)
    transitions: Counter = field(default_factory=Counter)  # (original, replayed) -> count, changed ones only
    rules: Counter = field(default_factory=Counter)  # deciding rule -> count (rules, not the default)
    skipped: int = 0
    skipped_why: Counter = field(default_factory=Counter)
    malformed: int = 0
    inputs: int = 0
    unreadable: int = 0
    ignored_files: int = 0
    distinct: int = 0
    formats: Counter = field(default_factory=Counter)

    def add(self, row: ReplayRow) -> None:
        self.commands += 1
        self.replayed[row.replayed.decision] += 1
        if row.original is not None:
            self.original[row.original] += 1
        if row.changed:
            self.changed += 1
            self.transitions[(row.original, row.replayed.decision)] += 1
        if row.replayed.rule not in ("default", "none"):
            self.rules[row.replayed.rule] += 1


ONLY = ("changed", "deny", "require_approval", "allow", "blocked")


def row_filter(only: str | None) -> Callable[[ReplayRow], bool] | None:
    """Which rows are listed for `--only` (None: the renderer's default)."""
    if only is None:
        return None
    if only == "changed":
        return lambda row: row.changed
    if only == "blocked":
        return lambda row: row.replayed.decision is not Decision.ALLOW
    wanted = Decision.parse(only)
    return lambda row: row.replayed.decision is wanted


def replay_events(events: Iterable[ProposedCommand | SkippedLine | MalformedLine], primary: PolicyReplayer,
                  against: PolicyReplayer | None, totals: ReplayTotals) -> Iterator[ReplayRow | MalformedLine]:
    """Rows for the commands, in input order; malformed lines pass through (to be reported), skipped lines are
    only counted."""
    for event in events:
        if type(event) is ProposedCommand:
            first = primary.decide(event)
            if against is None:
                original, original_rule = event.original, event.original_rule
                row = ReplayRow(event, first, original, original_rule,
                                original is not None and original is not first.decision)
            else:
                second = against.decide(event)
                row = ReplayRow(event, second, first.decision, first.rule, first.decision is not second.decision,
                                first)
            totals.add(row)
            yield row
        elif type(event) is SkippedLine:
            totals.skipped += 1
            totals.skipped_why[event.why] += 1
        else:
            totals.malformed += 1
            yield event


def situation_from_environment(*, home: str | None, workspace: str | None, environment: str | None,
                               actor: str | None, audit_path: str = "") -> Situation:
    """The machine replay runs on stands in for the one the commands ran on: its user and home (or --home), and
    capfence's own directories as the gate would protect them there."""
    from capfence_sh import paths
    from capfence_sh.situation import current_user

    user, passwd_home = current_user()
    env = dict(os.environ)
    if home:
        env["HOME"] = home
    home = env.get("HOME") or passwd_home
    protected = paths.protected_dirs(env) + ((audit_path + "*",) if audit_path else ())
    return Situation(home=os.path.abspath(os.path.expanduser(home)), user=user,
                     workspace=os.path.abspath(os.path.expanduser(workspace)) if workspace else "",
                     environment=environment or "", actor=actor or "",
                     capfence_paths=tuple(dict.fromkeys(protected)))
