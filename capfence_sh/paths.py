"""Where capfence keeps things (XDG), in one place. Every function reads the environment it is given, so tests
and hooks can point everything at a scratch HOME."""

from __future__ import annotations

import os
from _collections_abc import Mapping  # what collections.abc re-exports; already loaded by os, unlike typing


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def state_dir(env: Mapping[str, str] = os.environ) -> str:
    base = env.get("XDG_STATE_HOME") or os.path.join(_home(env), ".local", "state")
    return os.path.join(base, "capfence")


def config_dir(env: Mapping[str, str] = os.environ) -> str:
    base = env.get("XDG_CONFIG_HOME") or os.path.join(_home(env), ".config")
    return os.path.join(base, "capfence")


def data_dir(env: Mapping[str, str] = os.environ) -> str:
    base = env.get("XDG_DATA_HOME") or os.path.join(_home(env), ".local", "share")
    return os.path.join(base, "capfence")


def cache_dir(env: Mapping[str, str] = os.environ) -> str:
    if env.get("CAPFENCE_CACHE_DIR"):
        return env["CAPFENCE_CACHE_DIR"]
    base = env.get("XDG_CACHE_HOME") or os.path.join(_home(env), ".cache")
    return os.path.join(base, "capfence")


def default_audit_path(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(state_dir(env), "audit.jsonl")


def user_policy_path(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(config_dir(env), "policy.yaml")


def shims_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(data_dir(env), "shims")


def protected_dirs(env: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """capfence's own files: an agent writing here could loosen its own gate."""
    dirs = [state_dir(env), config_dir(env), data_dir(env), cache_dir(env)]
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and runtime.startswith("/"):
        dirs.append(os.path.join(runtime, "capfence"))  # the decision service's socket
    for variable in ("CAPFENCE_POLICY", "CAPFENCE_AUDIT_KEY_FILE"):
        value = env.get(variable)
        if value and value.startswith("/"):
            dirs.append(value)
    audit = env.get("CAPFENCE_AUDIT")
    if audit and audit.startswith("/"):
        dirs.append(audit + "*")  # the log, its rotated segments and its quarantine file
    return tuple(dict.fromkeys(dirs))
