"""Exit codes and the exceptions the core raises; the edges turn them into one line and a code."""

from __future__ import annotations

# Exit codes, documented in the README. A spawned child's own status is passed through unchanged.
EXIT_OK = 0
EXIT_CHANGED = 1  # replay --fail-on-change, audit verify failures
EXIT_USAGE = 2
EXIT_APPROVAL = 3  # `capfence check`: the command would need a human's approval
EXIT_GATE_ERROR = 125  # the gate itself failed (bad policy, unwritable audit, internal error): nothing ran
EXIT_DENIED = 126  # denied by policy (or approval required/refused under `exec`): nothing ran
EXIT_NOT_FOUND = 127  # the program to run does not exist


class CapfenceError(Exception):
    """Base of every error the core raises on purpose."""


class PolicyError(CapfenceError):
    """A policy file is unreadable or invalid; the message names file, line and key."""


class ParseLimitExceeded(CapfenceError):
    """A command is too large or too deeply nested to analyse within the gate's bounds."""


class AuditError(CapfenceError):
    """The audit log cannot be written or read."""


class GateError(CapfenceError):
    """Any other failure on the decision path; the command does not run."""
