"""Spawning an allowed command: the child runs on the gate's own terminal, the gate waits and reports.

This module is on the gate's hot path, including the lean client of the decision service, so it imports only
modules that are already loaded or built in: `_signal` rather than `signal` (which builds an IntEnum, pulling in
`enum`), a plain class rather than a dataclass (`dataclasses` imports `inspect`, ~10 ms), no subprocess,
threading, asyncio or typing. `psutil` is imported
only once a child has outlived its first sampling interval, so short commands never pay for it and long ones
pay while the child is already running.

Terminal and signals
--------------------
The child inherits fds 0/1/2 and stays in the gate's process group and session: to the terminal and to job
control, gate and child are one foreground job. Consequently a signal the terminal generates (Ctrl-C, Ctrl-\\,
a window resize) already reaches the child; the gate must forward only signals that a *process* sent to the
gate itself. The gate blocks the forwardable signals and SIGCHLD before spawning and collects them with
`sigtimedwait`, whose siginfo tells who sent them: `si_code <= 0` (SI_USER 0, SI_QUEUE -1, SI_TKILL -6, ...)
means kill()/sigqueue()/tgkill() from a process; `si_code > 0` (SI_KERNEL 0x80) means the kernel, which is
how the tty line discipline sends SIGINT/SIGQUIT/SIGWINCH/SIGHUP to the foreground process group.

Known limit: a process that signals the whole process group (`kill -- -PGID`, a shell hanging up its jobs)
reaches the child directly *and* through the gate; the gate cannot tell that apart from `kill PID` aimed at
it alone, and not forwarding the latter (an agent terminating its command) would be the worse failure.

Signals the caller has set to SIG_IGN (e.g. SIGHUP under `nohup`) are neither forwarded nor reset for the
child, exactly as if the gate were not there. The two dispositions CPython itself changes at start-up,
SIGPIPE and SIGXFSZ, are reset to SIG_DFL for the child, and the child starts with an empty signal mask.
(glibc's posix_spawn leaves its two internal signals, 32 and 33, at SIG_IGN in the child; Python cannot name
them in `setsigdef`, and glibc programs cannot use them: SIGRTMIN is 34.)

Linux is the target (sigtimedwait, /proc through psutil, ru_maxrss in KiB).
"""

from __future__ import annotations

import _signal as signal  # the C module: same functions and constants, without signal.py's enums
import errno
import os
import stat
import sys
import time

from capfence_sh.errors import EXIT_GATE_ERROR, EXIT_NOT_FOUND

# Not `from typing import ...`: typing costs ~10 ms to import and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from resource import struct_rusage
    from typing import NoReturn

__all__ = ["ChildResult", "SpawnError", "exec_replace", "find_program", "run_child"]

EXIT_CANNOT_EXECUTE = 126  # bash's code for "found but cannot be executed"
_SIGNAL_EXIT_BASE = 128  # the shell convention: killed by signal N -> 128+N

FORWARDED_SIGNALS: tuple[int, ...] = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)
# CPython sets these to SIG_IGN at start-up; SIG_IGN survives exec, so a child would otherwise inherit them
# (`yes | head -1` would then see EPIPE instead of dying quietly of SIGPIPE).
_PYTHON_IGNORED: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ") if hasattr(signal, name)
)
# A sample may cost up to this fraction of the time between samples (psutil walks all of /proc to find the
# child's descendants, which is slow on a host with thousands of processes).
_MAX_SAMPLING_SHARE = 0.05
_BINARY_PROBE_BYTES = 80  # what bash reads to tell a script without #! from a binary
_FALLBACK_SHELL = "/bin/sh"


