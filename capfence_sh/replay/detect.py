"""Which format an input is in, from its first lines (and, for history files, its name).

JSON inputs are told apart by the shape of their records: capfence's audit records are chained (`seq`, `hash`,
`prev`); Codex rollout lines are `{"timestamp", "type", "payload"}` envelopes; Claude Code transcript records have
a `type` such as `assistant` or `summary` and session fields (`sessionId`, `uuid`, ...); anything with a `command`
is plain JSON Lines. Text inputs: `: <epoch>:<n>;` lines are zsh's extended history, `#<epoch>` lines bash's
timestamps; the rest is plain text, one command per line."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from capfence_sh.audit import is_record
from capfence_sh.replay.claude import RECORD_TYPES as CLAUDE_TYPES
from capfence_sh.replay.codex import ENVELOPE_TYPES as CODEX_TYPES
from capfence_sh.replay.codex import ITEM_TYPES as CODEX_ITEM_TYPES

FORMATS = ("audit", "jsonl", "text", "bash-history", "zsh-history", "claude", "codex")
HEAD_LINES = 32
HEAD_BYTES = 64 << 10

_ZSH_LINE = re.compile(rb"^: *\d+:\d+;")
_BASH_STAMP = re.compile(rb"^#\d{9,11}\s*$")
_CLAUDE_FIELDS = ("sessionId", "uuid", "leafUuid", "messageId", "parentUuid")


@dataclass(frozen=True, slots=True)
class Detected:
    format: str | None  # None: binary, or nothing to go on
    certain: bool  # told by content or name, not by falling back to plain text / unspecific JSON
    why: str = ""


def detect_format(name: str, head: list[bytes]) -> Detected:
    if any(b"\0" in raw for raw in head):
        return Detected(None, False, "binary file")
    lines = [raw.strip() for raw in head if raw.strip()]
    json_objects = 0
    for raw in lines:
        if not raw.startswith(b"{"):
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(value, dict):
            continue
        json_objects += 1
        found = _json_format(value)
        if found:
            return Detected(found, True)
    if json_objects and lines[0].startswith(b"{"):
        return Detected("jsonl", False, "JSON without commands")
    base = os.path.basename(name).lower()
    if any(_ZSH_LINE.match(raw) for raw in lines) or base in (".zsh_history", "zsh_history", ".zhistory",
                                                              ".histfile"):
        return Detected("zsh-history", True)
    if any(_BASH_STAMP.match(raw) for raw in lines) or base.endswith("bash_history"):
        return Detected("bash-history", True)
    if "history" in base or base.endswith((".commands", ".cmds")):
        return Detected("text", True)
    return Detected("text", False, "plain text")


def _json_format(value: dict) -> str | None:
    if is_record(value):
        return "audit"
    kind = value.get("type")
    if kind in CODEX_TYPES and "payload" in value:
        return "codex"
    if kind in CLAUDE_TYPES and any(field in value for field in _CLAUDE_FIELDS):
        return "claude"
    if kind in CODEX_ITEM_TYPES and ("call_id" in value or "role" in value or "action" in value):
        return "codex"  # a rollout from before the envelope
    if "command" in value:
        return "jsonl"
    return None
