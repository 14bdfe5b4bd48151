"""capfence_sh.process with real processes: spawning, terminal, signals, exit codes, rusage, errors, PATH search.

Signal forwarding is tested on a gate running as its own process (a small driver script written to tmp_path),
interactive behaviour on a gate running in a pseudo-terminal (pexpect).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pexpect
import pytest

from capfence_sh.process import ChildResult, SpawnError, exec_replace, find_program, run_child

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
MiB = 2**20

# What a program started by the shell sees (bash keeps SIGQUIT ignored for itself, so not /proc/$$).
SIGSTATE = "exec grep -E '^Sig(Ign|Blk):' /proc/self/status"
# glibc's posix_spawn leaves its internal signals 32 and 33 ignored in the child (see process.py).
GLIBC_INTERNAL = (1 << 31) | (1 << 32)
PYTHON_IGNORED = (1 << (signal.SIGPIPE - 1)) | (1 << (signal.SIGXFSZ - 1))

DRIVER = """
import json, os, signal, sys
sys.path.insert(0, {root!r})
# Independent of how the test runner was started: the gate neither forwards nor resets signals ignored on entry.
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(s, signal.SIG_DFL)
signal.signal(signal.SIGINT, signal.default_int_handler)
mode, argv = sys.argv[1], sys.argv[2:]
if mode == "nopsutil":
    sys.modules["psutil"] = None  # makes `import psutil` fail, as on a host without it
from capfence_sh.process import exec_replace, run_child
if mode == "run":
    sys.exit(run_child(argv).exit_status)
if mode == "nohup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sys.exit(run_child(argv).exit_status)
if mode in ("nopsutil", "lazy"):
    r = run_child(argv)
    loaded = sys.modules.get("psutil") is not None
    print(json.dumps({{"peak": r.peak_rss_bytes, "status": r.exit_status, "psutil": loaded}}))
    sys.exit(0)
if mode == "exec":
    signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGUSR2}})
    print("driver", os.getpid(), flush=True)
    exec_replace(argv)
