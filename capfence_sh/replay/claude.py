"""Claude Code session transcripts: `~/.claude/projects/<project>/<session>.jsonl`.

Each line is a JSON record with a `type`. Commands are in `assistant` records: `message.content` is a list of
blocks, and a `tool_use` block named `Bash` carries the command in `input.command` (a script, often of several
lines). The record itself carries `cwd` and `timestamp`. Everything else (user turns, tool results, summaries,
file-history snapshots, other tools) is skipped.

The actor is `claude-code`, the name capfence gives Claude Code when it finds it among a command's parents."""

from __future__ import annotations

from typing import Iterator

from capfence_sh.replay.jsonl import parse_json_line, text_field
from capfence_sh.replay.lines import LineSource
from capfence_sh.replay.proposed import MalformedLine, ProposedCommand, ReadEvent, SkippedLine

ACTOR = "claude-code"
RECORD_TYPES = frozenset({"user", "assistant", "system", "summary", "file-history-snapshot", "queue-operation"})
SHELL_TOOLS = frozenset({"Bash"})


def read_claude(source: LineSource) -> Iterator[ReadEvent]:
    for line in source:
        record = parse_json_line(source, line)
        if isinstance(record, (SkippedLine, MalformedLine)):
            yield record
            continue
        where = source.where(line.number)
        if not isinstance(record, dict):
            yield SkippedLine(where, "not a JSON object")
            continue
        message = record.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if record.get("type") != "assistant" or not isinstance(content, list):
            yield SkippedLine(where, f"{record.get('type') or 'untyped'} record")
            continue
        found = 0
        for block in content:
            if not (isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") in SHELL_TOOLS):
                continue
            tool_input = block.get("input")
            command = tool_input.get("command") if isinstance(tool_input, dict) else None
            if not isinstance(command, str):
                yield MalformedLine(where, f"{block.get('name')} tool_use without a command string")
                found += 1
                continue
            if not command.strip():
                continue
            found += 1
            yield ProposedCommand(text=command, source=where, format="claude", cwd=text_field(record, "cwd"),
                                  actor=ACTOR, timestamp=text_field(record, "timestamp"))
        if not found:
            yield SkippedLine(where, "no Bash tool use")
