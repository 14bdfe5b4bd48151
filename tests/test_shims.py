"""PATH shims with real shells: allowed scripts behave as without shims, denied ones never run, nested calls are
gated once.

Every command a test expects to be denied deletes a path that does not exist: harmless if a broken shim let it
through.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import capfence_command

ABSENT = "/capfence-test-absent-dir/never/exists"


@pytest.fixture
def shimmed(sandbox):
    shim_dir = sandbox.home / "shims"
    result = sandbox.run("shims", "install", "--dir", str(shim_dir))
    assert result.returncode == 0, result.stderr
    env = dict(sandbox.env)
    env["PATH"] = f"{shim_dir}:{env['PATH']}"
    env["CAPFENCE_SHIM_DIR"] = str(shim_dir)
    return sandbox, shim_dir, env


def run(env, args, cwd, input=None):
    return subprocess.run(args, env=env, cwd=str(cwd), capture_output=True, text=True, input=input, timeout=60)


def audit_records(sandbox) -> list[dict]:
    if not sandbox.audit.exists():
        return []
    return [json.loads(line) for line in sandbox.audit.read_text().splitlines()]


SCRIPTS = [
    ("echo hello; exit 3", []),
    ('echo "$0|$1|$2|$#"', ["name", "a b", "c"]),
    ("set -e; x=$(printf '%s' abc); echo ${#x}; false; echo unreachable", []),
    ("for i in 1 2 3; do echo $i; done | wc -l", []),
    ("read line; echo got:$line", []),
    ("cd /tmp && pwd", []),
]


@pytest.mark.parametrize("script, extra", SCRIPTS)
def test_allowed_scripts_behave_exactly_as_without_shims(shimmed, script, extra):
    sandbox, _, env = shimmed
    plain = run(sandbox.env, ["bash", "-c", script, *extra], sandbox.workspace, input="line1\n")
    gated = run(env, ["bash", "-c", script, *extra], sandbox.workspace, input="line1\n")
    assert (gated.returncode, gated.stdout, gated.stderr) == (plain.returncode, plain.stdout, plain.stderr)


def test_sh_and_options_before_c(shimmed):
    sandbox, _, env = shimmed
    for args in (["sh", "-c", "echo $0"], ["bash", "-e", "-c", "echo ok"], ["bash", "-lc", "echo login"],
                 ["bash", "--norc", "-c", "echo norc"], ["bash", "-o", "pipefail", "-c", "echo pf"]):
        plain = run(sandbox.env, args, sandbox.workspace)
        gated = run(env, args, sandbox.workspace)
        assert (gated.returncode, gated.stdout) == (plain.returncode, plain.stdout), args


def test_denied_script_is_stopped_with_126(shimmed):
    sandbox, _, env = shimmed
    marker = sandbox.workspace / "ran"
    result = run(env, ["bash", "-c", f"touch {marker}; rm -rf {ABSENT}"], sandbox.workspace)
    assert result.returncode == 126
    assert "capfence: denied:" in result.stderr
    assert not marker.exists()


def test_per_program_shims(shimmed):
    sandbox, _, env = shimmed
    result = run(env, ["rm", "-rf", ABSENT], sandbox.workspace)
    assert result.returncode == 126 and "(rule recursive-delete-outside-workspace)" in result.stderr
    victim = sandbox.workspace / "old.txt"
    victim.write_text("x")
    assert run(env, ["rm", "-f", str(victim)], sandbox.workspace).returncode == 0
    assert not victim.exists()


def test_makefile_is_stopped_at_the_inner_command(shimmed):
    sandbox, _, env = shimmed
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    (sandbox.workspace / "Makefile").write_text(
        "all:\n\ttouch before\n\trm -rf " + ABSENT + "\n\ttouch after\n")
    result = run(env, ["make"], sandbox.workspace)
    assert result.returncode != 0
    assert "capfence: denied:" in result.stderr
    assert (sandbox.workspace / "before").exists()
    assert not (sandbox.workspace / "after").exists(), "make stops at the denied line"


def test_script_file_and_stdin(shimmed):
    sandbox, _, env = shimmed
    good = sandbox.workspace / "good.sh"
    good.write_text('echo "script $1"\n')
    assert run(env, ["bash", str(good), "arg"], sandbox.workspace).stdout == "script arg\n"
    bad = sandbox.workspace / "bad.sh"
    bad.write_text(f"touch {sandbox.workspace / 'ran'}\nrm -rf {ABSENT}\n")
    assert run(env, ["bash", str(bad)], sandbox.workspace).returncode == 126
    assert not (sandbox.workspace / "ran").exists()
    piped = run(env, ["bash"], sandbox.workspace, input="echo from-stdin\necho $((6*7))\n")
    assert (piped.returncode, piped.stdout) == (0, "from-stdin\n42\n")
    denied = run(env, ["sh"], sandbox.workspace, input=f"rm -rf {ABSENT}\n")
    assert denied.returncode == 126


def test_nested_calls_are_decided_once(shimmed):
    sandbox, _, env = shimmed
    (sandbox.workspace / "x").write_text("x")
    run(env, ["bash", "-c", "rm -f x"], sandbox.workspace)
    records = [r for r in audit_records(sandbox) if r["kind"] == "decision"]
    assert len(records) == 1, "the rm inside was already decided with the script"
    (sandbox.workspace / "y.txt").write_text("y")
    script = 'for f in *.txt; do rm -f "$f"; done'
    assert run(env, ["bash", "-c", script], sandbox.workspace).returncode == 0
    assert not (sandbox.workspace / "y.txt").exists()
    records = [r for r in audit_records(sandbox) if r["kind"] == "decision"]
    assert [r["command"] for r in records[1:]] == [script, "rm -f y.txt"], \
        "an argv not known when the script was decided (a glob's expansion) is decided again"


def test_a_marker_from_elsewhere_is_not_honoured(shimmed):
    sandbox, _, env = shimmed
    from capfence_sh.shim import argv_hash

    forged = dict(env, CAPFENCE_DECIDED=f"1:{argv_hash(['rm', '-rf', ABSENT])}")
    assert run(forged, ["rm", "-rf", ABSENT], sandbox.workspace).returncode == 126


@pytest.mark.parametrize("layout", ["twice", "symlink"])
def test_no_recursion_with_odd_paths(shimmed, layout):
    sandbox, shim_dir, env = shimmed
    if layout == "twice":
        env = dict(env, PATH=f"{shim_dir}:{shim_dir}:{sandbox.env['PATH']}")
    else:
        link = sandbox.home / "shim-link"
        link.symlink_to(shim_dir)
        env = dict(env, PATH=f"{link}:{shim_dir}:{sandbox.env['PATH']}")
    result = run(env, ["bash", "-c", "echo fine"], sandbox.workspace)
    assert (result.returncode, result.stdout) == (0, "fine\n")
    assert run(env, ["rm", "-rf", ABSENT], sandbox.workspace).returncode == 126


def test_missing_real_program_is_127(shimmed):
    sandbox, shim_dir, env = shimmed
    sandbox.run("shims", "install", "--dir", str(shim_dir), "--commands", "no-such-tool-capfence")
    result = run(env, ["no-such-tool-capfence"], sandbox.workspace)
    assert result.returncode == 127 and "no-such-tool-capfence: command not found" in result.stderr


def test_interactive_shell_and_version_pass_through(shimmed):
    sandbox, _, env = shimmed
    version = run(env, ["bash", "--version"], sandbox.workspace)
    assert version.returncode == 0 and "GNU bash" in version.stdout
    child = pexpect.spawn("bash", ["--norc", "--noprofile"], env=env, cwd=str(sandbox.workspace),
                          encoding="utf-8", timeout=20)
    child.sendline("echo $((6*7))x")
    child.expect("42x")
    child.sendline("exit 5")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5


def test_status_env_uninstall(shimmed):
    sandbox, shim_dir, env = shimmed
    status = subprocess.run([*capfence_command(), "shims", "status", "--dir", str(shim_dir), "--json"], env=env,
                            capture_output=True, text=True)
    data = json.loads(status.stdout)
    assert data["first_on_path"] is True and "bash" in data["installed"] and "rm" in data["installed"]
    lines = sandbox.run("shims", "env", "--dir", str(shim_dir)).stdout.splitlines()
    assert lines[0] == f'export PATH="{shim_dir}:$PATH"' and lines[1] == f'export SHELL="{shim_dir}/bash"'
    (shim_dir / "keep-me").write_text("not ours")
    sandbox.run("shims", "uninstall", "--dir", str(shim_dir))
    assert sorted(os.listdir(shim_dir)) == ["keep-me"], "only capfence's own files are removed"


def test_install_refuses_to_overwrite_foreign_files(sandbox):
    shim_dir = sandbox.home / "bin"
    shim_dir.mkdir()
    (shim_dir / "rm").write_text("#!/bin/sh\necho mine\n")
    result = sandbox.run("shims", "install", "--dir", str(shim_dir))
    assert result.returncode == 1 and "is not a capfence shim" in result.stderr
    assert (shim_dir / "rm").read_text() == "#!/bin/sh\necho mine\n"


def test_shim_ignores_the_agents_python_environment(shimmed, tmp_path):
    sandbox, _, env = shimmed
    evil = tmp_path / "evil"
    (evil / "capfence_sh").mkdir(parents=True)
    (evil / "capfence_sh" / "__init__.py").write_text("raise SystemExit(0)\n")
    result = run(dict(env, PYTHONPATH=str(evil), PYTHONSTARTUP=str(evil)), ["rm", "-rf", ABSENT], sandbox.workspace)
    assert result.returncode == 126, "PYTHONPATH must not replace the gate"


def test_gate_error_in_a_shim_fails_closed(shimmed):
    sandbox, _, env = shimmed
    bad = sandbox.write_policy("bad.yaml", "default: nope\n")
    marker = sandbox.workspace / "ran"
    result = run(dict(env, CAPFENCE_POLICY=str(bad)), ["bash", "-c", f"touch {marker}"], sandbox.workspace)
    assert result.returncode == 125 and "policy error" in result.stderr
    assert not marker.exists()


def test_exec_marks_its_children(sandbox, tmp_path):
    shim_dir = sandbox.home / "shims"
    sandbox.run("shims", "install", "--dir", str(shim_dir))
    (sandbox.workspace / "z").write_text("z")
    env = {"PATH": f"{shim_dir}:{sandbox.env['PATH']}", "CAPFENCE_SHIM_DIR": str(shim_dir)}
    result = sandbox.run("exec", "-c", "rm -f z && echo removed", env=env)
    assert (result.returncode, result.stdout) == (0, "removed\n")
    assert len([r for r in audit_records(sandbox) if r["kind"] == "decision"]) == 1


def test_python_executable_in_shim_is_this_one(shimmed):
    _, shim_dir, _ = shimmed
    first = Path(shim_dir / "rm").read_text().splitlines()[0]
    interpreter, options = first[2:].split(" ")
    # The same environment's interpreter (`python` and `python3` are the same file in a venv), run isolated.
    assert options == "-IS" and Path(interpreter).parent == Path(sys.executable).parent
    assert os.path.realpath(interpreter) == os.path.realpath(sys.executable)
