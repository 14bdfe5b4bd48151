"""Where a command would run: the inputs the pure core needs from the outside world, gathered at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True, slots=True)
class Context:
    cwd: str  # absolute directory the command starts in ("" when unknown, e.g. replayed history)
    home: str  # the user's home directory
    workspace: str = ""  # the project the agent works in; "" when there is none
    user: str = ""
    environment: str = "development"  # development | staging | production | any name the policy uses
    actor: str = ""
    # The process environment the command inherits. `env_complete` says whether a variable missing from it is
    # really unset (true for `exec` and shims, which run the command with exactly this environment) or merely
    # unknown (hooks and replay, where the shell that runs the command may have more).
    env: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    env_complete: bool = False
    env_digest: str = ""  # identifies `env` for memoisation (compare/hash use this, not the mapping)
    positional: tuple[str, ...] | None = ()  # $1..$N of the top-level script; None when unknown
    errexit: bool = False  # the script runs under `set -e` (bash -e -c)
    capfence_paths: tuple[str, ...] = ()  # capfence's own state, config and data directories (and audit log)
    capfence_secrets: tuple[str, ...] = ()  # files no agent may read: the audit HMAC key

    def key(self) -> tuple:
        return (self.cwd, self.home, self.workspace, self.user, self.environment, self.actor, self.env_complete,
                self.env_digest, self.positional, self.errexit, self.capfence_paths, self.capfence_secrets)
