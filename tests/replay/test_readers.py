"""Each reader on fixture files written from the format's public description: the exact commands it yields (with
multi-line scripts, unicode and argv lists), where each starts, what the record says about it, and which lines
are skipped or malformed."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from capfence_sh.decision import Decision
from capfence_sh.replay.zsh_history import unmetafy
from tests.replay.helpers import CLAUDE_SESSION, CODEX_ROLLOUT, FORMATS, line_of, read_events


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_jsonl_commands_argv_multiline_and_bad_lines():
    fmt, commands, skipped, malformed = read_events(FORMATS / "commands.jsonl")
    assert fmt == "jsonl"
    by_line = {line_of(c.source): c for c in commands}
    assert sorted(by_line) == [1, 2, 5, 7, 10]
    first = by_line[1]
    assert (first.text, first.cwd, first.actor, first.environment, first.original, first.timestamp) == (
        "git status", "/home/dev/project", "aider", "staging", Decision.ALLOW, "2025-09-14T10:00:00Z")
    # `bash -lc SCRIPT` is unwrapped into the script it runs: a heredoc, several lines, unicode.
    assert by_line[2].argv is None
    assert by_line[2].text == "cat > notes.md <<'EOF'\n# Notes ✓\nprémière ligne, 日本語\nEOF\nwc -l notes.md"
    # Any other argv list stays an argv (decided without a shell), shown shell-quoted.
    assert by_line[5].argv == ("git", "log", "--oneline", "-5")
    assert by_line[5].text == "git log --oneline -5" and by_line[5].environment == "production"
    assert by_line[7].original is Decision.REQUIRE_APPROVAL, "'approve' is read as require_approval"
    assert by_line[10].text == "pytest -q \\\n  tests/unit" and by_line[10].cwd == "/home/dev/project/api"
    assert {line_of(s.source): s.why for s in skipped} == {3: "no command", 4: "blank line"}
    problems = {line_of(m.source): m.problem for m in malformed}
    assert sorted(problems) == [6, 8, 9]
    assert problems[6].startswith("not valid JSON")
    assert "neither a string nor a list" in problems[8]
    assert "'maybe'" in problems[9]


def test_text_one_command_per_line_with_continuations_and_comments():
    fmt, commands, skipped, malformed = read_events(FORMATS / "commands.txt")
    assert fmt == "text" and not malformed
    assert [(line_of(c.source), c.text) for c in commands] == [
        (2, "git status"),
        (4, "ls -la \\\n  src/ \\\n  tests/"),
        (7, "echo 'héllo wörld ✓ 日本語'"),
        (8, "make build && \\\n  make test"),
        (11, "git push origin main"),
        (12, "echo escaped-backslash\\\\"),  # an even number of backslashes does not continue the line
        (13, "git log --oneline -3"),
    ]
    assert sorted(s.why for s in skipped) == ["blank line", "comment", "comment"]


def test_bash_history_with_timestamps_keeps_multiline_entries():
    fmt, commands, skipped, malformed = read_events(FORMATS / "timed.bash_history")
    assert fmt == "bash-history" and not malformed
    assert [(line_of(c.source), c.text, c.timestamp) for c in commands] == [
        (2, "git status", _iso(1726300000)),
        (4, "cat > notes.txt <<'EOF'\npremière ligne ✓\nEOF", _iso(1726300060)),
        (8, "git push -u origin feature/login", _iso(1726300120)),
        (13, "echo 'fin ✓'", _iso(1726300240)),
    ]
    assert [s.why for s in skipped].count("timestamp") == 5
    assert [s.why for s in skipped].count("comment") == 1


def test_bash_history_without_timestamps():
    fmt, commands, skipped, _ = read_events(FORMATS / "plain.bash_history")
    assert fmt == "bash-history"
    assert [(line_of(c.source), c.text) for c in commands] == [
        (1, "cd ~/project"), (2, "git pull"), (4, "git push origin main"), (5, "echo 'ça marche ✓'")]
    assert [s.why for s in skipped] == ["blank line"]


def test_zsh_extended_history_with_continued_entries():
    fmt, commands, skipped, malformed = read_events(FORMATS / "zsh_history")
    assert fmt == "zsh-history" and not malformed
    assert [(line_of(c.source), c.text, c.timestamp) for c in commands] == [
        (1, "git status", _iso(1726300000)),
        (2, 'for f in *.py; do\n  python -m py_compile "$f"\ndone', _iso(1726300010)),
        (5, "echo 'héllo ✓'", _iso(1726300020)),
        (7, "git push origin main", _iso(1726300030)),
        (8, "ls -la", ""),  # a line without the extended prefix is a command too
    ]
    assert [s.why for s in skipped] == ["comment"]


def _metafy(data: bytes) -> bytes:
    """What zsh does to its history file: meta bytes are written as 0x83 then the byte xor 0x20."""
    out = bytearray()
    for byte in data:
        if 0x83 <= byte <= 0x9D or byte == 0xA0:
            out += bytes((0x83, byte ^ 0x20))
        else:
            out.append(byte)
    return bytes(out)


def test_zsh_history_as_zsh_writes_it_is_unmetafied(tmp_path: Path):
    text = "echo 'héllo ✓ 日本語 ャ'"
    metafied = _metafy(text.encode())
    assert metafied != text.encode(), "the fixture must exercise metafication"
    assert unmetafy(metafied) == text.encode()
    history = tmp_path / ".zsh_history"
    history.write_bytes(b": 1726300000:0;" + metafied + b"\n: 1726300001:0;ls\n")
    fmt, commands, _, _ = read_events(history)
    assert fmt == "zsh-history"
    assert [c.text for c in commands] == [text, "ls"]
    # A history written as plain UTF-8 by another tool (0x83 is then an ordinary continuation byte) reads too.
    history.write_bytes(b": 1726300000:0;" + text.encode() + b"\n")
    assert [c.text for c in read_events(history)[1]] == [text]


def test_claude_code_transcript():
    fmt, commands, skipped, malformed = read_events(CLAUDE_SESSION)
    assert fmt == "claude"
    assert [(line_of(c.source), c.text, c.cwd) for c in commands] == [
        (3, "git status", "/home/dev/project"),
        (6, "cat > CHANGELOG.md <<'EOF'\n## 1.2.0\n- Connexion réparée ✓ (ログイン)\nEOF\ngit add CHANGELOG.md",
         "/home/dev/project"),
        (7, "git push origin main", "/home/dev/project"),
        (9, "npm test -- --watch=false", "/home/dev/project/web"),  # two Bash tool uses in one message
        (9, "git push -u origin feature/login", "/home/dev/project/web"),
    ]
    assert {c.actor for c in commands} == {"claude-code"}
    assert commands[0].timestamp == "2025-09-14T10:00:05.000Z"
    assert [line_of(m.source) for m in malformed] == [8]
    assert sorted(line_of(s.source) for s in skipped) == [1, 2, 4, 5, 10, 11], "summary, user turns, Read, ..."


def test_codex_rollout():
    fmt, commands, skipped, malformed = read_events(CODEX_ROLLOUT)
    assert fmt == "codex"
    assert [(line_of(c.source), c.text, c.argv, c.cwd) for c in commands] == [
        (5, "git status", None, "/home/dev/api"),  # shell: ["bash", "-lc", ...] unwrapped
        (7, "cat > README.md <<'EOF'\n# API ✓\nservice d'authentification — 認証\nEOF", None, "/home/dev/api"),
        (8, "git push origin main", None, "/home/dev/api"),  # shell_command: a script string
        (9, "pytest -q", None, "/home/dev/api/tests"),  # exec_command: cmd, a workdir relative to the session's
        (10, "ls -la", ("ls", "-la"), "/home/dev/api/src"),  # local_shell_call
        (11, "git log --oneline -5", ("git", "log", "--oneline", "-5"), "/home/dev/api"),  # no workdir
        (16, "npm run build", None, "/home/dev/web"),  # the cwd of the latest turn_context
    ]
    assert {c.actor for c in commands} == {"codex"}
    assert commands[0].timestamp == "2025-09-14T10:00:04.000Z"
    assert [line_of(m.source) for m in malformed] == [12]
    assert "arguments are not valid JSON" in malformed[0].problem
    assert len(skipped) == 16 - len(commands) - 1


def test_codex_rollout_from_before_the_envelope(tmp_path: Path):
    # Rollouts written before Codex wrapped items in {"timestamp", "type", "payload"}: one item per line.
    lines = [
        {"id": "0196", "timestamp": "2025-05-07T17:24:21.123Z", "instructions": None},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
        {"type": "function_call", "name": "shell", "arguments": json.dumps({"command": ["bash", "-lc", "ls -la"],
                                                                             "workdir": "/srv/app"}),
         "call_id": "call_1"},
    ]
    path = tmp_path / "rollout-2025-05-07T17-24-21-0196.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    fmt, commands, _, _ = read_events(path)
    assert fmt == "codex"
    assert [(c.text, c.cwd) for c in commands] == [("ls -la", "/srv/app")]


def test_an_unterminated_final_json_line_is_a_write_in_progress(tmp_path: Path):
    path = tmp_path / "live.jsonl"
    path.write_text('{"command": "git status"}\n{"command": "git di')
    _, commands, skipped, malformed = read_events(path)
    assert [c.text for c in commands] == ["git status"]
    assert not malformed and [s.why for s in skipped] == ["incomplete final line"]


@pytest.mark.parametrize("format", ["text", "jsonl", "claude", "codex", "zsh-history", "bash-history"])
def test_named_format_reads_whatever_it_is_given_without_failing(format):
    # A format named explicitly on the wrong file: lines that do not fit are skipped or reported, never raised.
    for path in (CLAUDE_SESSION, FORMATS / "commands.txt", FORMATS / "zsh_history"):
        fmt, commands, skipped, malformed = read_events(path, format)
        assert fmt == format
        assert len(commands) + len(skipped) + len(malformed) >= 1


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(tmp_path: Path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"echo caf\xe9\r\nls -la\r\n")  # Latin-1 and CRLF line endings
    fmt, commands, _, malformed = read_events(path)
    assert fmt == "text" and not malformed
    assert [c.text for c in commands] == ["echo caf\ufffd", "ls -la"]
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_bytes(b'{"command": "ls"}\n{"command": "echo caf\xe9"}\n')
    _, commands, _, malformed = read_events(jsonl)
    assert [c.text for c in commands] == ["ls"]
    assert [(line_of(m.source), m.problem) for m in malformed] == [(2, "not UTF-8 text")]
