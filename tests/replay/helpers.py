"""Shared by the replay tests: the fixture files, reading them in process, and the real `capfence replay`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from capfence_sh.replay.inputs import OpenInput, open_inputs
from capfence_sh.replay.proposed import MalformedLine, ProposedCommand, SkippedLine
from tests.conftest import capfence_command, scratch_env

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FORMATS = FIXTURES / "formats"
CORPUS = FIXTURES / "corpus.jsonl"
NO_PUSH = FIXTURES / "policies" / "no-push.yaml"
CLAUDE_DIR = FIXTURES / "claude"
CLAUDE_SESSION = next(CLAUDE_DIR.rglob("*.jsonl"))
CODEX_DIR = FIXTURES / "codex"
CODEX_ROLLOUT = next(CODEX_DIR.rglob("rollout-*.jsonl"))


def read_events(path: Path | str, format: str = "auto"):
    """(format, commands, skipped, malformed) of one input, read in process."""
    opened = list(open_inputs([str(path)], format))
    assert len(opened) == 1 and isinstance(opened[0], OpenInput), opened
    commands, skipped, malformed = [], [], []
    for event in opened[0].events:
        if isinstance(event, ProposedCommand):
            commands.append(event)
        elif isinstance(event, SkippedLine):
            skipped.append(event)
        else:
            assert isinstance(event, MalformedLine)
            malformed.append(event)
    return opened[0].format, commands, skipped, malformed


def line_of(source: str) -> int:
    return int(source.rsplit(":", 1)[1])


def run_replay(home: Path, *args: str, input: str | bytes | None = None, cwd: Path | None = None,
               env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real `capfence replay ...` with a scratch HOME, output piped."""
    merged = scratch_env(home)
    if env:
        merged.update(env)
    return subprocess.run([*capfence_command(), "replay", *args], input=input, capture_output=True,
                          text=not isinstance(input, bytes), env=merged, cwd=str(cwd or home), timeout=timeout)


def json_rows(result: subprocess.CompletedProcess) -> list[dict]:
    stdout = result.stdout if isinstance(result.stdout, str) else result.stdout.decode()
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def assert_one_line_errors(stderr: str) -> None:
    """Problems are one line each, never a Python traceback."""
    assert "Traceback" not in stderr, stderr
    for line in stderr.splitlines():
        assert line.startswith("capfence"), f"not a capfence message: {line!r}"
