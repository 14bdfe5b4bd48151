"""Codex CLI rollouts: `~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl`.

Each line is `{"timestamp", "type", "payload"}` (codex-rs RolloutLine: a RolloutItem tagged `type`, content
`payload`). Commands are in `response_item` payloads:
  - `function_call` named `shell` or `container.exec`: `arguments` is a JSON *string* holding `command` as an argv
    (`["bash", "-lc", "..."]`) and `workdir`;
  - `function_call` named `shell_command`: `command` as a script string, with `workdir`;
  - `function_call` named `exec_command` (unified exec): `cmd` as a script string, with `workdir`;
  - `local_shell_call`: `action` `{"type": "exec", "command": [...], "working_directory": ...}`.
`session_meta` and `turn_context` payloads carry the session's `cwd`, the default for commands without a
`workdir` (a relative `workdir` is relative to it, as Codex resolves it). Rollouts from before the envelope
(2025) hold the response items themselves, one per line; those are read too.

The actor is `codex`, the name capfence gives Codex when it finds it among a command's parents."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator

from capfence_sh.replay.jsonl import parse_json_line, text_field
from capfence_sh.replay.lines import LineSource
from capfence_sh.replay.proposed import (
    MalformedLine,
    ProposedCommand,
    ReadEvent,
    SkippedLine,
    command_from_argv,
    is_argv,
)

ACTOR = "codex"
ENVELOPE_TYPES = frozenset({"session_meta", "response_item", "turn_context", "event_msg", "compacted"})
ITEM_TYPES = frozenset({"function_call", "local_shell_call", "message", "reasoning", "function_call_output",
                        "custom_tool_call", "custom_tool_call_output", "web_search_call"})
SHELL_FUNCTIONS = frozenset({"shell", "container.exec", "shell_command", "exec_command", "local_shell"})


def read_codex(source: LineSource) -> Iterator[ReadEvent]:
    session_cwd = ""
    for line in source:
        record = parse_json_line(source, line)
        if isinstance(record, (SkippedLine, MalformedLine)):
            yield record
            continue
        where = source.where(line.number)
        if not isinstance(record, dict):
            yield SkippedLine(where, "not a JSON object")
            continue
        kind = record.get("type")
        payload = record.get("payload")
        if kind in ENVELOPE_TYPES and isinstance(payload, dict):
            if kind in ("session_meta", "turn_context"):
                session_cwd = text_field(payload, "cwd") or session_cwd
                yield SkippedLine(where, kind)
                continue
            if kind != "response_item":
                yield SkippedLine(where, kind)
                continue
            item = payload
        elif kind in ITEM_TYPES:
            item = record  # a rollout from before the envelope
        else:
            if "cwd" in record and not kind:  # the old header line: {"id", "timestamp", "instructions", ...}
                session_cwd = text_field(record, "cwd") or session_cwd
            yield SkippedLine(where, f"{kind or 'untyped'} record")
            continue
        yield _command_of(item, where, session_cwd, text_field(record, "timestamp"))


def _command_of(item: dict[str, Any], where: str, session_cwd: str, stamp: str) -> ReadEvent:
    item_type = item.get("type")
    if item_type == "local_shell_call":
        action = item.get("action")
        if not isinstance(action, dict) or action.get("type") != "exec":
            return SkippedLine(where, "local_shell_call without an exec action")
        command = action.get("command")
        workdir = action.get("working_directory")
    elif item_type == "function_call" and item.get("name") in SHELL_FUNCTIONS:
        arguments = item.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError as exc:
                return MalformedLine(where, f"{item.get('name')} call arguments are not valid JSON: "
                                            f"{getattr(exc, 'msg', exc)}")
        if not isinstance(arguments, dict):
            return MalformedLine(where, f"{item.get('name')} call arguments are not a JSON object")
        command = arguments.get("command")
        if command is None:
            command = arguments.get("cmd")
        workdir = arguments.get("workdir")
    else:
        return SkippedLine(where, f"{item_type or 'untyped'} item")
    cwd = session_cwd
    if isinstance(workdir, str) and workdir:
        cwd = os.path.join(session_cwd, workdir) if session_cwd else workdir
    fields = dict(source=where, format="codex", cwd=cwd, actor=ACTOR, timestamp=stamp)
    if isinstance(command, str):
        if not command.strip():
            return SkippedLine(where, "empty command")
        return ProposedCommand(text=command, **fields)
    if is_argv(command):
        return command_from_argv(command, **fields)
    return MalformedLine(where, f"{item_type} without a command (a string or a list of strings)")
