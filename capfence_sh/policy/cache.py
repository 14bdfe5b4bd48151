"""The compiled-policy cache: the gate runs before every command, so it must not parse YAML (or import PyYAML)
when the policy has not changed.

An entry holds the validated plain data of a policy, its SHA-256, and a stat signature of every file it was built
from (the policy and what it extends): device, inode, size, mtime and ctime. ctime cannot be set from user space,
so an edit that restores size and mtime still changes the signature. Entries are marshal data (never pickle),
written atomically, 0600, and ignored unless owned by the current user and not writable by others.
"""

from __future__ import annotations

import marshal
import os
import zlib
from typing import Any

FORMAT = 2
_MAGIC = b"CFPOLv2\n"


def signature(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def entry_path(cache_dir: str, policy_path: str) -> str:
    absolute = os.path.abspath(policy_path)
    tag = f"{zlib.crc32(absolute.encode()):08x}"
    base = os.path.basename(absolute).replace(os.sep, "_")[:40]
    return os.path.join(cache_dir, f"policy-{tag}-{base}.marshal")


def read(cache_dir: str, policy_path: str) -> tuple[dict[str, Any], str] | None:
    """(plain data, sha256) if a valid entry for this exact file state exists."""
    path = entry_path(cache_dir, policy_path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not _trustworthy(st):
            return None
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            blob = handle.read()
    finally:
        if fd >= 0:
            os.close(fd)
    if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 4:
        return None
    body = blob[len(_MAGIC) + 4 :]
    if zlib.crc32(body) != int.from_bytes(blob[len(_MAGIC) : len(_MAGIC) + 4], "big"):
        return None
    try:
        record = marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("path") != os.path.abspath(policy_path):
        return None
    for source, sig in record.get("sources", ()):
        if signature(source) != tuple(sig):
            return None
    data, sha = record.get("data"), record.get("sha256")
    if not isinstance(data, dict) or not isinstance(sha, str):
        return None
    return data, sha


def write(cache_dir: str, policy_path: str, data: dict[str, Any], sha256: str, sources: list[str],
          signatures: list[tuple[int, ...] | None]) -> None:
    """Best effort: a cache that cannot be written only costs speed."""
    if any(sig is None for sig in signatures):
        return
    record = {"format": FORMAT, "path": os.path.abspath(policy_path), "data": data, "sha256": sha256,
              "sources": [[os.path.abspath(s), list(sig)] for s, sig in zip(sources, signatures)]}
    try:
        body = marshal.dumps(record)
    except ValueError:
        return
    blob = _MAGIC + zlib.crc32(body).to_bytes(4, "big") + body
    path = entry_path(cache_dir, policy_path)
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        temp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, blob)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError:
        try:
            os.unlink(temp)  # type: ignore[possibly-undefined]
        except (OSError, UnboundLocalError):
            pass


def _trustworthy(st: os.stat_result) -> bool:
    import stat

    if not stat.S_ISREG(st.st_mode):
        return False
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return False
    return not st.st_mode & 0o022
