"""Which policy applies: `--policy PATH|NAME`, else `CAPFENCE_POLICY`, else `.capfence/policy.yaml` in the workspace
(which can only tighten what is beneath it), else the user's config, else the bundled `default` pack."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from capfence_sh import paths
from capfence_sh.errors import PolicyError

WORKSPACE_POLICY = os.path.join(".capfence", "policy.yaml")


def packs_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    package = os.path.dirname(here)
    installed = os.path.join(package, "policies")  # inside the wheel
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(package), "policies")  # a source checkout


def bundled_packs() -> list[str]:
    directory = packs_dir()
    try:
        return sorted(name[:-5] for name in os.listdir(directory) if name.endswith(".yaml"))
    except OSError:
        return []


def resolve_pack(name_or_path: str, relative_to: str = "") -> str:
    """A bundled pack name (`default`, `strict`) or a path to a policy file."""
    looks_like_path = "/" in name_or_path or name_or_path.endswith((".yaml", ".yml"))
    if looks_like_path:
        path = name_or_path
        if relative_to and not os.path.isabs(path):
            candidate = os.path.join(relative_to, path)
            if os.path.exists(candidate):
                return candidate
        return os.path.expanduser(path)
    candidate = os.path.join(packs_dir(), name_or_path + ".yaml")
    if os.path.isfile(candidate):
        return candidate
    if os.path.isfile(name_or_path):
        return name_or_path
    raise PolicyError(f"no policy file or bundled pack named {name_or_path!r} "
                      f"(bundled: {', '.join(bundled_packs()) or 'none found'})")


@dataclass(frozen=True, slots=True)
class PolicyChoice:
    path: str
    origin: str  # "--policy", "CAPFENCE_POLICY", "workspace", "user config", "bundled default"
    workspace_overlay: str | None = None  # a workspace policy that tightens `path`


def choose_policy(explicit: str | None, env: Mapping[str, str], workspace: str, cwd: str) -> PolicyChoice:
    if explicit:
        return PolicyChoice(resolve_pack(explicit, cwd), "--policy")
    from_env = env.get("CAPFENCE_POLICY")
    if from_env:
        return PolicyChoice(resolve_pack(from_env, cwd), "CAPFENCE_POLICY")
    overlay = None
    for root in dict.fromkeys(r for r in (workspace, cwd) if r):
        candidate = os.path.join(root, WORKSPACE_POLICY)
        if os.path.isfile(candidate):
            overlay = candidate
            break
    user = paths.user_policy_path(env)
    if os.path.isfile(user):
        return PolicyChoice(user, "user config", overlay)
    return PolicyChoice(resolve_pack("default"), "bundled default", overlay)
