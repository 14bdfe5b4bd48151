"""install.sh, run for real under a scratch HOME: it installs capfence into its own virtual environment and writes a
`capfence` launcher that runs the installed copy (never the checkout it was installed from)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, scratch_env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    home = tmp_path_factory.mktemp("install") / "home"
    (home / "project" / ".git").mkdir(parents=True)
    bin_dir = home / ".local" / "bin"
    env = scratch_env(home)
    env["PATH"] = f"{bin_dir}:{os.path.dirname(sys.executable)}:/usr/bin:/bin"
    env["CAPFENCE_PYTHON"] = sys.executable
    result = subprocess.run(["bash", str(REPO / "install.sh")], cwd=str(REPO), env=env, capture_output=True,
                            text=True, timeout=600)
    if result.returncode != 0 and "No matching distribution" in result.stderr:
        pytest.skip("no package index reachable to install capfence's dependencies")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"capfence installed: {bin_dir / 'capfence'}" in result.stdout
    return home, bin_dir / "capfence", env


def test_the_launcher_runs_the_installed_copy(installed):
    home, launcher, env = installed
    text = launcher.read_text()
    assert text.startswith("#!") and " -IS" in text.splitlines()[0]
    assert str(REPO) not in text, "the launcher must not point at the checkout"
    check = subprocess.run([str(launcher), "check", "--json", "-c", "git status"], cwd=str(home / "project"),
                           env=env, capture_output=True, text=True, timeout=120)
    data = json.loads(check.stdout)
    venv = home / ".local" / "share" / "capfence" / "venv"
    assert data["decision"] == "allow" and data["policy"]["path"].startswith(str(venv))


def test_the_readme_command_runs(installed):
    home, launcher, env = installed
    hello = subprocess.run(["capfence", "exec", "--", "echo", "hello"], cwd=str(home / "project"), env=env,
                           capture_output=True, text=True, timeout=120)
    assert (hello.returncode, hello.stdout) == (0, "hello\n"), hello.stderr


def test_installing_again_upgrades_in_place(installed):
    home, launcher, env = installed
    again = subprocess.run(["bash", str(REPO / "install.sh")], cwd=str(REPO), env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert launcher.exists() and not launcher.is_symlink()
    assert shutil.which("capfence", path=env["PATH"]) == str(launcher)