raise SystemExit("unknown mode " + mode)
"""


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def driver(tmp_path: Path) -> Path:
    path = tmp_path / "driver.py"
    path.write_text(DRIVER.format(root=str(ROOT)))
    return path


@pytest.fixture
def child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(HOME=str(tmp_path), TERM="dumb", PYTHONNOUSERSITE="1")
    return env


def _script(path: Path, text: str, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def _sigstate(text: str) -> dict[str, int]:
    fields = (line.split() for line in text.splitlines())
    return {f[0].rstrip(":"): int(f[1], 16) for f in fields if f and f[0] in ("SigIgn:", "SigBlk:")}


def _own_sigign() -> int:
    return _sigstate(Path("/proc/self/status").read_text())["SigIgn"]


def _start_gate(driver: Path, env: dict[str, str], *argv: str, mode: str = "run") -> subprocess.Popen[str]:
    gate = subprocess.Popen([PY, str(driver), mode, *argv], stdout=subprocess.PIPE, text=True, env=env,
                            cwd=driver.parent)
    assert gate.stdout is not None
    assert gate.stdout.readline().strip() == "ready"
    return gate


# --------------------------------------------------------------------------------------------------------------
# Hot path


def test_import_loads_no_heavy_modules() -> None:
    code = (
        "import sys, capfence_sh.process\n"
        "print([m for m in ('subprocess', 'psutil', 'threading', 'asyncio', 'typing') if m in sys.modules])"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


def test_psutil_imported_only_for_children_that_outlive_a_sample(driver: Path, child_env: dict[str, str]) -> None:
    def lazy(*argv: str) -> dict[str, object]:
        out = subprocess.run([PY, str(driver), "lazy", *argv], capture_output=True, text=True, env=child_env,
                             check=True).stdout
        return json.loads(out)

    quick = lazy("true")
    assert quick["psutil"] is False and quick["status"] == 0
    assert isinstance(quick["peak"], int) and quick["peak"] > 0  # from wait4's ru_maxrss
    assert lazy("sleep", "0.2")["psutil"] is True


def test_peak_rss_falls_back_to_ru_maxrss_without_psutil(driver: Path, child_env: dict[str, str]) -> None:
    code = "b = bytearray(200 * 2**20); import time; time.sleep(0.3)"
    out = subprocess.run([PY, str(driver), "nopsutil", PY, "-c", code], capture_output=True, text=True,
                         env=child_env, check=True).stdout
    result = json.loads(out)
    assert result["status"] == 0 and result["psutil"] is False
    assert result["peak"] >= 150 * MiB


# --------------------------------------------------------------------------------------------------------------
# Exit status


@pytest.mark.parametrize("code", [0, 1, 42, 126, 255])
def test_exit_code_passes_through(code: int) -> None:
    result = run_child(["bash", "-c", f"exit {code}"])
    assert isinstance(result, ChildResult)
    assert (result.exit_status, result.signal) == (code, None)


@pytest.mark.parametrize(("sig", "status"), [("TERM", 143), ("KILL", 137)])
def test_death_by_signal_is_128_plus_n(sig: str, status: int) -> None:
    result = run_child(["bash", "-c", f"kill -{sig} $$"])
    assert (result.exit_status, result.signal) == (status, status - 128)


# --------------------------------------------------------------------------------------------------------------
# Signal state of the child and of the gate


def test_sigpipe_is_default_in_child_pipelines() -> None:
    # With SIGPIPE inherited as ignored, `yes` would get EPIPE and exit 1 instead of dying of SIGPIPE (141).
    result = run_child(["bash", "-c", "yes | head -1 >/dev/null; exit ${PIPESTATUS[0]}"])
    assert (result.exit_status, result.signal) == (128 + signal.SIGPIPE, None)
    assert result.wall_seconds < 5


def test_child_has_default_dispositions_and_empty_mask(capfd: pytest.CaptureFixture[str]) -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
    try:
        result = run_child(["bash", "-c", f"echo traps:; trap -p; {SIGSTATE}"])
        assert signal.pthread_sigmask(signal.SIG_BLOCK, ()) == before | {signal.SIGUSR2}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    assert result.exit_status == 0
    out = capfd.readouterr().out
    traps = out.split("traps:\n", 1)[1].split("SigBlk", 1)[0]
    state = _sigstate(out)
    assert state["SigBlk"] == 0
    assert state["SigIgn"] & ~GLIBC_INTERNAL == _own_sigign() & ~PYTHON_IGNORED
    assert "SIGPIPE" not in traps and "SIGXFSZ" not in traps
    if _own_sigign() & ~PYTHON_IGNORED == 0:  # the runner itself was not started with signals ignored
        assert traps.strip() == ""


def test_signal_ignored_by_caller_stays_ignored_in_child(capfd: pytest.CaptureFixture[str]) -> None:
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        run_child(["bash", "-c", SIGSTATE])
    finally:
        signal.signal(signal.SIGHUP, old)
    assert _sigstate(capfd.readouterr().out)["SigIgn"] & (1 << (signal.SIGHUP - 1))


def test_signals_from_the_child_to_the_gate_are_neither_forwarded_back_nor_kept(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The child signals its parent, which here is the test process itself: USR1 must not come back to the
    # child, and neither USR1 nor TERM may be left pending for the test process once the mask is restored.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    result = run_child(["bash", "-c", 'n=0; trap "n=\\$((n+1))" USR1; kill -USR1 $PPID; sleep 0.2; '
                                      'kill -TERM $PPID; echo "n=$n"'])
    assert result.exit_status == 0
    assert "n=0" in capfd.readouterr().out
    assert signal.pthread_sigmask(signal.SIG_BLOCK, ()) == mask
    assert not signal.sigpending()


def test_sigchld_ignored_by_caller_still_yields_status() -> None:
    old = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        result = run_child(["bash", "-c", "exit 5"])
        assert signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGCHLD, old)
    assert result.exit_status == 5


# --------------------------------------------------------------------------------------------------------------
# Signal forwarding (the gate as its own process)


def test_sigterm_to_gate_reaches_child_and_gate_exits_with_its_status(
    driver: Path, child_env: dict[str, str]
) -> None:
    child = 'trap "kill \\$p; exit 7" TERM; sleep 30 & p=$!; echo ready; wait $p'
    gate = _start_gate(driver, child_env, "bash", "-c", child)
    gate.send_signal(signal.SIGTERM)
    assert gate.wait(timeout=5) == 7


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1])
def test_signal_to_gate_kills_default_child(driver: Path, child_env: dict[str, str], sig: int) -> None:
    # Not a shell: bash ignores SIGQUIT itself, so a signal arriving before it exec'd a program would be lost.
    child = (f"import resource, signal, time; resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
             f"signal.signal({int(sig)}, signal.SIG_DFL); print('ready', flush=True); time.sleep(30)")
    gate = _start_gate(driver, child_env, PY, "-c", child)
    gate.send_signal(sig)
    assert gate.wait(timeout=5) == 128 + sig


def test_signal_ignored_by_caller_is_not_forwarded(driver: Path, child_env: dict[str, str]) -> None:
    gate = _start_gate(driver, child_env, "bash", "-c", "echo ready; sleep 0.3; exit 3", mode="nohup")
    gate.send_signal(signal.SIGHUP)
    assert gate.wait(timeout=5) == 3


# --------------------------------------------------------------------------------------------------------------
# Terminal (the gate in a pseudo-terminal)


def test_interactive_repl_works_through_the_gate(driver: Path, child_env: dict[str, str], tmp_path: Path) -> None:
    term = pexpect.spawn(PY, [str(driver), "run", PY, "-q", "-i"], env=child_env, cwd=str(tmp_path),
                         timeout=10, encoding="utf-8")
    term.expect_exact(">>> ")
    term.sendline("print(6*7)")
    term.expect_exact("42")
    term.expect_exact(">>> ")
    term.sendline("exit(3)")
    term.expect(pexpect.EOF)
    term.close()
    assert term.exitstatus == 3


def test_terminal_signals_are_delivered_once(driver: Path, child_env: dict[str, str], tmp_path: Path) -> None:
    # Ctrl-C and a window resize reach the whole foreground process group; the gate must not add a second copy.
    counter = textwrap.dedent("""
        import signal, sys, time
        n = {signal.SIGINT: 0, signal.SIGWINCH: 0}
        for s in n:
            signal.signal(s, lambda signo, _f: n.__setitem__(signo, n[signo] + 1))
        print("ready", flush=True)
        time.sleep(1.0)
        print("got", n[signal.SIGINT], n[signal.SIGWINCH], flush=True)
    """)
    term = pexpect.spawn(PY, [str(driver), "run", PY, "-c", counter], env=child_env, cwd=str(tmp_path),
                         timeout=10, encoding="utf-8")
    term.expect_exact("ready")
    term.sendintr()
    term.setwinsize(40, 100)
    term.expect(r"got (\d+) (\d+)")
    assert term.match.groups() == ("1", "1")
    term.expect(pexpect.EOF)
    term.close()
    assert term.exitstatus == 0


# --------------------------------------------------------------------------------------------------------------
# Timing and resources


def test_cpu_and_wall_time() -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    result = run_child([PY, "-c", burn])
    assert result.exit_status == 0
    assert result.cpu_seconds >= 0.2
    assert result.wall_seconds >= result.cpu_seconds * 0.9


def test_peak_rss_of_one_process() -> None:
    result = run_child([PY, "-c", "b = bytearray(200 * 2**20); import time; time.sleep(0.5)"])
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes >= 150 * MiB


def test_peak_rss_sums_the_process_tree() -> None:
    # Two concurrent 100 MiB grandchildren: ru_maxrss would say ~110 MiB, the sampled tree sum ~220 MiB.
    alloc = f"{PY} -c 'b = bytearray(100 * 2**20); import time; time.sleep(0.5)'"
    result = run_child(["bash", "-c", f"{alloc} & {alloc} & wait"])
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes >= 180 * MiB


# --------------------------------------------------------------------------------------------------------------
# Errors


def test_missing_program_is_127_command_not_found(tmp_path: Path) -> None:
    with pytest.raises(SpawnError) as info:
        run_child(["capfence-no-such-program"], env={"PATH": str(tmp_path)})
    assert info.value.exit_status == 127
    assert info.value.message == "capfence: capfence-no-such-program: command not found"
    assert isinstance(info.value, OSError) and info.value.errno == 2
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.exit_status, copy.message, copy.errno) == (127, info.value.message, 2)


def test_missing_path_is_127_no_such_file(tmp_path: Path) -> None:
    with pytest.raises(SpawnError) as info:
        run_child(["./missing"], cwd=str(tmp_path))
    assert (info.value.exit_status, str(info.value)) == (127, "capfence: ./missing: No such file or directory")


def test_unusable_files_are_126(tmp_path: Path) -> None:
    _script(tmp_path / "noexec", "echo no\n", 0o644)
    (tmp_path / "adir").mkdir()
    _script(tmp_path / "elf", "\x7fELF\x02\x01\x01garbage\n")
    cases = {"./noexec": "Permission denied", "./adir": "Is a directory",
             "./elf": "cannot execute binary file: Exec format error"}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    for name, words in cases.items():
        with pytest.raises(SpawnError) as info:
            run_child([name], cwd=str(tmp_path))
        assert (info.value.exit_status, info.value.message) == (126, f"capfence: {name}: {words}")
    assert signal.pthread_sigmask(signal.SIG_BLOCK, ()) == mask


def test_non_executable_found_on_path_is_126_with_full_path(tmp_path: Path) -> None:
    prog = _script(tmp_path / "bin" / "prog", "echo no\n", 0o644)
    with pytest.raises(SpawnError) as info:
        run_child(["prog"], env={"PATH": str(prog.parent)})
    assert (info.value.exit_status, info.value.message) == (126, f"capfence: {prog}: Permission denied")


def test_missing_interpreter_is_127(tmp_path: Path) -> None:
    _script(tmp_path / "script", "#!/nonexistent/interpreter\necho no\n")
    with pytest.raises(SpawnError) as info:
        run_child(["./script"], cwd=str(tmp_path))
    assert info.value.exit_status == 127
    assert info.value.message == "capfence: ./script: cannot execute: required file not found"


def test_script_without_shebang_runs_under_sh(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    _script(tmp_path / "bin" / "plain", 'echo "sh ran $1"\nexit 4\n')
    result = run_child(["plain", "arg"], env={"PATH": str(tmp_path / "bin")})
    assert result.exit_status == 4
    assert capfd.readouterr().out == "sh ran arg\n"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        run_child([])
    with pytest.raises(ValueError):
        run_child(["true"], sample_interval=0)
    with pytest.raises(ValueError):
        exec_replace([])


# --------------------------------------------------------------------------------------------------------------
# cwd and env


def test_cwd_applies_to_child_only(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    here = os.getcwd()
    result = run_child(["bash", "-c", "pwd -P"], cwd=str(tmp_path))
    assert result.exit_status == 0
    assert capfd.readouterr().out.strip() == os.path.realpath(tmp_path)
    assert os.getcwd() == here


def test_cwd_resolves_relative_program_and_path_entries(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    _script(tmp_path / "work" / "prog", "#!/bin/sh\necho dot-slash\n")
    _script(tmp_path / "work" / "bin" / "tool", "#!/bin/sh\necho relative-path-entry\n")
    run_child(["./prog"], cwd=str(tmp_path / "work"))
    run_child(["tool"], cwd=str(tmp_path / "work"), env={"PATH": "bin"})
    assert capfd.readouterr().out == "dot-slash\nrelative-path-entry\n"


def test_bad_cwd_is_a_gate_error(tmp_path: Path) -> None:
    with pytest.raises(SpawnError) as info:
        run_child(["true"], cwd=str(tmp_path / "missing"))
    assert info.value.exit_status == 125
    assert info.value.message == f"capfence: cd: {tmp_path / 'missing'}: No such file or directory"


def test_cwd_returns_to_a_deleted_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    before = os.stat(".")
    gone.rmdir()
    assert run_child(["true"], cwd=str(tmp_path)).exit_status == 0
    after = os.stat(".")
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_env_is_the_childs_and_its_path_is_searched(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    _script(tmp_path / "only-here" / "show", '#!/bin/sh\necho "FOO=$FOO"\n')
    result = run_child(["show"], env={"PATH": str(tmp_path / "only-here"), "FOO": "bar"})
    assert result.exit_status == 0
    assert capfd.readouterr().out == "FOO=bar\n"


# --------------------------------------------------------------------------------------------------------------
# exec_replace


def _exec_output(driver: Path, env: dict[str, str], *argv: str) -> tuple[int, str]:
    out = subprocess.run([PY, str(driver), "exec", *argv], capture_output=True, text=True, env=env,
                         check=True).stdout
    first, rest = out.split("\n", 1)
    assert first.startswith("driver ")
    return int(first.split()[1]), rest


def test_exec_replace_keeps_pid_and_resets_signals(driver: Path, child_env: dict[str, str]) -> None:
    pid, out = _exec_output(driver, child_env, "bash", "-c", f'echo "pid=$$"; echo traps:; trap -p; {SIGSTATE}')
    assert out.startswith(f"pid={pid}\n")
    traps = out.split("traps:\n", 1)[1].split("SigBlk", 1)[0]
    state = _sigstate(out)
    assert state["SigBlk"] == 0  # the driver had SIGUSR2 blocked
    assert state["SigIgn"] == _own_sigign() & ~PYTHON_IGNORED
    assert "SIGPIPE" not in traps and "SIGXFSZ" not in traps
    if _own_sigign() & ~PYTHON_IGNORED == 0:
        assert traps.strip() == ""


def test_exec_replace_runs_scripts_without_shebang_under_sh(
    driver: Path, child_env: dict[str, str], tmp_path: Path
) -> None:
    _script(tmp_path / "bin" / "plain", 'echo "sh pid $$"\n')
    env = dict(child_env, PATH=f"{tmp_path / 'bin'}:{child_env.get('PATH', os.defpath)}")
    pid, out = _exec_output(driver, env, "plain")
    assert out == f"sh pid {pid}\n"


def test_exec_replace_failure_raises_and_restores_signal_state(tmp_path: Path) -> None:
    with pytest.raises(SpawnError) as info:
        exec_replace(["capfence-no-such-program"], env={"PATH": str(tmp_path)})
    assert info.value.exit_status == 127
    noexec = _script(tmp_path / "noexec", "echo no\n", 0o644)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
    try:
        with pytest.raises(SpawnError) as info:
            exec_replace([str(noexec)])
        assert signal.pthread_sigmask(signal.SIG_BLOCK, ()) == mask | {signal.SIGUSR2}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    assert (info.value.exit_status, info.value.message) == (126, f"capfence: {noexec}: Permission denied")
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN


# --------------------------------------------------------------------------------------------------------------
# find_program


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    d = {name: tmp_path / name for name in ("shim", "other", "real")}
    _script(d["shim"] / "prog", "#!/bin/sh\n")
    _script(d["real"] / "prog", "#!/bin/sh\n")
    d["other"].mkdir()
    return d


def test_find_program_follows_path_order_and_skips_unusable(tmp_path: Path, dirs: dict[str, Path]) -> None:
    path = os.pathsep.join(str(dirs[n]) for n in ("other", "shim", "real"))
    assert find_program("prog", path) == str(dirs["shim"] / "prog")
    _script(dirs["other"] / "prog", "#!/bin/sh\n", 0o644)  # not executable: skipped, as execvp does
    assert find_program("prog", path) == str(dirs["shim"] / "prog")
    (dirs["other"] / "prog").unlink()
    (dirs["other"] / "prog").mkdir()  # a directory: skipped
    assert find_program("prog", path) == str(dirs["shim"] / "prog")
    assert find_program("missing", path) is None
    assert find_program("", path) is None


def test_find_program_names_with_a_slash(tmp_path: Path, dirs: dict[str, Path]) -> None:
    assert find_program(str(dirs["real"] / "prog"), "") == str(dirs["real"] / "prog")
    assert find_program(str(dirs["real"] / "nope"), str(dirs["real"])) is None


def test_find_program_default_and_empty_entries(
    tmp_path: Path, dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(dirs["real"]))
    assert find_program("prog", None) == str(dirs["real"] / "prog")
    monkeypatch.chdir(dirs["shim"])
    assert find_program("prog", f"{dirs['other']}::{dirs['real']}") == os.path.join(".", "prog")


def test_find_program_excludes_shim_dir_listed_twice(dirs: dict[str, Path]) -> None:
    path = os.pathsep.join(str(dirs[n]) for n in ("shim", "other", "shim", "real"))
    assert find_program("prog", path, exclude_dirs=(str(dirs["shim"]),)) == str(dirs["real"] / "prog")


def test_find_program_excludes_shim_dir_through_symlinks(tmp_path: Path, dirs: dict[str, Path]) -> None:
    link = tmp_path / "shim-link"
    link.symlink_to(dirs["shim"])
    path = os.pathsep.join([str(link), str(dirs["real"])])
    assert find_program("prog", path, exclude_dirs=(str(dirs["shim"]),)) == str(dirs["real"] / "prog")
    path = os.pathsep.join([str(dirs["shim"]), str(dirs["real"])])
    assert find_program("prog", path, exclude_dirs=(str(link),)) == str(dirs["real"] / "prog")


def test_find_program_skips_symlink_back_into_shim_dir(tmp_path: Path, dirs: dict[str, Path]) -> None:
    (dirs["other"] / "prog").symlink_to(dirs["shim"] / "prog")
    path = os.pathsep.join(str(dirs[n]) for n in ("shim", "other", "real"))
    excluded = (str(dirs["shim"]),)
    assert find_program("prog", path, exclude_dirs=excluded) == str(dirs["real"] / "prog")
    # a symlink to a real program elsewhere is fine
    (dirs["other"] / "prog").unlink()
    (dirs["other"] / "prog").symlink_to(dirs["real"] / "prog")
    assert find_program("prog", path, exclude_dirs=excluded) == str(dirs["other"] / "prog")
    assert stat.S_ISLNK(os.lstat(dirs["other"] / "prog").st_mode)