class ChildResult:
    """How a spawned command ended. (A plain class: see the module docstring for why not a dataclass.)"""

    __slots__ = ("exit_status", "signal", "wall_seconds", "cpu_seconds", "peak_rss_bytes")

    def __init__(self, exit_status: int, signal: int | None, wall_seconds: float, cpu_seconds: float,
                 peak_rss_bytes: int | None) -> None:
        self.exit_status = exit_status  # what the gate must exit with: the child's code, or 128+N for signal N
        self.signal = signal  # N when the child died of a signal
        self.wall_seconds = wall_seconds
        self.cpu_seconds = cpu_seconds  # user+sys of the child and its waited-for descendants
        # Peak of the summed RSS of the child's process tree, sampled; at least the child's own ru_maxrss (which
        # covers children too short-lived to sample); None if not measurable.
        self.peak_rss_bytes = peak_rss_bytes

    def __repr__(self) -> str:
        return (f"ChildResult(exit_status={self.exit_status}, signal={self.signal}, "
                f"wall_seconds={self.wall_seconds:.3f}, cpu_seconds={self.cpu_seconds:.3f}, "
                f"peak_rss_bytes={self.peak_rss_bytes})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChildResult) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)


class SpawnError(OSError):
    """The program could not be started, so nothing ran.

    `exit_status` is 127 (not found) or 126 (found but not executable), or 125 when `cwd` is unusable;
    `message` is one line in bash's words, e.g. "capfence: foo: command not found".
    The constructor keeps OSError's positional signature so that the exception pickles.
    """

    exit_status: int
    message: str

    def __init__(
        self,
        errno_: int,
        strerror: str,
        filename: str | None = None,
        *,
        exit_status: int | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(errno_, strerror, filename)
        if exit_status is None:
            exit_status = EXIT_NOT_FOUND if errno_ == errno.ENOENT else EXIT_CANNOT_EXECUTE
        self.exit_status = exit_status
        self.message = message if message is not None else f"capfence: {filename}: {strerror}"

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------------------------------------------
# PATH search


def find_program(name: str, path: str | None, *, exclude_dirs: tuple[str, ...] = ()) -> str | None:
    """Where execvp would find `name` on `path` (None: this process's PATH), or None.

    A name containing a slash is returned as is if it exists. PATH entries that are the same directory as one
    of `exclude_dirs` (e.g. the directory of capfence's own PATH shims) are skipped, as is a candidate that is
    a symlink resolving into an excluded directory, so a shim never finds itself. Directory identity is
    compared by (st_dev, st_ino), which equals comparing realpaths and needs one stat instead of an lstat per
    path component; it is computed only when there is something to exclude.
    """
    found, _denied = _search(name, path, exclude_dirs)
    return found


def _search(name: str, path: str | None, exclude_dirs: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(first executable match, first non-executable regular file seen before it)."""
    if "/" in name:
        return (name if os.path.exists(name) else None), None
    if not name:
        return None, None
    if path is None:
        path = os.environ.get("PATH", os.defpath)
    excluded = _dir_ids(exclude_dirs)
    denied: str | None = None
    seen: set[tuple[int, int]] = set()
    for entry in path.split(os.pathsep):
        directory = entry or "."  # an empty PATH entry means the current directory, as for execvp
        candidate = os.path.join(directory, name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if excluded:
            dir_id = _dir_id(directory)
            if dir_id is None or dir_id in excluded or dir_id in seen:
                continue
            seen.add(dir_id)
            if os.path.islink(candidate) and _dir_id(os.path.dirname(os.path.realpath(candidate))) in excluded:
                continue
        if not os.access(candidate, os.X_OK):
            denied = denied or candidate  # execvp keeps looking, then reports EACCES
            continue
        return candidate, denied
    return None, denied


def _dir_id(directory: str) -> tuple[int, int] | None:
    try:
        st = os.stat(directory)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _dir_ids(dirs: tuple[str, ...]) -> frozenset[tuple[int, int]]:
    return frozenset(i for i in map(_dir_id, dirs) if i is not None)


# --------------------------------------------------------------------------------------------------------------
# Errors in bash's words


def _not_found(name: str) -> SpawnError:
    if "/" in name:
        return SpawnError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    message = f"capfence: {name}: command not found"
    return SpawnError(errno.ENOENT, os.strerror(errno.ENOENT), name, message=message)


def _resolve(name: str, env: Mapping[str, str], program: str | None) -> str:
    if program is not None:
        return program
    found, denied = _search(name, env.get("PATH", os.defpath), ())
    if found is not None:
        return found
    if denied is not None:
        return denied  # spawning it fails with EACCES, reported with its full path as bash does
    raise _not_found(name)


def _spawn_error(err: OSError, path: str) -> SpawnError:
    code = err.errno if err.errno is not None else errno.EIO
    strerror = os.strerror(code)
    if code == errno.ENOENT:
        if os.path.lexists(path):
            # The file is there, so its #! interpreter (or ELF loader) is missing; bash 5.2's wording.
            return SpawnError(code, strerror, path, exit_status=EXIT_NOT_FOUND,
                              message=f"capfence: {path}: cannot execute: required file not found")
        return _not_found(path)
    if code == errno.EACCES and os.path.isdir(path):
        return SpawnError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if code == errno.ENOEXEC:
        message = f"capfence: {path}: cannot execute binary file: {strerror}"
        return SpawnError(code, strerror, path, message=message)
    return SpawnError(code, strerror, path)


def _is_binary(path: str) -> bool:
    """bash's check_binary_file: ELF, or a NUL in the first line (two lines after "#!") of the first 80 bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(_BINARY_PROBE_BYTES)
    except OSError:
        return True
    if head.startswith(b"\x7fELF"):
        return True
    lines = 2 if head.startswith(b"#!") else 1
    return b"\0" in b"\n".join(head.split(b"\n", lines)[:lines])


# --------------------------------------------------------------------------------------------------------------
# Spawning


def run_child(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    sample_interval: float = 0.05,
    program: str | None = None,
) -> ChildResult:
    """Run `argv` on the gate's terminal, forward signals sent to the gate, wait, and report.

    `argv[0]` is searched on the PATH of `env` (default: this process's environment) like execvp, after
    changing to `cwd`, so relative PATH entries and "./prog" mean what they would in the child. `program`,
    if given, is the executable to run instead (argv[0] is then passed unchanged). An executable file that
    the kernel refuses as a format but that is not binary is run as a script by /bin/sh, as execvp does.

    Raises SpawnError if the program could not be started (nothing ran, the terminal is untouched).
    The signal mask is restored before returning; forwardable signals still pending once the child has been
    reaped are discarded (the child they were meant for is gone, the gate is about to exit anyway).
    Single-threaded callers only: the mask and, with `cwd`, the working directory are process state.
    """
    if not argv:
        raise ValueError("argv must not be empty")
    if not sample_interval > 0:
        raise ValueError("sample_interval must be positive")
    spawn_env = os.environ if env is None else env
    forward = frozenset(s for s in FORWARDED_SIGNALS if signal.getsignal(s) != signal.SIG_IGN)
    waitset = forward | {signal.SIGCHLD}
    # With SIGCHLD ignored the kernel reaps the child itself and wait4 loses its status and rusage.
    chld_ignored = signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
    if chld_ignored:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, waitset)
    try:
        start = time.monotonic()
        pid = _spawn(argv, spawn_env, cwd, program)
        status, rusage, sampled_peak = _supervise(pid, forward, waitset, sample_interval)
        wall = time.monotonic() - start
    finally:
        _drain(waitset)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        if chld_ignored:
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)

    code = os.waitstatus_to_exitcode(status)
    died_of = -code if code < 0 else None
    maxrss = rusage.ru_maxrss if sys.platform == "darwin" else rusage.ru_maxrss * 1024
    peak = max(sampled_peak or 0, maxrss) or None
    return ChildResult(
        exit_status=_SIGNAL_EXIT_BASE + died_of if died_of is not None else code,
        signal=died_of,
        wall_seconds=wall,
        cpu_seconds=rusage.ru_utime + rusage.ru_stime,
        peak_rss_bytes=peak,
    )


def _spawn(argv: list[str], env: Mapping[str, str], cwd: str | None, program: str | None) -> int:
    if cwd is None:
        return _spawn_here(argv, env, program)
    # Python 3.11's posix_spawn has no chdir file action (posix_spawn_file_actions_addchdir_np is not exposed,
    # reaching it through ctypes would cost more than the whole spawn). So the parent changes directory around
    # the spawn and returns through an O_PATH fd, which works even if the old directory is renamed, deleted or
    # unreadable. Safe because the gate is single-threaded; it also makes the PATH search see the child's cwd.
    saved = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            os.chdir(cwd)
        except OSError as err:
            code = err.errno if err.errno is not None else errno.EIO
            raise SpawnError(code, os.strerror(code), cwd, exit_status=EXIT_GATE_ERROR,
                             message=f"capfence: cd: {cwd}: {os.strerror(code)}") from None
        try:
            return _spawn_here(argv, env, program)
        finally:
            os.fchdir(saved)
    finally:
        os.close(saved)


def _spawn_here(argv: list[str], env: Mapping[str, str], program: str | None) -> int:
    path = _resolve(argv[0], env, program)
    try:
        return os.posix_spawn(path, argv, env, setsigmask=(), setsigdef=_PYTHON_IGNORED)
    except OSError as err:
        if err.errno != errno.ENOEXEC or _is_binary(path):
            raise _spawn_error(err, path) from None
    try:
        return os.posix_spawn(_FALLBACK_SHELL, [_FALLBACK_SHELL, path, *argv[1:]], env,
                              setsigmask=(), setsigdef=_PYTHON_IGNORED)
    except OSError as err:
        raise _spawn_error(err, _FALLBACK_SHELL) from None


def _supervise(
    pid: int, forward: frozenset[int], waitset: frozenset[int], interval: float
) -> tuple[int, struct_rusage, int | None]:
    """Wait for `pid`, forwarding process-sent signals and sampling RSS; returns (status, rusage, peak)."""
    sampler: _TreeSampler | None = None
    peak: int | None = None
    next_sample = time.monotonic() + interval  # later gaps widen if sampling turns out expensive
    while True:
        info = signal.sigtimedwait(waitset, max(0.0, next_sample - time.monotonic()))
        if info is not None:
            signo = info.si_signo
            if signo in forward and info.si_code <= 0 and info.si_pid != pid:
                # si_code <= 0: sent by a process (SI_USER/SI_QUEUE/SI_TKILL). Not forwarded back to the child
                # when the child itself sent it (it signalled its group or its parent).
                try:
                    os.kill(pid, signo)
                except ProcessLookupError:
                    pass  # already reaped elsewhere; wait4 below reports it
            elif signo == signal.SIGCHLD:
                done, status, rusage = os.wait4(pid, os.WNOHANG)
                if done:
                    return status, rusage, peak
            if time.monotonic() < next_sample:
                continue
        # A sampling tick. Poll too, so a SIGCHLD consumed by someone else cannot leave the gate waiting forever.
        done, status, rusage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, rusage, peak
        if sampler is None:
            sampler = _TreeSampler(pid)  # imports psutil: only children that outlive one interval pay for it
        began = time.monotonic()
        rss = sampler.sample()
        if rss is not None and (peak is None or rss > peak):
            peak = rss
        now = time.monotonic()
        next_sample = now + max(interval, (now - began) / _MAX_SAMPLING_SHARE)


def _drain(waitset: frozenset[int]) -> None:
    pending = signal.sigpending() & waitset
    for signo in pending:
        signal.sigtimedwait((signo,), 0)


class _TreeSampler:
    """Summed RSS of a process and all its descendants, through psutil; disables itself on any psutil failure."""

    __slots__ = ("_psutil", "_root")

    def __init__(self, pid: int) -> None:
        self._psutil = None
        self._root = None
        try:
            import psutil
        except ImportError:
            return  # peak falls back to the child's ru_maxrss from wait4
        try:
            self._root = psutil.Process(pid)
        except (psutil.Error, OSError):
            return
        self._psutil = psutil

    def sample(self) -> int | None:
        psutil = self._psutil
        if psutil is None or self._root is None:
            return None
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except (psutil.Error, OSError):
            self._psutil = None
            return None
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except (psutil.Error, OSError):
                continue  # exited between listing and reading: it holds no memory any more
        return total


# --------------------------------------------------------------------------------------------------------------
# exec


def exec_replace(argv: list[str], *, env: dict[str, str] | None = None, program: str | None = None) -> NoReturn:
    """Replace this process with `argv` (PATH search like execvp, or `program` if given); no process stays in
    between. The new program gets an empty signal mask and SIG_DFL for the signals CPython ignores; other
    inherited SIG_IGN dispositions stay (as through any exec). Raises SpawnError, with this process's signal
    state restored, if the exec fails."""
    if not argv:
        raise ValueError("argv must not be empty")
    spawn_env = os.environ if env is None else env
    path = _resolve(argv[0], spawn_env, program)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                continue  # a closed or broken stream has nothing to lose; the exec must still happen
    old_handlers = [(signo, signal.signal(signo, signal.SIG_DFL)) for signo in _PYTHON_IGNORED]
    old_mask = signal.pthread_sigmask(signal.SIG_SETMASK, ())
    try:
        try:
            os.execve(path, argv, spawn_env)
        except OSError as err:
            if err.errno != errno.ENOEXEC or _is_binary(path):
                raise _spawn_error(err, path) from None
        try:
            os.execve(_FALLBACK_SHELL, [_FALLBACK_SHELL, path, *argv[1:]], spawn_env)
        except OSError as err:
            raise _spawn_error(err, _FALLBACK_SHELL) from None
    finally:
        # Reached only when no exec succeeded.
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for signo, handler in old_handlers:
            signal.signal(signo, handler)
