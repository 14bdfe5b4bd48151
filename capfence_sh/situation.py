"""The situation a command is proposed in, gathered at the edge: directory, workspace, environment name, actor,
the process environment, capfence's own directories. The pure core receives it as a `Context`."""

from __future__ import annotations

import os
import pwd
from typing import Mapping

from capfence_sh import paths
from capfence_sh.actor import resolve_actor
from capfence_sh.parse.context import Context


def find_workspace(explicit: str | None, env: Mapping[str, str], policy_workspace: str | None, cwd: str,
                   home: str) -> str:
    """--workspace, CAPFENCE_WORKSPACE, the policy's `workspace:`, else the git root above cwd, else cwd.

    The home directory and the root are never a workspace: "inside the workspace" must not mean "anywhere in
    the user's files".
    """
    for candidate in (explicit, env.get("CAPFENCE_WORKSPACE"), policy_workspace):
        if candidate:
            chosen = os.path.abspath(os.path.expanduser(candidate))
            break
    else:
        chosen = _git_root(cwd) or cwd
    chosen = chosen.rstrip("/") or "/"
    home = home.rstrip("/")
    if chosen == "/" or chosen == home or (home.startswith(chosen + "/")):
        return ""
    return chosen


def _git_root(start: str) -> str | None:
    current = start
    for _ in range(64):
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return None


def current_user() -> tuple[str, str]:
    uid = os.getuid()
    try:
        entry = pwd.getpwuid(uid)
        return entry.pw_name, entry.pw_dir
    except KeyError:
        return str(uid), os.environ.get("HOME", "/")


def build_context(*, env: Mapping[str, str], cwd: str | None = None, workspace: str | None = None,
                  environment: str | None = None, actor: str | None = None, policy_environment: str | None = None,
                  policy_workspace: str | None = None, env_complete: bool = True,
                  positional: tuple[str, ...] | None = (), errexit: bool = False,
                  extra_protected: tuple[str, ...] = (), secrets: tuple[str, ...] = (),
                  caller_ppid: int | None = None) -> tuple[Context, str]:
    """A Context for the pure core, and how the actor was determined."""
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = env.get("PWD", "")
    user, passwd_home = current_user()
    home = env.get("HOME") or passwd_home
    actor_name, actor_source = resolve_actor(actor, env, caller_ppid)
    env_name = environment or env.get("CAPFENCE_ENV") or policy_environment or "development"
    digest = _env_digest(env) if env_complete else ""
    ctx = Context(
        cwd=cwd,
        home=home,
        workspace=find_workspace(workspace, env, policy_workspace, cwd, home) if cwd else "",
        user=user,
        environment=env_name,
        actor=actor_name,
        env=env,
        env_complete=env_complete,
        env_digest=digest,
        positional=positional,
        errexit=errexit,
        capfence_paths=tuple(dict.fromkeys(paths.protected_dirs(env) + extra_protected)),
        capfence_secrets=secrets,
    )
    return ctx, actor_source


def _env_digest(env: Mapping[str, str]) -> str:
    import zlib

    crc = 0
    for key in sorted(env):
        crc = zlib.crc32(f"{key}={env[key]}\0".encode("utf-8", "surrogateescape"), crc)
    return f"{crc:08x}-{len(env)}"
