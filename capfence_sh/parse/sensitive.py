"""Capabilities that follow from what an action touches rather than from its program: reading a credential is
`secret.read` whether `cat`, `tar`, `base64`, a redirect or an inline Python program does it, and sending it over
the network is `secret.exfil`."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from capfence_sh.actions import Access, Target
from capfence_sh.parse.secrets import CREDENTIAL_HOMES, LOCAL_HOSTS, NOT_SECRET_SUFFIXES, SECRET_PATTERNS, expand_home
from capfence_sh.pathmatch import PathPattern, compile_pattern, glob_to_regex, may_match

_READS = (Access.READ, Access.ANY)
_SPECIAL_WRITES = {"/proc/sysrq-trigger": "sys.power", "/proc/sys/kernel/sysrq": "sys.config"}
# Raw disks and memory: writing one (`cp image.iso /dev/sdb`, `tee /dev/nvme0n1`) is disk.write whatever the program.
BLOCK_DEVICE_PREFIXES = ("/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd", "/dev/nvme", "/dev/mmcblk", "/dev/disk",
                          "/dev/mapper/", "/dev/md", "/dev/loop", "/dev/dm-", "/dev/sr", "/dev/mem", "/dev/kmem",
                          "/dev/port", "/dev/root", "/dev/nbd", "/dev/rbd", "/dev/zd", "/dev/bcache")



@lru_cache(maxsize=8)
def _patterns(home: str) -> tuple[re.Pattern[str], tuple[PathPattern, ...]]:
    expanded = [expand_home(p, home or "/nonexistent-home") for p in SECRET_PATTERNS]
    compiled = tuple(compile_pattern(p) for p in expanded)
    combined = re.compile("|".join(f"(?:{glob_to_regex(p)})" for p in expanded), re.DOTALL)
    return combined, compiled


def is_secret_path(path: str, home: str) -> bool:
    combined, _ = _patterns(home)
    return bool(combined.match(path))


def derived_capabilities(capabilities: list[str], targets: list[Target], home: str,
                         stdin_capabilities: tuple[str, ...] = ()) -> list[str]:
    combined, compiled = _patterns(home)
    secret = "secret.read" in capabilities
    for target in targets:
        if target.access in _READS and not secret:
            # A private key is as secret on the host ssh reaches as on this one (`ssh host 'cat ~/.ssh/id_rsa'`
            # puts it in the agent's context just the same), so a remote target is tested like a local one; a
            # relative remote path is relative to the remote home, where ssh and scp start.
            probe = target
            if target.remote:
                relative = target.known and target.path and not target.path.startswith("/")
                probe = replace(target, remote="", path=f"{home}/{target.path}" if relative and home else target.path)
            if probe.known and not probe.glob and not probe.recursive:
                secret = bool(combined.match(probe.path)) and not probe.path.endswith(NOT_SECRET_SUFFIXES)
            else:
                secret = any(may_match(probe, pattern) for pattern in compiled)
        if target.access == Access.WRITE and target.known and not target.remote:
            if target.path in _SPECIAL_WRITES:
                capabilities.append(_SPECIAL_WRITES[target.path])
            elif target.path.startswith(BLOCK_DEVICE_PREFIXES) and "disk.write" not in capabilities:
                capabilities.append("disk.write")
    if secret and "secret.read" not in capabilities:
        capabilities.append("secret.read")
    if "net.send" in capabilities and (secret or "secret.read" in stdin_capabilities or
                                       "env.read" in stdin_capabilities or "env.read" in capabilities):
        capabilities.append("secret.exfil")
    return capabilities


_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]*@)?(\[[0-9a-f:]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
                   r"(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+|localhost)(?::\d+)?(?:[/?#]|$)", re.IGNORECASE)


def credential_destination(words, capabilities: list[str]) -> str:
    """For a command that talks to the network with a credential-like variable in its words (`curl -H
    "Authorization: $GITHUB_TOKEN" https://x.example`): "secret.exfil" when the credential names a vendor and the
    host is not that vendor's, "secret.send" when the vendor or the host is unknown, "" when it goes home (or to
    localhost)."""
    if not ({"net.fetch", "net.send"} & set(capabilities)):
        return ""
    names = {w.secret for w in words if getattr(w, "secret", "")}
    if not names:
        return ""
    hosts = []
    for word in words:
        if not word.value:
            continue
        match = _HOST.match(word.value.strip())
        if match and ("." in match.group(1) or match.group(1) == "localhost"):
            hosts.append(match.group(1).strip("[]").lower())
    if hosts and all(h in LOCAL_HOSTS or h.startswith("127.") for h in hosts):
        return ""
    verdict = ""
    for name in names:
        homes = _homes(name)
        if homes is None or not hosts:
            verdict = verdict or "secret.send"
        elif any(not any(h == home or h.endswith("." + home) for home in homes) for h in hosts):
            return "secret.exfil"
    return verdict


def _homes(name: str) -> tuple[str, ...] | None:
    for part in re.split(r"[^A-Za-z0-9]+", name.upper()):
        if part in CREDENTIAL_HOMES:
            return CREDENTIAL_HOMES[part]
    return None
