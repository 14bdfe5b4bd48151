"""Path normalisation for targets: `~`, `$HOME`, `..`, `//` and `.` against the directory a command runs in.

Lexical only (no symlink resolution): the core never touches the disk.

A working directory is an absolute path, "" when it is not known at all, or `UNDER + dir` when it is not known
but certainly lies under `dir` (`cd "$(mktemp -d)"`): relative paths then still have a certain prefix.
"""

from __future__ import annotations

import posixpath
from fnmatch import fnmatchcase

from capfence_sh.actions import Access, Target
from capfence_sh.parse.words import Field

UNDER = "?"


def normalise(path: str, cwd: str) -> str:
    """Absolute, lexically normalised path; relative paths are joined to `cwd` (left relative if it is unknown)."""
    if not path.startswith("/"):
        if not cwd or cwd[0] != "/":
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


def change_directory(cwd: str, destination: Field) -> str:
    """The working directory after `cd destination` from `cwd` (absolute, `UNDER + dir`, or "")."""
    if destination.known and not destination.glob:
        if destination.value.startswith("/") or cwd.startswith("/"):
            return normalise(destination.value, cwd)
        if cwd.startswith(UNDER):
            certain = _relative_under(cwd[len(UNDER) :], destination.value)
            return UNDER + certain if certain else ""
        return ""
    certain = certain_directory(destination, cwd)
    return UNDER + certain if certain else ""


def certain_directory(field: Field, cwd: str) -> str:
    """The directory a glob or partly unknown path word certainly lies under; "" when nothing is certain."""
    if field.known:
        path = normalise(field.value, cwd)
        if path.startswith("/"):
            return _glob_certain(path) if field.glob else path
        if cwd.startswith(UNDER):
            return _relative_under(cwd[len(UNDER) :], field.value)
        return ""
    # A trusted unknown part (a number, a mktemp name) cannot leave the directory given by the known prefix;
    # an untrusted one could be "../../etc", so nothing is certain.
    if not (field.trusted and field.prefix):
        return ""
    known_dir = field.prefix if field.prefix.endswith("/") else posixpath.dirname(field.prefix)
    if known_dir.startswith("/"):
        base = normalise(known_dir, "")
    elif cwd.startswith("/"):
        base = normalise(known_dir or ".", cwd)
    elif cwd.startswith(UNDER):
        base = _relative_under(cwd[len(UNDER) :], known_dir or ".")
    else:
        return ""
    # Each ".." after the unknown part may climb one level above it (a trusted part may even be empty).
    return _climb(base, _parent_steps(field.value[len(field.prefix) :]))


def target(field: Field, access: Access, cwd: str, *, recursive: bool = False, remote: str = "") -> Target:
    """The target a word names, from the directory the command runs in."""
    if remote:
        return Target(field.value, access, field.known, "", recursive, field.glob, remote)
    if field.known:
        path = normalise(field.value, cwd)
        if path.startswith("/"):
            certain = _glob_certain(path) if field.glob else path
            return Target(path, access, True, certain, recursive, field.glob)
        if cwd.startswith(UNDER):
            base = cwd[len(UNDER) :]
            display = base.rstrip("/") + "/{cwd}/" + path
            return Target(display, access, False, certain_directory(field, cwd), recursive, field.glob, "",
                          _known_ending(path, field.glob))
        return Target(path, access, False, "", recursive, field.glob)
    prefix = certain_directory(field, cwd)
    if field.value.startswith("/") or not cwd:
        display = field.value
    elif cwd.startswith(UNDER):
        display = cwd[len(UNDER) :].rstrip("/") + "/{cwd}/" + field.value
    else:
        display = cwd.rstrip("/") + "/" + field.value
    return Target(display, access, False, prefix, recursive, field.glob, "", _after_parents(field.suffix))


def _relative_under(base: str, relative: str) -> str:
    """The directory certain to hold `relative` when it is taken from an unknown directory under `base`."""
    return _climb(base, _parent_steps(posixpath.normpath(relative)))


def _parent_steps(text: str) -> int:
    return sum(1 for segment in text.split("/") if segment == "..")


def _climb(directory: str, steps: int) -> str:
    for _ in range(steps):
        if directory in ("/", ""):
            break
        directory = posixpath.dirname(directory.rstrip("/")) or "/"
    return directory


def _known_ending(path: str, glob: bool) -> str:
    """Text a path relative to an unknown directory certainly ends with."""
    if not glob:
        return _after_parents("/" + path)
    cut = max(path.rfind(ch) for ch in "*?]")
    return _after_parents(path[cut + 1 :])


def _after_parents(ending: str) -> str:
    """`/../x` ends a path with `/x` only: the segments before a ".." are not part of the resolved path."""
    if ".." not in ending:
        return ending
    segments = ending.split("/")
    last = max(k for k, segment in enumerate(segments) if segment == "..") if ".." in segments else -1
    if last < 0:
        return ending
    return "/" + "/".join(segments[last + 1 :]) if last + 1 < len(segments) else ""


def _glob_certain(path: str) -> str:
    """The directory every match of a glob lies under. A segment like `.*` matches `..` in older shells (bash
    before 5.2), so each such segment may climb one level."""
    base = _glob_free_dir(path)
    steps = sum(1 for segment in path[len(base) :].split("/") if segment.startswith(".") and fnmatchcase("..", segment))
    return _climb(base, steps)


def _glob_free_dir(path: str) -> str:
    """The directory part of a glob pattern before its first glob character."""
    cut = len(path)
    for ch in "*?[":
        k = path.find(ch)
        if k >= 0:
            cut = min(cut, k)
    head = path[:cut]
    return head if head.endswith("/") and len(head) == 1 else posixpath.dirname(head) if "/" in head else ""
