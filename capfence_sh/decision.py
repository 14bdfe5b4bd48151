"""The one result type: what the gate decided about a proposed command, and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from capfence_sh.actions import Action


class Decision(StrEnum):
    ALLOW = "allow"
    REQUIRE_APPROVAL = "require_approval"
    DENY = "deny"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Decision:
        lowered = text.strip().lower().replace("-", "_")
        if lowered in ("block", "reject"):
            return cls.DENY
        if lowered in ("approve", "approval", "ask", "require-approval"):
            return cls.REQUIRE_APPROVAL
        return cls(lowered)


_RANK = {Decision.ALLOW: 0, Decision.REQUIRE_APPROVAL: 1, Decision.DENY: 2}


def most_restrictive(a: Decision, b: Decision) -> Decision:
    return a if a.rank >= b.rank else b


@dataclass(frozen=True, slots=True)
class ActionVerdict:
    """How one action was decided."""

    action: Action
    decision: Decision
    rule: str  # id of the deciding rule, or "default"
    reason: str
    matched: tuple[str, ...] = ()  # every rule that matched, in policy order


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on a whole proposed command: its most restrictive action decides."""

    decision: Decision
    rule: str
    reason: str
    command: str  # the command exactly as proposed
    form: str  # "script" | "argv"
    actions: tuple[ActionVerdict, ...]
    deciding_index: int  # index into actions of the action that decided (-1 when there are none)
    policy_name: str
    policy_sha256: str
    mode: str  # "enforce" | "observe"
    environment: str
    actor: str

    @property
    def authorized(self) -> bool:
        """May the command run? In observe mode everything runs; the decision still says what enforcing would do."""
        return self.decision is Decision.ALLOW or self.mode == "observe"

    @property
    def would_block(self) -> bool:
        return self.decision is not Decision.ALLOW

    @property
    def deciding_action(self) -> ActionVerdict | None:
        return self.actions[self.deciding_index] if self.deciding_index >= 0 else None
