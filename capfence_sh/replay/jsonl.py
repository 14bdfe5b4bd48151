"""JSON Lines of proposed commands: `{"command": "..."}` per line, the simplest corpus to build by hand or export
from another tool.

Fields: `command` (a script, possibly of several lines, or an argv list), and optionally `cwd`, `actor`, `env` or
`environment` (the environment name), `decision` (what was decided then: the "Original" column), `rule`,
`timestamp` or `ts`."""

from __future__ import annotations

import json
from typing import Any, Iterator

from capfence_sh.decision import Decision
from capfence_sh.replay.lines import Line, LineSource
from capfence_sh.replay.proposed import MalformedLine, ProposedCommand, ReadEvent, SkippedLine, command_from_argv, is_argv


_decode = json.JSONDecoder().decode
_DECISIONS = {d.value: d for d in Decision}


def parse_json_line(source: LineSource, line: Line) -> Any:
    """The line's JSON value, or a SkippedLine / MalformedLine saying why there is none."""
    if not line.raw.strip():
        return SkippedLine(source.where(line.number), "blank line")
    try:
        return _decode(line.raw.decode("utf-8"))
    except UnicodeDecodeError:
        problem = "not UTF-8 text"
    except ValueError as exc:
        problem = f"not valid JSON: {getattr(exc, 'msg', exc)} (column {getattr(exc, 'colno', '?')})"
    if not line.terminated:
        # The last line of a file still being written (an agent's live session): not damage.
        return SkippedLine(source.where(line.number), "incomplete final line")
    return MalformedLine(source.where(line.number), problem)


def text_field(record: dict[str, Any], *names: str) -> str:
    for name in names:
        value = record.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def read_jsonl(source: LineSource) -> Iterator[ReadEvent]:
    for line in source:
        record = parse_json_line(source, line)
        if isinstance(record, (SkippedLine, MalformedLine)):
            yield record
            continue
        where = source.where(line.number)
        if not isinstance(record, dict):
            yield SkippedLine(where, "not a JSON object")
            continue
        command = record.get("command")
        if command is None:
            yield SkippedLine(where, "no command")
            continue
        original = None
        decision = record.get("decision")
        if decision is not None:
            original = parse_decision(decision)
            if original is None:
                yield MalformedLine(where, f"decision {decision!r} is not allow, deny or require_approval")
                continue
        cwd = record.get("cwd", "")
        actor = record.get("actor", "")
        environment = record.get("env") or record.get("environment") or ""
        stamp = record.get("timestamp") or record.get("ts") or ""
        rule = record.get("rule", "")
        cwd = cwd if type(cwd) is str else ""
        environment = environment if type(environment) is str else ""
        actor = actor if type(actor) is str else ""
        rule = rule if type(rule) is str else ""
        if type(command) is str:
            if command.strip():
                yield ProposedCommand(command, where, "jsonl", None, cwd, "", environment, actor, original, rule,
                                      str(stamp))
            else:
                yield SkippedLine(where, "empty command")
        elif is_argv(command):
            yield command_from_argv(command, source=where, format="jsonl", cwd=cwd, environment=environment,
                                    actor=actor, original=original, original_rule=rule, timestamp=str(stamp))
        else:
            yield MalformedLine(where, "command is neither a string nor a list of strings")


def parse_decision(value: object) -> Decision | None:
    """A recorded decision in any of the spellings Decision.parse accepts; None when it is none of them."""
    if type(value) is not str:
        return None
    found = _DECISIONS.get(value)
    if found is not None:
        return found
    try:
        return Decision.parse(value)
    except ValueError:
        return None
