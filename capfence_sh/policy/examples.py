"""Rules carry examples (`examples: {blocked: [...], allowed: [...]}`); a policy that contradicts its own examples
is reported before it goes live (`capfence policy validate`, `capfence policy test`)."""

from __future__ import annotations

from typing import NamedTuple

from capfence_sh.parse.context import Context
from capfence_sh.policy.model import Policy

# Examples are decided in a fixed, reproducible situation, not the caller's.
EXAMPLE_HOME = "/home/me"
EXAMPLE_WORKSPACE = "/home/me/project"


class ExampleFailure(NamedTuple):
    rule: str
    expected: str  # "blocked" | "allowed"
    command: str
    got: str
    decided_by: str
    reason: str


def example_context(environment: str = "development") -> Context:
    home = EXAMPLE_HOME
    capfence = (f"{home}/.local/state/capfence", f"{home}/.config/capfence", f"{home}/.local/share/capfence",
                f"{home}/.cache/capfence")
    return Context(cwd=EXAMPLE_WORKSPACE, home=home, workspace=EXAMPLE_WORKSPACE, user="me", environment=environment,
                   actor="example", env={"HOME": home, "PATH": "/usr/local/bin:/usr/bin:/bin", "USER": "me"},
                   env_complete=True, env_digest="example", capfence_paths=capfence)


def check_examples(policy: Policy, ctx: Context | None = None) -> list[ExampleFailure]:
    from capfence_sh.engine import Engine

    ctx = ctx or example_context(policy.environment or "development")
    engine = Engine(policy)
    failures = []
    for rule in policy.rules:
        for expected, commands in rule.examples.items():
            for command in commands:
                verdict = engine.decide_script(command, ctx)
                blocked = verdict.decision.value != "allow"
                if blocked != (expected == "blocked"):
                    failures.append(ExampleFailure(rule.id, expected, command, verdict.decision.value, verdict.rule,
                                                   verdict.reason))
    return failures
