"""`capfence replay` end to end, through the real command: the policy-change scenario, --fail-on-change,
--against, --only, --json, directories, stdin, auto-detection, context options, bad input, and the terminal."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest

from tests.conftest import capfence_command, scratch_env
from tests.replay.helpers import (
    CLAUDE_DIR,
    CLAUDE_SESSION,
    CODEX_DIR,
    CODEX_ROLLOUT,
    CORPUS,
    FORMATS,
    NO_PUSH,
    assert_one_line_errors,
    json_rows,
    line_of,
    run_replay,
)

PUSH_LINES = [2, 6, 9]  # the corpus lines holding `git push`: what a policy denying pushes changes
ANSI_COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-8]|9[0-7])(?:;\d+)*m")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def _listed_lines(stdout: str) -> list[int]:
    """Corpus lines of the rows a plain listing shows."""
    return [line_of(line.split()[0]) for line in stdout.splitlines() if line.startswith(str(CORPUS))]


# --- the policy change ------------------------------------------------------------------------------------------


def test_a_policy_that_denies_pushes_changes_exactly_the_push_rows(home):
    result = run_replay(home, str(NO_PUSH), str(CORPUS))
    assert result.returncode == 0, result.stderr
    assert _listed_lines(result.stdout) == PUSH_LINES
    assert "allow -> deny  no-git-push  git push -u origin feature/login" in result.stdout
    assert "require_approval -> deny  no-git-push  git push origin main" in result.stdout
    assert "replayed   12 commands (11 distinct) from 1 input" in result.stdout
    assert "changed    3: allow -> deny 2, require_approval -> deny 1" in result.stdout
    rows = json_rows(run_replay(home, str(NO_PUSH), str(CORPUS), "--json", "--only", "changed"))
    assert [(line_of(r["source"]), r["original"], r["decision"], r["rule"]) for r in rows] == [
        (2, "allow", "deny", "no-git-push"), (6, "require_approval", "deny", "no-git-push"),
        (9, "allow", "deny", "no-git-push")]


def test_fail_on_change_gates_the_policy_change(home):
    assert run_replay(home, str(NO_PUSH), str(CORPUS), "--fail-on-change").returncode == 1
    unchanged = run_replay(home, "default", str(CORPUS), "--fail-on-change")
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "changed    0" in unchanged.stdout
    assert run_replay(home, str(NO_PUSH), str(CORPUS)).returncode == 0, "without the flag a change is reported only"


def test_the_default_policy_is_the_gates_lookup(home):
    # No POLICY: the user's config policy, as `capfence exec` would use it.
    config = home / ".config" / "capfence"
    config.mkdir(parents=True)
    shutil.copy(NO_PUSH, config / "policy.yaml")
    result = run_replay(home, str(CORPUS), "--json", "--only", "changed")
    assert result.returncode == 0, result.stderr
    assert [line_of(r["source"]) for r in json_rows(result)] == PUSH_LINES
    (config / "policy.yaml").unlink()
    plain = run_replay(home, str(CORPUS))
    assert "policy     default (bundled default:" in plain.stdout


def test_against_compares_two_policies_not_the_record(home, tmp_path):
    corpus = tmp_path / "disagreeing.jsonl"
    # The recorded decision says deny; with --against only the two policies' decisions are compared.
    corpus.write_text(json.dumps({"command": "git status", "cwd": "/srv/app", "decision": "deny"}) + "\n"
                      + json.dumps({"command": "git push origin feature/x", "cwd": "/srv/app"}) + "\n")
    result = run_replay(home, "default", "--against", str(NO_PUSH), str(corpus), "--json", "--fail-on-change")
    assert result.returncode == 1
    rows = json_rows(result)
    assert [(r["original"], r["decision"], r["changed"], r["recorded"]) for r in rows] == [
        ("allow", "allow", False, "deny"), ("allow", "deny", True, None)]
    assert rows[1]["original_rule"] == "default" and rows[1]["rule"] == "no-git-push"
    plain = run_replay(home, "default", "--against", str(NO_PUSH), str(corpus))
    assert "original   policy default (--policy:" in plain.stdout
    assert "replayed   policy no-push (--against:" in plain.stdout


@pytest.mark.parametrize("only, lines", [
    ("changed", PUSH_LINES),
    ("deny", [2, 6, 8, 9]),
    ("require_approval", [12]),
    ("blocked", [2, 6, 8, 9, 12]),
    ("allow", [1, 3, 4, 5, 7, 10, 11]),
])
def test_only_filters_the_listing_not_the_totals(home, only, lines):
    result = run_replay(home, str(NO_PUSH), str(CORPUS), "--only", only)
    assert result.returncode == 0, result.stderr
    assert _listed_lines(result.stdout) == lines
    assert "replayed   12 commands" in result.stdout
    assert "decisions  allow 7, require_approval 1, deny 4" in result.stdout
    rows = json_rows(run_replay(home, str(NO_PUSH), str(CORPUS), "--only", only, "--json"))
    assert [line_of(r["source"]) for r in rows] == lines


def test_json_fields(home):
    result = run_replay(home, str(NO_PUSH), str(CORPUS), "--json")
    rows = json_rows(result)
    assert len(rows) == 12, "every command, one object each"
    for row in rows:
        for key in ("command", "source", "cwd", "decision", "rule", "reason", "original", "changed"):
            assert key in row, key
    assert rows[0] == {**rows[0], "command": "git status", "source": f"{CORPUS}:1", "cwd": "/home/dev/project",
                       "decision": "allow", "original": "allow", "changed": False, "actor": "claude-code",
                       "format": "jsonl", "form": "script", "environment": "development"}
    assert rows[2]["command"] == "pytest -q tests/", "bash -lc is unwrapped"
    assert rows[3]["command"] == "cat > notes.md <<'EOF'\n# Notes\nhéllo wörld ✓\nEOF"
    assert rows[6]["form"] == "argv" and rows[6]["argv"] == ["ls", "-la", "src"]
    assert rows[7]["rule"] == "secrets" and rows[7]["reason"].startswith("reads")
    text = run_replay(home, str(CORPUS), "--format", "text", "--json")  # the same file read as plain text
    assert {r["original"] for r in json_rows(text)} == {None}
    assert {r["changed"] for r in json_rows(text)} == {False}, "no original: nothing to compare"


# --- inputs -------------------------------------------------------------------------------------------------------


def test_auto_detection_per_file(home):
    inputs = [CORPUS, FORMATS / "commands.txt", FORMATS / "timed.bash_history", FORMATS / "zsh_history",
              CLAUDE_SESSION, CODEX_ROLLOUT]
    result = run_replay(home, *map(str, inputs), "--json")
    formats = {}
    for row in json_rows(result):
        formats.setdefault(row["source"].rsplit(":", 1)[0], set()).add(row["format"])
    assert formats == {str(CORPUS): {"jsonl"}, str(FORMATS / "commands.txt"): {"text"},
                       str(FORMATS / "timed.bash_history"): {"bash-history"},
                       str(FORMATS / "zsh_history"): {"zsh-history"}, str(CLAUDE_SESSION): {"claude"},
                       str(CODEX_ROLLOUT): {"codex"}}
    assert result.returncode == 2, "the Claude and Codex fixtures hold a malformed line each"
    assert_one_line_errors(result.stderr)


def test_directory_input_reads_every_recognised_file(home, tmp_path):
    projects = tmp_path / "projects"
    shutil.copytree(CLAUDE_DIR, projects / "claude")
    shutil.copytree(CODEX_DIR, projects / "codex")
    shutil.copy(FORMATS / "zsh_history", projects / ".zsh_history")
    (projects / "README.md").write_text("# notes\nnot a session\n")  # plain text in a directory: not replayed
    (projects / "data.bin").write_bytes(b"\x00\x01\x02binary")
    (projects / "package.json").write_text('{"name": "x"}\n')  # JSON with nothing to replay
    result = run_replay(home, str(projects))
    assert "replayed   17 commands (17 distinct) from 3 inputs" in result.stdout, result.stdout
    assert "ignored    3 files in directories whose format is not recognised" in result.stdout
    rows = json_rows(run_replay(home, str(projects), "--json"))
    assert {r["format"] for r in rows} == {"claude", "codex", "zsh-history"}
    assert len(rows) == 5 + 7 + 5


def test_stdin(home):
    text = (FORMATS / "commands.txt").read_text()
    result = run_replay(home, "-", "--json", input=text)
    assert result.returncode == 0, result.stderr
    rows = json_rows(result)
    assert [r["source"] for r in rows][:2] == ["<stdin>:2", "<stdin>:4"]
    assert {r["format"] for r in rows} == {"text"}
    jsonl = run_replay(home, str(NO_PUSH), "-", "--json", "--only", "changed", input=CORPUS.read_text())
    assert [line_of(r["source"]) for r in json_rows(jsonl)] == PUSH_LINES
    zsh = run_replay(home, "--format", "zsh-history", "-", "--json", input="ls\\\n-la\n")
    assert [r["command"] for r in json_rows(zsh)] == ["ls\n-la"]


def test_context_options(home, tmp_path):
    policy = tmp_path / "context.yaml"
    policy.write_text(
        "name: context\nextends: default\nrules:\n"
        "  - id: nothing-in-production\n    decision: deny\n    capability: shell.exec.production\n"
        "    reason: nothing runs in production\n"
        "  - id: ci-never-pushes\n    decision: deny\n    capability: vcs.push\n    actor: ci\n"
        "    reason: the CI account never pushes\n")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"command": "touch /srv/app/notes.txt", "cwd": "/srv/app"}) + "\n"
                      + json.dumps({"command": "git push origin feature/x", "cwd": "/srv/app"}) + "\n"
                      + json.dumps({"command": "ls", "cwd": "/srv/app", "env": "production"}) + "\n")

    def decisions(*options: str) -> list[tuple[str, str]]:
        rows = json_rows(run_replay(home, str(policy), str(corpus), "--json", *options))
        return [(r["decision"], r["rule"]) for r in rows]

    assert decisions() == [("allow", "default"), ("allow", "default"),
                           ("deny", "nothing-in-production")], "the record's env names the environment"
    assert decisions("--env", "production") == [("deny", "nothing-in-production")] * 3
    assert decisions("--actor", "ci")[1] == ("deny", "ci-never-pushes")
    assert decisions("--workspace", str(tmp_path / "elsewhere"))[0] == ("require_approval", "write-outside-workspace")


# --- bad input ------------------------------------------------------------------------------------------------------


def test_bad_inputs_are_one_line_each_and_the_rest_is_replayed(home, tmp_path):
    binary = tmp_path / "core.bin"
    binary.write_bytes(b"\x7fELF\x00\x00\x00")
    unreadable = tmp_path / "secret.jsonl"
    unreadable.write_text('{"command": "ls"}\n')
    unreadable.chmod(0)
    as_root = os.geteuid() == 0  # root reads it anyway
    result = run_replay(home, str(tmp_path / "missing.jsonl"), str(binary), str(unreadable), str(CORPUS),
                        str(FORMATS / "commands.jsonl"))
    assert result.returncode == 2
    assert_one_line_errors(result.stderr)
    assert f"{tmp_path / 'missing.jsonl'}: no such file or directory" in result.stderr
    assert f"{binary}: cannot tell its format (binary file); name it with --format" in result.stderr
    assert as_root or f"{unreadable}: cannot read: Permission denied" in result.stderr
    assert f"{FORMATS / 'commands.jsonl'}:6: not valid JSON" in result.stderr
    expected = 12 + 5 + (1 if as_root else 0)
    assert f"replayed   {expected} commands" in result.stdout, "the corpus and the good lines are still replayed"
    assert f"problems   3 malformed lines, {2 if as_root else 3} unreadable inputs" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--format", "yaml", "x"], "--format yaml: use auto, audit, jsonl"),
    (["--only", "maybe", "x"], "--only maybe: use changed, deny"),
    (["default"], "give the recordings to replay"),
    (["default", "--policy", "strict", "x"], "two policies given"),
])
def test_usage_errors(home, args, message):
    result = run_replay(home, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert_one_line_errors(result.stderr)


def test_an_invalid_policy_is_one_line_and_exit_125(home, tmp_path):
    policy = tmp_path / "broken.yaml"
    policy.write_text("name: broken\nrules:\n  - id: x\n    decision: sometimes\n")
    result = run_replay(home, str(policy), str(CORPUS))
    assert result.returncode == 125
    assert result.stderr.startswith("capfence: policy error: ") and str(policy) in result.stderr
    assert_one_line_errors(result.stderr)


def test_long_malformed_files_report_a_few_lines_then_count(home, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"command": "ls"}\n' + "{not json\n" * 25 + '{"command": "git status"}\n')
    result = run_replay(home, str(broken), "--format", "jsonl")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 11
    assert "15 more malformed lines not shown" in result.stderr
    assert "problems   25 malformed lines" in result.stdout


# --- the terminal -------------------------------------------------------------------------------------------------


def test_piped_output_is_plain(home):
    result = run_replay(home, str(NO_PUSH), str(CORPUS), env={"NO_COLOR": "", "TERM": "xterm-256color"})
    assert "\x1b[" not in result.stdout and "\x1b[" not in result.stderr


def _spawn(home: Path, *args: str, colour: bool = False) -> tuple[str, int]:
    env = {**scratch_env(home), "COLUMNS": "140", "TERM": "xterm-256color"}
    if colour:
        env.pop("NO_COLOR")
    child = pexpect.spawn(capfence_command()[0], ["replay", *args], env=env, cwd=str(home), encoding="utf-8",
                          timeout=120, dimensions=(50, 140))
    output = child.read()
    child.close()
    return output, child.exitstatus


def test_rich_summary_on_a_terminal(home):
    output, status = _spawn(home, str(NO_PUSH), str(CORPUS), colour=True)
    assert status == 0, output
    assert "replay: 12 commands (11 distinct) from 1 input" in output
    assert "changed decisions" in output and "rules that fired" in output
    for header in ("Recorded", "Original", "Replayed", "Rule"):
        assert header in output
    assert "git push -u origin feature/login" in output and "no-git-push" in output
    assert ANSI_COLOUR.search(output), "colour on a terminal"
    plain, _ = _spawn(home, str(NO_PUSH), str(CORPUS))
    assert "changed decisions" in plain and not ANSI_COLOUR.search(plain), "NO_COLOR: no colour codes"


def test_progress_bar_for_a_long_input_on_a_terminal(home, tmp_path):
    big = tmp_path / "big.jsonl"
    line = json.dumps({"command": "git status && pytest -q tests/", "cwd": "/home/dev/project",
                       "actor": "claude-code", "decision": "allow"}) + "\n"
    big.write_text(line * (3_000_000 // len(line)))
    output, status = _spawn(home, str(big))
    assert status == 0, output[-2000:]
    assert "replaying" in output, "a progress bar while reading"
    assert "replay: " in output and "commands (1 distinct)" in output
    piped = run_replay(home, str(big))
    assert "replaying" not in piped.stdout + piped.stderr, "no progress bar when piped"


def test_a_closed_output_pipe_stops_quietly(home, tmp_path):
    big = tmp_path / "big.jsonl"
    big.write_text(CORPUS.read_text() * 2000)
    process = subprocess.Popen([*capfence_command(), "replay", "--json", str(big)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=scratch_env(home), cwd=str(home))
    assert process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 141, stderr
    assert stderr == b"", "no traceback, no 'cannot read'"
