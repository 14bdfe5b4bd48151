"""Who is proposing the command: `--actor`, `CAPFENCE_ACTOR`, else the coding agent found among the parent
processes, else "user".

On Linux the parent chain is read from /proc directly: this runs before every gated command, and importing
psutil alone costs about 14 ms here, more than the rest of the decision. Elsewhere psutil does the walk.
"""

from __future__ import annotations

import os
from typing import Mapping

# Process names (or command-line fragments) of coding agents, and the actor name they map to.
AGENTS: tuple[tuple[str, str], ...] = (
    ("claude", "claude-code"), ("@anthropic-ai/claude-code", "claude-code"), ("codex", "codex"),
    ("@openai/codex", "codex"), ("aider", "aider"), ("cursor-agent", "cursor"), ("cursor", "cursor"),
    ("gemini", "gemini-cli"), ("@google/gemini-cli", "gemini-cli"), ("goose", "goose"), ("opencode", "opencode"),
    ("amp", "amp"), ("crush", "crush"), ("qwen", "qwen-code"), ("copilot", "copilot"), ("windsurf", "windsurf"),
    ("cline", "cline"), ("continue", "continue"), ("openhands", "openhands"), ("devin", "devin"),
)
MAX_ANCESTORS = 16


def resolve_actor(explicit: str | None, env: Mapping[str, str], caller_ppid: int | None = None) -> tuple[str, str]:
    """(actor, how it was determined). `caller_ppid`: the parent of the process asking (the decision service
    decides for a client whose parents are not its own)."""
    if explicit:
        return explicit, "--actor"
    if env.get("CAPFENCE_ACTOR"):
        return env["CAPFENCE_ACTOR"], "CAPFENCE_ACTOR"
    found = detect_agent(os.getppid() if caller_ppid is None else caller_ppid)
    if found is not None:
        name, pid, process = found
        return name, f"parent process {pid} ({process})"
    return "user", "default"


def detect_agent(start_pid: int) -> tuple[str, int, str] | None:
    if os.path.isdir("/proc/self"):
        chain = _proc_chain(start_pid)
    else:
        chain = _psutil_chain(start_pid)
    for pid, name, cmdline in chain:
        lowered_name = name.lower()
        words = [w.rsplit("/", 1)[-1].lower() for w in cmdline[:3]]
        for needle, actor in AGENTS:
            if lowered_name == needle or needle in words or any(needle in w and needle.startswith("@") for w in
                                                                [c.lower() for c in cmdline[:3]]):
                return actor, pid, name
    return None


def _proc_chain(pid: int) -> list[tuple[int, str, list[str]]]:
    chain = []
    for _ in range(MAX_ANCESTORS):
        if pid <= 1:
            break
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = [p.decode("utf-8", "replace") for p in handle.read().split(b"\0") if p]
        except OSError:
            break
        # The name is in parentheses and may itself contain spaces or parentheses.
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        chain.append((pid, name, cmdline))
        try:
            pid = int(fields[1])
        except (IndexError, ValueError):
            break
    return chain


def _psutil_chain(pid: int) -> list[tuple[int, str, list[str]]]:
    try:
        import psutil

        process = psutil.Process(pid)
        chain = []
        for _ in range(MAX_ANCESTORS):
            try:
                chain.append((process.pid, process.name(), process.cmdline()))
            except (psutil.AccessDenied, psutil.ZombieProcess):
                chain.append((process.pid, process.name(), []))
            process = process.parent()
            if process is None or process.pid <= 1:
                break
        return chain
    except Exception:  # noqa: BLE001 - actor detection is best effort: a failure means "not detected"
        return []
