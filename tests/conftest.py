"""Shared fixtures: a scratch HOME with its own XDG directories (the real `~` is never touched), a workspace,
and a runner for the real `capfence` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def capfence_command() -> list[str]:
    """The installed console script next to this interpreter, else the module."""
    script = Path(sys.executable).parent / "capfence"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "capfence_sh.fast"]


@dataclass
class Sandbox:
    home: Path
    workspace: Path
    env: dict[str, str]

    @property
    def audit(self) -> Path:
        return self.home / ".local" / "state" / "capfence" / "audit.jsonl"

    def run(self, *args: str, input: str | bytes | None = None, cwd: Path | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        merged = dict(self.env)
        if env:
            merged.update(env)
        text = not isinstance(input, bytes)
        return subprocess.run([*capfence_command(), *args], input=input, capture_output=True, text=text,
                              cwd=str(cwd or self.workspace), env=merged, timeout=timeout)

    def write_policy(self, name: str, text: str) -> Path:
        path = self.home / name
        path.write_text(text)
        return path


def scratch_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPFENCE_", "XDG_"))}
    env.update({
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "CAPFENCE_ACTOR": "test-agent",
        "NO_COLOR": "1",
        # Every test decides in its own process unless it starts a decision service on purpose
        # (tests/test_service.py): otherwise each scratch HOME would get a background service.
        "CAPFENCE_SERVICE": "off",
    })
    return env


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    home = tmp_path / "home"
    workspace = home / "project"
    (workspace / ".git").mkdir(parents=True)
    return Sandbox(home, workspace, scratch_env(home))


@pytest.fixture
def bash() -> str:
    found = shutil.which("bash")
    assert found, "bash is needed by the tests"
    return found


def pytest_terminal_summary(terminalreporter) -> None:
    """How many examples the fuzz properties ran (tests/corpus/test_fuzz.py), for the record."""
    for module in list(sys.modules.values()):
        counts = getattr(module, "__dict__", {}).get("FUZZ_COUNTS")
        if isinstance(counts, dict) and counts:
            parts = ", ".join(f"{name}: {n:,}" for name, n in counts.items())
            terminalreporter.write_line(f"fuzz examples run: {parts}")
            return
