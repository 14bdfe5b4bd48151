"""Installing, inspecting and removing the PATH shims (the runtime a shim runs is capfence_sh/shim.py).

A shim is a small Python script (template: shims/shim.in) run by this installation's interpreter with `-I -S`,
so nothing in an agent's environment (PYTHONPATH, site hooks) can change what it imports.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass

SIGNATURE = "# capfence PATH shim"
SHELL_SHIMS = ("bash", "sh", "zsh", "dash")
ALWAYS_SHELLS = ("bash", "sh")  # installed even when absent here: an agent's SHELL may point at them
# The programs the default pack has rules for: each gets a shim, so nested calls (make, scripts, xargs) are gated.
PACKS: dict[str, tuple[str, ...]] = {
    "default": ("rm", "rmdir", "unlink", "shred", "truncate", "mv", "cp", "ln", "dd", "mkfs", "mkfs.ext4",
                "mkfs.xfs", "mkfs.vfat", "wipefs", "fdisk", "parted", "chmod", "chown", "chgrp", "git", "curl",
                "wget", "ssh", "scp", "rsync", "psql", "mysql", "redis-cli", "mongosh", "sqlite3", "kubectl",
                "helm", "terraform", "aws", "gcloud", "az", "docker", "podman", "npm", "pnpm", "yarn", "pip",
                "pip3", "sudo", "su", "doas", "shutdown", "reboot", "poweroff", "systemctl", "kill", "pkill",
                "killall", "crontab", "find", "tar"),
    "minimal": ("rm", "dd", "git", "curl", "wget", "sudo", "chmod", "chown", "kubectl", "terraform"),
}


@dataclass(frozen=True)
class ShimStatus:
    directory: str
    installed: tuple[str, ...]
    first_on_path: bool
    shadowed: tuple[str, ...]  # installed shims that another PATH entry wins over


def template_text() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "shim_templates", "shim.in"), os.path.join(os.path.dirname(here), "shims", "shim.in")):
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as handle:
                return handle.read()
    raise FileNotFoundError("the shim template (shims/shim.in) is missing from this installation")


def import_paths() -> list[str]:
    """Where this installation's capfence_sh and its dependencies are, for a shim that skips site processing."""
    import capfence_sh

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(capfence_sh.__file__)))
    paths = [package_parent]
    for entry in sys.path:
        if entry and (entry.endswith("site-packages") or entry.endswith("dist-packages")) and entry not in paths:
            paths.append(entry)
    return paths


def render(shim_dir: str) -> str:
    text = template_text()
    return (text.replace("@PYTHON@", sys.executable)
            .replace("@PATHS@", repr(import_paths()))
            .replace("@SHIM_DIR@", repr(os.path.abspath(shim_dir))))


def names_for(commands: list[str] | None, pack: str | None) -> list[str]:
    names: list[str] = list(ALWAYS_SHELLS)
    names += [s for s in SHELL_SHIMS if s not in names and shutil.which(s)]
    if commands:
        names += [c.strip() for c in commands if c.strip()]
    else:
        if pack not in PACKS:
            raise ValueError(f"unknown shim pack {pack!r} (known: {', '.join(PACKS)})")
        names += list(PACKS[pack])
    for name in names:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a program name: {name!r}")
    return list(dict.fromkeys(names))


def install(shim_dir: str, names: list[str]) -> list[str]:
    os.makedirs(shim_dir, mode=0o755, exist_ok=True)
    text = render(shim_dir)
    written = []
    for name in names:
        path = os.path.join(shim_dir, name)
        if os.path.lexists(path) and not is_shim(path):
            raise FileExistsError(f"{path} exists and is not a capfence shim; not overwriting it")
        temp = f"{path}.{os.getpid()}.tmp"
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o755)
        os.replace(temp, path)
        written.append(name)
    return written


def is_shim(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return SIGNATURE.encode() in head


def installed(shim_dir: str) -> list[str]:
    try:
        entries = sorted(os.listdir(shim_dir))
    except OSError:
        return []
    return [name for name in entries if is_shim(os.path.join(shim_dir, name))]


def uninstall(shim_dir: str) -> list[str]:
    removed = []
    for name in installed(shim_dir):
        os.unlink(os.path.join(shim_dir, name))
        removed.append(name)
    try:
        os.rmdir(shim_dir)
    except OSError:
        pass  # not empty (other files there) or already gone: leave it
    return removed


def status(shim_dir: str, path_value: str) -> ShimStatus:
    names = installed(shim_dir)
    entries = [e for e in path_value.split(os.pathsep) if e]
    real_dir = os.path.realpath(shim_dir)
    first = bool(entries) and os.path.realpath(entries[0]) == real_dir
    shadowed = []
    for name in names:
        for entry in entries:
            candidate = os.path.join(entry, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                if os.path.realpath(entry) != real_dir:
                    shadowed.append(name)
                break
    return ShimStatus(shim_dir, tuple(names), first, tuple(shadowed))


LAUNCHER = """#!{python} -IS
# capfence: the `capfence` command, written by install.sh. Runs this installation's interpreter without site
# processing (-I -S): faster to start, and nothing in the caller's environment can change what it imports.
import sys
sys.path[:0] = {paths!r}
from capfence_sh.fast import main
sys.exit(main())
"""


def write_launcher(path: str) -> None:
    """The `capfence` command install.sh puts on PATH (pip's own script imports `re` first: ~8 ms per call)."""
    text = LAUNCHER.format(python=sys.executable, paths=import_paths())
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temp, 0o755)
    os.replace(temp, path)


def env_lines(shim_dir: str) -> list[str]:
    directory = os.path.abspath(shim_dir)
    return [f'export PATH="{directory}:$PATH"', f'export SHELL="{os.path.join(directory, "bash")}"',
            f'export CAPFENCE_SHIM_DIR="{directory}"']
