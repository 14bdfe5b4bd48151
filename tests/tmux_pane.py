"""A real terminal for UI tests: one program in a tmux pane on a private tmux server (its own socket in its own
directory, so no other tmux session is ever touched), driven with send-keys and read with capture-pane."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

TMUX = shutil.which("tmux")


class Pane:
    def __init__(self, tmp_path: Path, env: dict[str, str], cwd: Path, command: list[str], *, width: int = 80,
                 height: int = 24) -> None:
        assert TMUX, "tmux is needed by the UI tests"
        # A socket of our own in a directory of our own (short: a socket path is limited to ~100 bytes).
        self._dir = tempfile.mkdtemp(prefix="capfence-tmux-")
        self.socket = os.path.join(self._dir, "s")
        self.session = "review"
        self.env = {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE")}
        self.env.setdefault("TERM", "xterm-256color")
        conf = tmp_path / f"tmux-{os.path.basename(self._dir)}.conf"
        # No status bar (the pane gets every row); the pane stays after the program exits (its last screen readable).
        conf.write_text("set -g status off\nset -g remain-on-exit on\nset -g history-limit 100\n"
                        "set -g default-terminal xterm-256color\n")
        self._conf = str(conf)
        # tmux records a dead pane's status only sometimes (#{pane_dead_status} can stay empty), so a shell around
        # the program writes it to a file; the program's stdin and stdout are still the pane's terminal.
        self._status = tmp_path / f"tmux-{os.path.basename(self._dir)}.status"
        self.started = True
        try:
            self._tmux("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height), "-c", str(cwd),
                       "sh", "-c", '"$@"; echo "$?" > "$0.tmp" && mv "$0.tmp" "$0"', str(self._status), *command)
        except BaseException:
            self.close()
            raise

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([TMUX, "-S", self.socket, "-f", self._conf, *args], env=self.env, capture_output=True,
                              text=True, timeout=20, check=check)

    def capture(self, escapes: bool = False) -> str:
        result = self._tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", self.session)
        return result.stdout

    def send(self, *keys: str) -> None:
        """Named keys as tmux spells them (Enter, Escape, Tab, Down, NPage, ...) or single characters."""
        for key in keys:
            self._tmux("send-keys", "-t", self.session, key)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.session, "-l", text)

    def wait_for(self, wanted: str | re.Pattern | Callable[[str], bool], timeout: float = 20.0) -> str:
        """The pane's text once `wanted` is on it and the screen is settled (two captures a moment apart agree:
        a frame can be captured half drawn); fails with the last capture when that never happens."""
        def found(screen: str) -> bool:
            if callable(wanted):
                return wanted(screen)
            if isinstance(wanted, re.Pattern):
                return wanted.search(screen) is not None
            return wanted in screen

        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if found(screen):
                time.sleep(0.1)
                again = self.capture()
                if again == screen:
                    return screen
                continue
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {wanted!r}; the pane shows:\n{screen}")

    def dead_status(self) -> int | None:
        """The program's exit status once it has ended, else None."""
        try:
            return int(self._status.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def wait_exit(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.dead_status()
            if status is not None:
                return status
            time.sleep(0.1)
        raise AssertionError(f"the program did not exit; the pane shows:\n{self.capture()}")

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", self.session, "-x", str(width), "-y", str(height))

    def close(self) -> None:
        if not self.started:
            return
        self.started = False
        self._tmux("kill-session", "-t", self.session, check=False)
        self._tmux("kill-server", check=False)
        for leftover in (self.socket, self._dir):
            try:
                (os.rmdir if leftover == self._dir else os.unlink)(leftover)
            except FileNotFoundError:
                pass
