"""Format detection (per file, from its first lines and, for history files, its name), and unwrapping agents'
`bash -lc SCRIPT` argv into the script."""

from __future__ import annotations

import pytest

from capfence_sh.replay.detect import detect_format
from capfence_sh.replay.proposed import shell_script_of
from tests.replay.helpers import CLAUDE_SESSION, CODEX_ROLLOUT, CORPUS, FORMATS


@pytest.mark.parametrize("path, expected", [
    (CORPUS, "jsonl"),
    (FORMATS / "commands.jsonl", "jsonl"),
    (FORMATS / "commands.txt", "text"),
    (FORMATS / "timed.bash_history", "bash-history"),
    (FORMATS / "plain.bash_history", "bash-history"),  # no timestamps: told by its name
    (FORMATS / "zsh_history", "zsh-history"),
    (CLAUDE_SESSION, "claude"),
    (CODEX_ROLLOUT, "codex"),
])
def test_fixture_files(path, expected):
    head = path.read_bytes().splitlines(keepends=True)[:32]
    assert detect_format(str(path), head).format == expected


AUDIT_LINE = (b'{"v":1,"seq":1,"ts":"2025-09-14T10:00:00.000000Z","kind":"decision","command":"ls",'
              b'"decision":"allow","prev":"' + b"0" * 64 + b'","hash":"' + b"a" * 64 + b'"}\n')


@pytest.mark.parametrize("name, head, expected, certain", [
    ("audit.jsonl", [AUDIT_LINE], "audit", True),
    # Claude's first record is often a summary or a file-history snapshot, not a message.
    ("s.jsonl", [b'{"type":"summary","summary":"x","leafUuid":"u"}\n'], "claude", True),
    ("s.jsonl", [b'{"type":"file-history-snapshot","messageId":"m","snapshot":{},"isSnapshotUpdate":false}\n'],
     "claude", True),
    ("r.jsonl", [b'{"timestamp":"t","type":"session_meta","payload":{"cwd":"/x"}}\n'], "codex", True),
    # Codex rollouts from before the envelope: a header, then response items.
    ("r.jsonl", [b'{"id":"1","timestamp":"t","instructions":null}\n',
                 b'{"type":"message","role":"user","content":[]}\n'], "codex", True),
    ("c.jsonl", [b'{"note": 1}\n', b'{"command": ["ls"]}\n'], "jsonl", True),  # decided by a later line
    ("x.json", [b'{"name": "package", "version": "1.0"}\n'], "jsonl", False),  # JSON, but nothing to replay
    ("h", [b": 1726300000:0;ls\n"], "zsh-history", True),
    ("h", [b"#1726300000\n", b"ls\n"], "bash-history", True),
    (".bash_history", [b"ls\n"], "bash-history", True),
    (".zsh_history", [b"ls\n"], "zsh-history", True),
    ("cmds.txt", [b"#1 is not a timestamp\n", b"ls\n"], "text", False),
    ("group.txt", [b"{ make; make test; }\n"], "text", False),  # a shell group is not JSON
    ("notes.history", [b"ls\n"], "text", True),
    ("blob.bin", [b"\x7fELF\x02\x01\x00\x00"], None, False),
])
def test_heads(name, head, expected, certain):
    detected = detect_format(name, head)
    assert (detected.format, detected.certain) == (expected, certain)


@pytest.mark.parametrize("argv, script", [
    (["bash", "-lc", "ls -la"], "ls -la"),
    (["/bin/bash", "-c", "make && make test"], "make && make test"),
    (["sh", "-c", "echo héllo"], "echo héllo"),
    (["zsh", "-lc", "npm run build"], "npm run build"),
    (["bash", "--login", "-c", "ls"], "ls"),
    (["bash", "-l", "-c", "ls"], "ls"),
    (["bash", "-c", "echo $1", "name", "arg"], None),  # positional parameters: only the argv form keeps them
    (["bash", "-ec", "false; echo x"], None),  # -e changes what the script does: decided as argv
    (["bash", "script.sh"], None),
    (["python", "-c", "print(1)"], None),
    (["bash", "-lc"], None),
    (["git", "status"], None),
])
def test_shell_wrappers_are_unwrapped(argv, script):
    assert shell_script_of(argv) == script
