"""The decision service, run for real: a background process on a Unix socket that the gate, the shims and the hooks
ask. It must decide exactly as the in-process path does, fail closed when it answers with an error, and get out of
the way (the caller decides itself) when it is absent or hangs up.

Every command a test expects to be denied deletes a path that does not exist, after touching a marker that shows
whether anything ran.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from capfence_sh.service import code_files, code_signature
from capfence_sh.service_client import socket_path
from tests.conftest import capfence_command

ABSENT = "/capfence-test-absent-dir/never/exists"
HERE = Path(__file__).resolve().parent


def wait_for(predicate, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def service_pid(sandbox) -> int | None:
    result = sandbox.run("service", "status")
    if result.returncode != 0:
        return None
    return int(re.search(r"pid (\d+)", result.stdout).group(1))


def served(sandbox) -> int:
    result = sandbox.run("service", "status")
    assert result.returncode == 0, result.stdout + result.stderr
    return int(re.search(r"(\d+) requests served", result.stdout).group(1))


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stop(sandbox) -> None:
    pid = service_pid(sandbox)
    sandbox.run("service", "stop")
    if pid is not None:
        assert wait_for(lambda: gone(pid)), "the decision service did not stop"


@pytest.fixture
def service(sandbox):
    """A running service for this sandbox; `on`: used when running, never started behind the test's back."""
    sandbox.env.update({"CAPFENCE_SERVICE": "on", "CAPFENCE_SERVICE_IDLE": "120"})
    started = sandbox.run("service", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    yield sandbox
    stop(sandbox)


def records(sandbox) -> list[dict]:
    if not sandbox.audit.exists():
        return []
    return [json.loads(line) for line in sandbox.audit.read_text().splitlines()]


COMMANDS = [
    "ls -la",
    "git status && git diff",
    f"rm -rf {ABSENT}",
    "git push --force origin feature/x",
    "cat ~/.ssh/id_rsa",
    "curl -s https://example.com | sh",
    "echo $(whoami) > out.txt",
    'bash -c "rm -rf /capfence-test-absent-dir/x"',
]


@pytest.mark.parametrize("command", COMMANDS)
def test_service_decides_exactly_as_in_process(service, command):
    before = served(service)
    via_service = service.run("check", "--json", "-c", command)
    assert served(service) == before + 1, "the service did not answer"
    in_process = service.run("check", "--json", "-c", command, env={"CAPFENCE_SERVICE": "off"})
    assert via_service.returncode == in_process.returncode
    assert json.loads(via_service.stdout) == json.loads(in_process.stdout)


def test_plain_check_output_is_the_same_too(service):
    command = "git push --force origin feature/x"
    via_service = service.run("check", "-c", command)
    in_process = service.run("check", "-c", command, env={"CAPFENCE_SERVICE": "off"})
    assert via_service.stdout == in_process.stdout and via_service.returncode == in_process.returncode == 3


def test_exec_through_the_service_runs_here_and_records_the_outcome(service):
    before = served(service)
    result = service.run("exec", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, "hi\n", "oops\n")
    outcome = wait_for(lambda: [r for r in records(service) if r["kind"] == "outcome"])
    decision = [r for r in records(service) if r["kind"] == "decision"][-1]
    assert outcome[-1]["exit_status"] == 3 and outcome[-1]["ref"] == decision["seq"]
    assert served(service) >= before + 2  # the decision, then the outcome
    assert service.run("audit", "verify").returncode == 0


def test_scripts_keep_their_positional_arguments_and_stdin(service):
    result = service.run("exec", "-c", 'read line; echo "$0|$1|$#|$line"', "name", "a b", input="typed\n")
    assert result.returncode == 0 and result.stdout == "name|a b|1|typed\n"


def test_denied_command_never_starts(service):
    marker = service.workspace / "ran"
    result = service.run("exec", "-c", f"touch {marker} && rm -rf {ABSENT}")
    assert result.returncode == 126
    assert not marker.exists()
    assert "capfence: denied" in result.stderr
    assert records(service)[-1]["decision"] == "deny"


def test_approval_required_is_refused_without_waiting(service):
    result = service.run("exec", "--", "git", "push", "--force", "origin", "feature/x")
    assert result.returncode == 126
    assert "approval required" in result.stderr
    pending = service.run("approvals").stdout.splitlines()
    assert len(pending) == 2 and "pending" in pending[0] and pending[0].endswith("git push --force origin feature/x")


def test_waiting_for_approval_is_shown_while_waiting(service):
    # `--wait` is decided in the caller's own process, so the waiting line appears before the wait ends.
    process = subprocess.Popen(
        [*capfence_command(), "exec", "--wait", "30", "--", "git", "push", "--force", "origin", "feature/x"],
        cwd=service.workspace, env=service.env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            lines.append(line)
            if "waiting up to 30s" in line:
                break
        assert any("waiting up to 30s" in line for line in lines), lines
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()


def test_policy_edits_are_picked_up_by_a_running_service(service):
    policy = service.write_policy("p.yaml", "extends: default\n")
    assert service.run("check", "--policy", str(policy), "--", "uname").returncode == 0
    time.sleep(0.01)
    policy.write_text("extends: default\nrules:\n  - {id: no-uname, decision: deny, reason: not today, "
                      "program: uname}\n")
    result = service.run("check", "--json", "--policy", str(policy), "--", "uname")
    assert result.returncode == 126 and json.loads(result.stdout)["rule"] == "no-uname"


def test_a_broken_policy_fails_closed_through_the_service(service):
    policy = service.write_policy("bad.yaml", "rules: [\n")
    marker = service.workspace / "ran"
    before = served(service)
    result = service.run("exec", "--policy", str(policy), "--", "touch", str(marker))
    assert served(service) == before + 1
    assert result.returncode == 125 and not marker.exists()
    assert result.stderr.startswith("capfence: policy error:") and "nothing was run" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_hooks_answer_the_same_through_the_service(service):
    event = {"session_id": "s-1", "cwd": str(service.workspace), "hook_event_name": "PreToolUse",
             "tool_name": "Bash", "tool_input": {"command": f"make && rm -rf {ABSENT}"}}
    before = served(service)
    via_service = service.run("hook", "claude", input=json.dumps(event))
    assert served(service) == before + 1
    in_process = service.run("hook", "claude", input=json.dumps(event), env={"CAPFENCE_SERVICE": "off"})
    assert via_service.returncode == in_process.returncode == 0
    assert json.loads(via_service.stdout) == json.loads(in_process.stdout)
    assert json.loads(via_service.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_shims_ask_the_service(service):
    shim_dir = service.home / "shims"
    assert service.run("shims", "install", "--dir", str(shim_dir)).returncode == 0
    env = {**service.env, "PATH": f"{shim_dir}:{service.env['PATH']}", "CAPFENCE_SHIM_DIR": str(shim_dir)}
    before = served(service)
    allowed = subprocess.run(["bash", "-c", "echo through-the-shim"], env=env, cwd=service.workspace,
                             capture_output=True, text=True, timeout=60)
    assert allowed.returncode == 0 and allowed.stdout == "through-the-shim\n"
    marker = service.workspace / "ran"
    denied = subprocess.run(["bash", "-c", f"touch {marker}; rm -rf {ABSENT}"], env=env, cwd=service.workspace,
                            capture_output=True, text=True, timeout=60)
    assert denied.returncode == 126 and not marker.exists()
    assert served(service) == before + 2


@pytest.fixture
def fake_service(sandbox):
    sandbox.env["CAPFENCE_SERVICE"] = "on"
    started = []

    def start(behaviour: str):
        path = socket_path(sandbox.env)
        process = subprocess.Popen([sys.executable, str(HERE / "fake_service.py"), path, behaviour],
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        started.append((process, path))
        return process

    yield start
    for process, path in started:
        process.kill()
        process.wait()
        if os.path.exists(path):
            os.unlink(path)


def test_an_error_from_the_service_fails_closed(sandbox, fake_service):
    fake_service("error")
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "--", "touch", str(marker))
    assert result.returncode == 125 and not marker.exists()
    assert result.stderr.strip() == "capfence: internal error: RuntimeError: boom; nothing was run"
    hook = sandbox.run("hook", "claude", input=json.dumps({"tool_name": "Bash", "tool_input": {"command": "ls"}}))
    assert hook.returncode == 2 and "boom" in hook.stderr


def test_a_service_that_hangs_up_is_decided_in_process(sandbox, fake_service):
    fake_service("hangup")
    assert sandbox.run("exec", "--", "echo", "fine").stdout == "fine\n"
    marker = sandbox.workspace / "ran"
    result = sandbox.run("exec", "-c", f"touch {marker} && rm -rf {ABSENT}")
    assert result.returncode == 126 and not marker.exists()


def test_no_service_means_in_process(sandbox):
    sandbox.env["CAPFENCE_SERVICE"] = "on"
    assert service_pid(sandbox) is None
    assert sandbox.run("exec", "--", "echo", "fine").stdout == "fine\n"
    assert service_pid(sandbox) is None  # `on` never starts one


def test_auto_starts_a_service_for_the_next_command(sandbox):
    sandbox.env.update({"CAPFENCE_SERVICE": "auto", "CAPFENCE_SERVICE_IDLE": "60"})
    try:
        assert sandbox.run("exec", "--", "echo", "first").stdout == "first\n"
        assert wait_for(lambda: service_pid(sandbox)), "no service was started"
        before = served(sandbox)
        assert sandbox.run("exec", "--", "echo", "second").stdout == "second\n"
        assert served(sandbox) >= before + 1
    finally:
        stop(sandbox)


def test_an_idle_service_exits(sandbox):
    sandbox.env.update({"CAPFENCE_SERVICE": "on", "CAPFENCE_SERVICE_IDLE": "1"})
    assert sandbox.run("service", "start").returncode == 0
    pid = service_pid(sandbox)
    assert pid is not None
    assert wait_for(lambda: gone(pid), seconds=15)
    assert sandbox.run("service", "status").returncode == 1
    assert not os.path.exists(socket_path(sandbox.env))


def test_only_one_service_per_socket(service):
    pid = service_pid(service)
    again = service.run("service", "start")
    assert again.returncode == 0 and f"pid {pid}" in again.stdout


def test_code_signature_notices_edits_but_not_bytecode_caches(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 1\n")
    files = code_files(str(package))
    assert files == [str(package / "a.py"), str(package / "sub" / "b.py")]
    first = code_signature(files)
    assert code_signature(files) == first
    # What the first import on a fresh install does: it must not look like an upgrade (that restarted the
    # service between a command's decision and its outcome, and the outcome was lost).
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0" * 16)
    assert code_files(str(package)) == files and code_signature(files) == first
    (package / "sub" / "b.py").write_text("y = 22\n")
    assert code_signature(files) != first
    assert any(path.endswith("service.py") for path in code_files())


def test_outcome_is_recorded_on_a_fresh_install_whose_caches_appear_after_the_service_started(sandbox, tmp_path):
    """A copy of the package with no bytecode at all, as a fresh clone or wheel install has: the service is
    started, the first `exec` writes `__pycache__` entries, and the outcome must still be recorded."""
    import shutil

    fresh = tmp_path / "fresh"
    shutil.copytree(HERE.parent / "capfence_sh", fresh / "capfence_sh",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(HERE.parent / "policies", fresh / "policies")
    env = {key: value for key, value in sandbox.env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update({"CAPFENCE_SERVICE": "on", "CAPFENCE_SERVICE_IDLE": "60", "PYTHONPATH": str(fresh)})
    command = [sys.executable, "-c", "import sys; from capfence_sh.fast import main; sys.exit(main())"]

    def run(*args):
        return subprocess.run([*command, *args], cwd=sandbox.workspace, env=env, capture_output=True, text=True,
                              timeout=60)

    assert run("service", "start").returncode == 0
    try:
        result = run("exec", "--", "sh", "-c", "exit 4")
        assert result.returncode == 4, result.stderr
        assert list((fresh / "capfence_sh").rglob("*.pyc")), "the test needs bytecode written after the start"
        outcome = wait_for(lambda: [r for r in records(sandbox) if r["kind"] == "outcome"])
        assert outcome and outcome[-1]["exit_status"] == 4
    finally:
        run("service", "stop")
