"""Path normalisation for targets: `~`, `$HOME`, `..`, `//` and `.` against the directory a command runs in.

Lexical only (no symlink resolution): the core never touches the disk.
"""

from __future__ import annotations

import posixpath

from capfence_sh.actions import Access, Target
from capfence_sh.parse.words import Field


def normalise(path: str, cwd: str) -> str:
    """Absolute, lexically normalised path; relative paths are joined to `cwd` (left relative if cwd is "")."""
    if not path.startswith("/"):
        if not cwd:
            return posixpath.normpath(path) if path else path
        path = cwd.rstrip("/") + "/" + path
    path = posixpath.normpath(path)
    # POSIX keeps a leading "//" as implementation-defined; on Linux it is the root like "/".
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path


def is_under(path: str, directory: str) -> bool:
    if not directory:
        return False
    directory = directory.rstrip("/") or "/"
    if directory == "/":
        return path.startswith("/")
    return path == directory or path.startswith(directory + "/")


def target(field: Field, access: Access, cwd: str, *, recursive: bool = False, remote: str = "") -> Target:
    """The target a word names, from the directory the command runs in."""
    if remote:
        return Target(field.value, access, field.known, "", recursive, field.glob, remote)
    if field.known:
        path = normalise(field.value, cwd)
        if path.startswith("/"):
            certain = _glob_free_dir(path) if field.glob else path
            return Target(path, access, True, certain, recursive, field.glob)
        return Target(path, access, False, "", recursive, field.glob)
    # Part of the word is unknown. A trusted unknown part (a number, a mktemp name) cannot leave the
    # directory given by the known prefix; an untrusted one could be "../../etc", so nothing is certain.
    prefix = ""
    if field.trusted and field.prefix:
        known_dir = field.prefix if field.prefix.endswith("/") else posixpath.dirname(field.prefix)
        if known_dir or not field.prefix.startswith("/"):
            prefix = normalise(known_dir or ".", cwd) if (known_dir.startswith("/") or cwd) else ""
    display = field.value if field.value.startswith("/") or not cwd else cwd.rstrip("/") + "/" + field.value
    return Target(display, access, False, prefix, recursive, field.glob, "", field.suffix)


def _glob_free_dir(path: str) -> str:
    """The directory part of a glob pattern before its first glob character."""
    cut = len(path)
    for ch in "*?[":
        k = path.find(ch)
        if k >= 0:
            cut = min(cut, k)
    head = path[:cut]
    return head if head.endswith("/") and len(head) == 1 else posixpath.dirname(head) if "/" in head else ""
