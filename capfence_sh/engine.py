"""Analyse + decide: the pure core every front end shares (exec, check, shims, hooks, replay, the Python API).

Decisions are memoised per (command, context): agents and builds repeat the same commands constantly.
"""

from __future__ import annotations

from collections import OrderedDict

from capfence_sh.actions import Action, Analysis
from capfence_sh.decision import ActionVerdict, Decision, Verdict
from capfence_sh.parse import analyse_argv, analyse_script
from capfence_sh.parse.context import Context
from capfence_sh.policy.model import MatchContext, Policy

MEMO_SIZE = 4096


class Engine:
    def __init__(self, policy: Policy, *, mode: str | None = None) -> None:
        self.policy = policy
        self.mode = mode or policy.mode
        self._memo: OrderedDict[tuple, Verdict] = OrderedDict()

    def decide_script(self, text: str, ctx: Context, *, resource: str = "shell", verb: str = "exec",
                      payload_text: str = "") -> Verdict:
        key = ("s", text, ctx.key(), resource, verb, payload_text)
        cached = self._memo.get(key)
        if cached is not None:
            self._memo.move_to_end(key)
            return cached
        verdict = self.decide_analysis(analyse_script(text, ctx), ctx, resource=resource, verb=verb,
                                       payload_text=payload_text)
        self._remember(key, verdict)
        return verdict

    def decide_argv(self, argv: list[str], ctx: Context) -> Verdict:
        key = ("a", tuple(argv), ctx.key())
        cached = self._memo.get(key)
        if cached is not None:
            self._memo.move_to_end(key)
            return cached
        verdict = self.decide_analysis(analyse_argv(argv, ctx), ctx)
        self._remember(key, verdict)
        return verdict

    def _remember(self, key: tuple, verdict: Verdict) -> None:
        self._memo[key] = verdict
        if len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)

    def decide_analysis(self, analysis: Analysis, ctx: Context, *, resource: str = "shell", verb: str = "exec",
                        payload_text: str = "") -> Verdict:
        mctx = MatchContext(ctx, resource, verb, payload_text)
        actions = analysis.actions
        if not actions and payload_text:
            # An API event with no shell command: the seed's capability + payload rules still apply.
            actions = (Action(program="", written="", argv=(), capabilities=(), text=payload_text),)
        verdicts = tuple(decide_action(self.policy, action, mctx) for action in actions)
        deciding = -1
        for index, item in enumerate(verdicts):
            if deciding < 0:
                deciding = index
                continue
            best = verdicts[deciding]
            # The most restrictive action decides; among equals, one decided by a rule explains more than one
            # that fell through to the default.
            if item.decision.rank > best.decision.rank or (
                    item.decision.rank == best.decision.rank and best.rule == "default" and item.rule != "default"):
                deciding = index
        if deciding < 0:
            decision, rule, reason = Decision.ALLOW, "none", "nothing to run"
        else:
            chosen = verdicts[deciding]
            decision, rule = chosen.decision, chosen.rule
            reason = _explain(chosen)
        return Verdict(decision, rule, reason, analysis.source, analysis.form, verdicts, deciding, self.policy.name,
                       self.policy.sha256, self.mode, ctx.environment, ctx.actor)


def decide_action(policy: Policy, action: Action, mctx: MatchContext) -> ActionVerdict:
    matched = [rule for rule in policy.candidates(action, mctx) if rule.matches(action, mctx)]
    best = None
    for rule in matched:
        if best is None or rule.decision.rank > best.decision.rank:
            best = rule
    if best is None:
        verdict = ActionVerdict(action, policy.default, "default",
                                f"no rule matched; the policy's default is {policy.default.value}", ())
    else:
        verdict = ActionVerdict(action, best.decision, best.id, best.reason, tuple(r.id for r in matched))
    if policy.base is not None:
        # A workspace policy can tighten the policy beneath it, never loosen it.
        below = decide_action(policy.base, action, mctx)
        if below.decision.rank > verdict.decision.rank:
            return below
    return verdict


def _explain(verdict: ActionVerdict) -> str:
    shown = verdict.action.display.replace("\n", " ")
    if len(shown) > 100:
        shown = shown[:97] + "..."
    if verdict.action.note and verdict.action.capabilities[:1] in (("shell.unparsed",), ("shell.dynamic",)):
        shown = f"{shown} ({verdict.action.note})"
    return f"{verdict.reason}: {shown}" if shown else verdict.reason
