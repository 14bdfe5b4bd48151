"""The terminal under the review UI: cbreak mode, keys (with escape sequences decoded), resize and stop signals,
and putting everything back however the UI ends (quit, exception, SIGTERM, SIGHUP, Ctrl-C).

cbreak rather than raw: output post-processing stays on (rich writes "\\n"), and Ctrl-C still raises
KeyboardInterrupt, which unwinds through the same `finally` as a quit.
"""

from __future__ import annotations

import codecs
import os
import select
import signal
import termios
import tty
from typing import Callable

# Escape sequences of the keys the UI knows, as xterm, tmux and the Linux console send them.
_SEQUENCES = {
    "[A": "up", "[B": "down", "[C": "right", "[D": "left", "OA": "up", "OB": "down", "OC": "right", "OD": "left",
    "[H": "home", "[F": "end", "OH": "home", "OF": "end", "[1~": "home", "[4~": "end", "[7~": "home",
    "[8~": "end", "[5~": "pageup", "[6~": "pagedown", "[3~": "delete", "[Z": "backtab",
}
_SINGLE = {"\r": "enter", "\n": "enter", "\t": "tab", "\x7f": "backspace", "\x08": "backspace", "\x15": "kill-line",
           "\x17": "kill-word", "\x0c": "redraw"}
ESC_WAIT = 0.05  # how long a lone ESC waits for the rest of a sequence before it counts as the Esc key


class Stopped(Exception):
    """SIGTERM or SIGHUP arrived: leave the UI (the terminal is restored on the way out)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Terminal:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: list | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self.resized = True
        self.suspend_requested = False
        self._old_handlers: dict[int, object] = {}

    # --- modes and signals ----------------------------------------------------------------------------------

    def enter(self) -> None:
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)
        for signum, handler in ((signal.SIGWINCH, self._on_winch), (signal.SIGTERM, self._on_stop),
                                (signal.SIGHUP, self._on_stop), (signal.SIGTSTP, self._on_tstp)):
            self._old_handlers[signum] = signal.signal(signum, handler)

    def restore(self) -> None:
        """Back to the modes the terminal had; safe to call twice."""
        if self._saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except termios.error:
                pass  # the terminal is gone (SIGHUP): nothing left to restore
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._old_handlers.clear()

    def close(self) -> None:
        self.restore()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def suspend(self, leave: Callable[[], None], back: Callable[[], None]) -> None:
        """Ctrl-Z: leave the screen, give the terminal back, stop; on `fg`, take it again."""
        leave()
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # stops here until SIGCONT
        signal.signal(signal.SIGTSTP, self._on_tstp)
        tty.setcbreak(self.fd, termios.TCSANOW)
        self.resized = True
        back()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass  # the pipe is full: a wake-up is already pending

    def _on_winch(self, signum, frame) -> None:
        self.resized = True
        self._wake()

    def _on_tstp(self, signum, frame) -> None:
        self.suspend_requested = True
        self._wake()

    def _on_stop(self, signum, frame) -> None:
        raise Stopped(signum)

    # --- keys -----------------------------------------------------------------------------------------------

    def read_keys(self, timeout: float) -> list[str]:
        """Keys pressed within `timeout` seconds (returns early on a key or a signal); [] when none."""
        try:
            ready, _, _ = select.select([self.fd, self._wake_r], [], [], max(timeout, 0))
        except InterruptedError:  # pragma: no cover - Python retries select itself (PEP 475)
            return []
        if self._wake_r in ready:
            try:
                os.read(self._wake_r, 512)
            except BlockingIOError:
                pass
        if self.fd not in ready:
            return []
        keys, rest = decode_keys(self._buffer + self._read())
        if rest:  # the start of an escape sequence: its rest is on its way, or it was the Esc key
            more, _, _ = select.select([self.fd], [], [], ESC_WAIT)
            if more:
                rest += self._read()
            more_keys, rest = decode_keys(rest, final=True)
            keys += more_keys
        self._buffer = rest
        return [k for k in keys if k != "unknown"]

    def _read(self) -> str:
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        if not data:
            raise Stopped(signal.SIGHUP)  # end of input: the terminal went away
        return self._decoder.decode(data)


def decode_keys(text: str, final: bool = False) -> tuple[list[str], str]:
    """Keys in `text`, and what is left over (an incomplete sequence, unless `final`). Printable characters are
    themselves; named keys are lower-case words (up, down, enter, esc, ...)."""
    keys: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\x1b":
            rest = text[i + 1:]
            if not rest:
                if not final:
                    break
                keys.append("esc")
                i += 1
                continue
            matched = _match_sequence(rest)
            if matched is None:
                if not final and _could_be_sequence(rest):
                    break
                keys.append("esc")
                i += 1
                continue
            name, length = matched
            keys.append(name)
            i += 1 + length
            continue
        keys.append(_SINGLE.get(ch, ch if ch.isprintable() else ""))
        i += 1
    return [k for k in keys if k], text[i:]


def _match_sequence(rest: str) -> tuple[str, int] | None:
    for sequence, name in _SEQUENCES.items():
        if rest.startswith(sequence):
            return name, len(sequence)
    if rest[:1] in ("[", "O"):
        # An unknown CSI/SS3 sequence (a function key, a modified arrow): swallow it whole, it is not text.
        end = 1
        while end < len(rest) and (rest[end].isdigit() or rest[end] in ";?"):
            end += 1
        if end < len(rest):
            return "unknown", end + 1
    return None


def _could_be_sequence(rest: str) -> bool:
    return rest[:1] in ("[", "O") and all(c.isdigit() or c in ";?" for c in rest[1:])
