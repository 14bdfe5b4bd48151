"""Capabilities and targets of ordinary programs: files, readers, system control, network, databases, packages.

Git, cloud, cluster and container tools are in vcs_cloud.py. Each handler reads the program's real option syntax
(which options take values) so targets are the operands the program will actually touch.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from capfence_sh.actions import Access
from capfence_sh.parse import paths
from capfence_sh.parse.options import FLAG_ALIASES, OptSpec, parse_options
from capfence_sh.parse.programs import handles
from capfence_sh.parse.words import Field, literal

if TYPE_CHECKING:
    from capfence_sh.parse.walker import Call, Outcome


def _targets(call: Call, fields: list[Field], access: Access, *, recursive: bool = False) -> list:
    return [t for f in fields for t in call.target(f, access, recursive=recursive)]


def _spec(short: str = "", long: tuple[str, ...] = (), program: str = "", **kw) -> OptSpec:
    kw.setdefault("aliases", FLAG_ALIASES.get(program, {}))
    return OptSpec(short_with_value=short, long_with_value=frozenset(long), **kw)


# --- deleting, writing, copying -------------------------------------------------------------------------------

_RM = _spec("", (), "rm")


@handles("rm", "unlink", "rmdir", "trash", "trash-put", "gio")
def rm(call: Call) -> Outcome:
    args = call.args
    if call.program == "gio":
        if not args or args[0].value not in ("remove", "trash"):
            return call.outcome(call.emit(("fs.read",)))
        args = args[1:]
    parsed = parse_options(args, _RM)
    recursive = parsed.has("recursive") or call.program == "rmdir" and parsed.has("p", "parents")
    targets = _targets(call, parsed.operands, Access.DELETE, recursive=recursive)
    return call.outcome(call.emit(("fs.delete",), targets, flags=frozenset(parsed.flags)))


@handles("shred", "wipe", "srm")
def shred(call: Call) -> Outcome:
    parsed = parse_options(call.args, _spec("nsx", ("iterations", "size", "random-source")))
    recursive = parsed.has("r", "R", "recursive")
    targets = _targets(call, parsed.operands, Access.WRITE) + _targets(call, parsed.operands, Access.DELETE,
                                                                       recursive=recursive)
    capabilities = ["fs.delete", "fs.write"]
    if any(f.known and paths.normalise(f.value, call.cwd).startswith("/dev/") for f in parsed.operands):
        capabilities.append("disk.write")
    return call.outcome(call.emit(tuple(capabilities), targets, flags=frozenset(parsed.flags)))


@handles("truncate", "fallocate")
def truncate(call: Call) -> Outcome:
    parsed = parse_options(call.args, _spec("srlo", ("size", "reference", "length", "offset")))
    return call.outcome(call.emit(("fs.write",), _targets(call, parsed.operands, Access.WRITE)))


@handles("touch", "mkdir", "mkfifo", "mknod")
def touch(call: Call) -> Outcome:
    parsed = parse_options(call.args, _spec("dtrmZ", ("date", "reference", "mode", "context", "time")))
    operands = parsed.operands if call.program != "mknod" else parsed.operands[:1]
    if call.program == "mkfifo" or (call.program == "mknod" and len(parsed.operands) > 1 and
                                    parsed.operands[1].value == "p"):
        for operand in operands:
            if operand.known:
                call.state.shared.fifos.add(paths.normalise(operand.value, call.cwd))
    return call.outcome(call.emit(("fs.write",), _targets(call, operands, Access.WRITE)))


@handles("mktemp", "tempfile")
def mktemp(call: Call) -> Outcome:
    parsed = parse_options(call.args, _spec("ptd", ("tmpdir", "suffix", "directory", "prefix"),
                                            optional_value_long=frozenset({"tmpdir"})))
    tmp = call.analyser.lookup_field("TMPDIR", call.state)
    base = tmp.value if tmp is not None and tmp.known and tmp.value else "/tmp"
    explicit = parsed.value("p", "tmpdir")
    if explicit is not None and explicit.known and explicit.value:
        base = paths.normalise(explicit.value, call.cwd)
    template = parsed.operands[0] if parsed.operands else None
    if template is not None and template.known and "/" in template.value and explicit is None and not parsed.has("t"):
        base = paths.normalise(template.value.rsplit("/", 1)[0] or "/", call.cwd)
    prefix = base.rstrip("/") + "/"
    call.stdout_prefix = prefix
    call.stdout_trusted = True
    target = Field(prefix + "{mktemp}", False, False, prefix, "", True)
    return call.outcome(call.emit(("fs.write",), call.target(target, Access.WRITE), flags=frozenset(parsed.flags)))


_CP = _spec("tS", ("target-directory", "suffix", "backup", "reflink", "sparse", "preserve", "no-preserve"),
            "cp", optional_value_long=frozenset({"backup", "reflink", "preserve"}))
_MV = _spec("tS", ("target-directory", "suffix", "backup"), "mv", optional_value_long=frozenset({"backup"}))
_INSTALL = _spec("gmotSC", ("group", "mode", "owner", "target-directory", "suffix", "strip-program", "context"))
_LN = _spec("tS", ("target-directory", "suffix", "backup"), optional_value_long=frozenset({"backup"}))


@handles("cp", "mv", "install", "ln", "link", "rsync", "scp", "sftp", "ditto")
def copy(call: Call) -> Outcome:
    program = call.program
    if program == "rsync":
        return rsync(call)
    if program in ("scp", "sftp"):
        return scp(call)
    spec = {"cp": _CP, "mv": _MV, "install": _INSTALL}.get(program, _LN)
    parsed = parse_options(call.args, spec)
    operands = list(parsed.operands)
    target_dir = parsed.value("target-directory", "t")
    if program == "install" and parsed.has("d", "directory"):
        return call.outcome(call.emit(("fs.write",), _targets(call, operands, Access.WRITE)))
    if target_dir is not None:
        sources, destination = operands, target_dir
    elif len(operands) >= 2:
        sources, destination = operands[:-1], operands[-1]
    elif program in ("ln", "link") and operands:
        sources, destination = operands, literal(".")
    else:
        return call.outcome(call.emit(("fs.write",), _targets(call, operands, Access.WRITE)))
    recursive = program == "mv" or parsed.has("recursive", "archive", "r", "R", "a")
    capabilities = ["fs.write"]
    targets = _targets(call, [destination], Access.WRITE, recursive=recursive and program != "ln")
    if program in ("cp", "install", "ditto"):
        capabilities.insert(0, "fs.read")
        targets += _targets(call, sources, Access.READ, recursive=recursive)
    elif program == "mv":
        capabilities[0:0] = ["fs.read", "fs.delete"]
        targets += _targets(call, sources, Access.DELETE, recursive=True)
        targets += _targets(call, sources, Access.READ, recursive=True)
    elif program in ("ln", "link"):
        # A link reads nothing itself, but whatever reads the link later reads its source
        # (`ln -s ~/.ssh/id_rsa x && cat x`): the source is exposed from here on.
        symbolic = parsed.has("s", "symbolic")
        targets += _targets(call, [_link_source(call, s, destination, symbolic) for s in sources], Access.READ)
    _remember_copied_programs(call, sources, destination, parsed.has("target-directory", "t"))
    if program in ("cp", "mv", "install", "ln"):
        _remember_copied_files(call, sources, destination)
    if program in ("ln", "link"):
        _remember_links(call, sources, destination, parsed.has("s", "symbolic"))
    return call.outcome(call.emit(tuple(capabilities), targets, flags=frozenset(parsed.flags)))


def _remember_copied_programs(call: Call, sources: list[Field], destination: Field, into_dir: bool) -> None:
    """`cp /bin/rm x` or `ln -s $(which rm) x`: running x later runs rm."""
    if not destination.known:
        return
    from capfence_sh.parse.programs import handler_for, normalise_program

    dest = paths.normalise(destination.value, call.cwd)
    for source in sources:
        if not source.known:
            continue
        program = normalise_program(source.value)
        if handler_for(program) is None and "/" not in source.value:
            continue
        names = [dest, dest.rstrip("/") + "/" + source.value.rsplit("/", 1)[-1]]
        for name in names if not into_dir else names[1:]:
            call.state.shared.programs[name] = program


def _link_source(call: Call, source: Field, destination: Field, symbolic: bool) -> Field:
    """What a link points to: a relative symbolic link is resolved from the directory it is in, a hard link
    from the working directory."""
    if not (symbolic and source.known and destination.known) or source.value.startswith("/"):
        return source
    dest = paths.normalise(destination.value, call.cwd)
    if not dest.startswith("/"):
        return source
    return literal(paths.normalise(source.value, dest.rsplit("/", 1)[0] or "/"))


def _remember_links(call: Call, sources: list[Field], destination: Field, symbolic: bool) -> None:
    """`ln -s /etc x`: later paths through x are paths under /etc."""
    if not destination.known:
        return
    dest = paths.normalise(destination.value, call.cwd)
    for source in sources:
        points_to = _link_source(call, source, destination, symbolic).value
        if not source.known or not points_to.startswith("/"):
            continue
        name = source.value.rstrip("/").rsplit("/", 1)[-1]
        # `ln -s SRC DIR` makes DIR/name when DIR is a directory; which one it is cannot be known here.
        for link in (dest, dest.rstrip("/") + "/" + name):
            call.state.shared.links[link] = points_to


def _remember_copied_files(call: Call, sources: list[Field], destination: Field) -> None:
    files = call.state.shared.files
    if not destination.known:
        return
    dest = paths.normalise(destination.value, call.cwd)
    for source in sources:
        if source.known:
            src = paths.normalise(source.value, call.cwd)
            if src in files:
                files[dest] = files[src]
                files[dest.rstrip("/") + "/" + src.rsplit("/", 1)[-1]] = files[src]


def _remote(field: Field) -> str:
    """`host:path` / `user@host:path` -> host, for scp/rsync operands."""
    text = field.value
    if not field.known or text.startswith("/") or text.startswith("./"):
        return ""
    match = re.match(r"^(?:[\w.+-]+@)?(\[[^\]]+\]|[\w.-]+):", text)
    if match and not re.match(r"^[A-Za-z]:\\", text):
        return match.group(1)
    if text.startswith(("rsync://", "scp://", "sftp://")):
        return text.split("/")[2]
    return ""


_RSYNC = _spec("eBfTM", ("rsh", "rsync-path", "exclude", "include", "filter", "exclude-from", "include-from",
                         "files-from", "password-file", "log-file", "temp-dir", "compare-dest", "copy-dest",
                         "link-dest", "chmod", "chown", "timeout", "bwlimit", "port", "backup-dir", "suffix",
                         "out-format", "partial-dir", "max-size", "min-size", "modify-window", "info", "debug"),
               aliases={"e": "rsh", "rsh": "rsh"})


def rsync(call: Call) -> Outcome:
    parsed = parse_options(call.args, _RSYNC)
    operands = parsed.operands
    capabilities = ["fs.read"]
    targets = []
    shell_command = parsed.value("rsh")
    if shell_command is not None:
        if shell_command.known:
            words = shell_command.value.split()
            if words and words[0] not in ("ssh", "rsh"):
                call.run_script(shell_command.value, "rsync -e")
        else:
            call.dynamic("rsync -e with a command not known statically")
    if parsed.value("rsync-path") is not None:
        call.dynamic("rsync --rsync-path runs a command on the remote side")
    if len(operands) >= 2:
        sources, destination = operands[:-1], operands[-1]
        dest_host = _remote(destination)
        for source in sources:
            host = _remote(source)
            targets += call.target(source, Access.READ, recursive=True, remote=host)
            if host:
                capabilities.append("net.fetch")
        targets += call.target(destination, Access.WRITE, recursive=True, remote=dest_host)
        capabilities.append("fs.write")
        if dest_host:
            capabilities.append("net.send")
        if any(flag.startswith("delete") or flag in ("remove-source-files",) for flag in parsed.flags):
            capabilities.append("fs.delete")
            targets += call.target(destination, Access.DELETE, recursive=True, remote=dest_host)
            if parsed.has("remove-source-files"):
                targets += _targets(call, sources, Access.DELETE, recursive=True)
    return call.outcome(call.emit(tuple(capabilities), targets, flags=frozenset(parsed.flags)))


_SCP = _spec("cFiJlOoPSDXb", ())


def scp(call: Call) -> Outcome:
    parsed = parse_options(call.args, _SCP)
    program_option = parsed.value("S")
    if program_option is not None:
        call.dynamic(f"scp -S runs {program_option.value} as its transport")
    for option in parsed.all_values("o"):
        _ssh_option(call, option)
    operands = parsed.operands
    capabilities = ["fs.read"]
    targets = []
    if call.program == "sftp":
        batch = parsed.value("b")
        if batch is not None:
            targets += call.target(batch, Access.READ)
        return call.outcome(call.emit(("net.send", "net.fetch", "fs.read", "fs.write"), targets))
    if len(operands) >= 2:
        sources, destination = operands[:-1], operands[-1]
        dest_host = _remote(destination)
        for source in sources:
            host = _remote(source)
            targets += call.target(source, Access.READ, recursive=parsed.has("r"), remote=host)
            if host:
                capabilities.append("net.fetch")
        targets += call.target(destination, Access.WRITE, remote=dest_host)
        capabilities.append("fs.write")
        if dest_host:
            capabilities.append("net.send")
    return call.outcome(call.emit(tuple(capabilities), targets, flags=frozenset(parsed.flags)))


def _ssh_option(call: Call, option: Field) -> None:
    name, _, value = option.value.partition("=")
    if not value and " " in name:
        name, _, value = name.partition(" ")
    if name.lower() in ("proxycommand", "localcommand", "knownhostscommand", "remotecommand"):
        if option.known:
            call.run_script(value, f"ssh -o {name}")
        else:
            call.dynamic(f"ssh -o {name} runs a command not known statically")


@handles("dd")
def dd(call: Call) -> Outcome:
    capabilities = []
    targets = []
    for arg in call.args:
        key, eq, value = arg.value.partition("=")
        if not eq:
            continue
        field = literal(value) if arg.known else Field(value, False, False, "", arg.suffix, arg.trusted)
        if key == "if":
            capabilities.append("fs.read")
            targets += call.target(field, Access.READ)
        elif key == "of":
            path = paths.normalise(value, call.cwd) if arg.known else value
            if arg.known and path.startswith("/dev/") and path not in ("/dev/null", "/dev/stdout", "/dev/stderr"):
                capabilities.append("disk.write")
            else:
                capabilities.append("fs.write")
            targets += call.target(field, Access.WRITE)
    return call.outcome(call.emit(tuple(capabilities) or ("fs.read",), targets))


@handles("tee")
def tee(call: Call) -> Outcome:
    parsed = parse_options(call.args, _spec("", ("output-error",), optional_value_long=frozenset({"output-error"})))
    targets = _targets(call, parsed.operands, Access.WRITE)
    if call.stdin is not None and call.stdin.content is not None:
        call.stdout = call.stdin.content
        for f in parsed.operands:
            if f.known:
                path = paths.normalise(f.value, call.cwd)
                call.state.shared.files[path] = call.stdin.content
    else:
        for f in parsed.operands:
            if f.known:
                call.state.shared.files[paths.normalise(f.value, call.cwd)] = None
    return call.outcome(call.emit(("fs.write",) if targets else ("shell.builtin",), targets))


_CHMOD = _spec("", ("reference",), "chmod")


@handles("chmod", "chown", "chgrp", "chattr", "setfacl", "chcon", "chflags", "lchown")
def chmod(call: Call) -> Outcome:
    program = call.program
    args = call.args
    # chmod modes like -x or -w look like options; GNU chmod accepts them as modes.
    parsed = parse_options(args, _spec("", ("reference", "from"), program if program in FLAG_ALIASES else ""))
    operands = list(parsed.operands)
    capabilities = ["fs.perm"]
    mode = ""
    if program == "chmod":
        mode_candidates = [a.value for a in args if a.known and re.fullmatch(r"[-+=]?[ugoa]*[-+=][rwxXstugo]+|"
                                                                             r"[0-7]{3,4}|[ugoa]*[-+=][rwxXst]*", a.value)]
        mode = mode_candidates[0] if mode_candidates else ""
        operands = [o for o in operands if o.value != mode]
        if mode and (("s" in mode and "+" in mode) or re.fullmatch(r"[2-7][0-7]{3}", mode)):
            capabilities.append("priv.escalate")
    elif program in ("chown", "chgrp", "setfacl", "chcon") and operands:
        if program == "setfacl":
            values = parsed.all_values("m", "x", "M", "X", "set", "modify")
            operands = [o for o in operands if o not in values]
        else:
            operands = operands[1:] if parsed.value("reference") is None else operands
    elif program == "chattr" and operands:
        operands = [o for o in operands if not o.value.startswith(("+", "=")) or o.value.startswith("-")]
    recursive = parsed.has("recursive", "R")
    targets = _targets(call, operands, Access.PERM, recursive=recursive)
    return call.outcome(call.emit(tuple(capabilities), targets, flags=frozenset(parsed.flags),
                                  note=f"mode {mode}" if mode else ""))


@handles("setcap")
def setcap(call: Call) -> Outcome:
    operands = [a for a in call.args if not a.value.startswith("-")]
    targets = _targets(call, operands[1:], Access.PERM)
    return call.outcome(call.emit(("fs.perm", "priv.escalate"), targets))


# --- disks and file systems ------------------------------------------------------------------------------------


@handles("mkfs*", "mke2fs", "mkswap", "wipefs", "fdisk", "sfdisk", "gdisk", "sgdisk", "cfdisk", "parted",
         "blkdiscard", "badblocks", "cryptsetup", "pvcreate", "pvremove", "vgremove", "lvremove", "vgcreate",
         "lvcreate", "mdadm", "zpool", "zfs", "hdparm", "nvme", "dmsetup", "losetup", "partprobe", "resize2fs",
         "e2fsck", "fsck*", "tune2fs", "xfs_repair", "btrfs", "mkdosfs", "mkntfs", "grub-install", "efibootmgr",
         "flashrom", "sg_format", "dcfldd", "ddrescue")
def disk(call: Call) -> Outcome:
    program = call.program
    args = [a for a in call.args]
    read_only = {"fdisk": ("-l", "--list"), "sfdisk": ("-l", "--list", "-d", "--dump"), "parted": ("print", "-l"),
                 "zpool": ("list", "status", "get", "iostat", "history"), "zfs": ("list", "get"),
                 "btrfs": ("filesystem show", "subvolume list"), "losetup": ("-a", "-l", "--list"),
                 "mdadm": ("--detail", "-D", "--examine", "-E"), "hdparm": ("-I", "-i", "-t", "-T"),
                 "nvme": ("list", "smart-log", "id-ctrl"), "efibootmgr": (), "dmsetup": ("ls", "info", "status")}
    markers = read_only.get(program)
    text = " ".join(a.value for a in args)
    if markers and any(m in text.split() or text.startswith(m) for m in markers) and not re.search(
            r"\b(destroy|mkpart|rm|delete|create|format|--security-erase|--zero|remove|-Y)\b", text):
        return call.outcome(call.emit(("sys.read",)))
    if program == "efibootmgr" and not args:
        return call.outcome(call.emit(("sys.read",)))
    devices = [a for a in args if a.known and (a.value.startswith("/dev/") or a.value.startswith("/"))]
    targets = _targets(call, devices, Access.WRITE)
    return call.outcome(call.emit(("disk.write",), targets))


@handles("mount", "umount", "swapon", "swapoff", "fusermount", "sshfs", "mount.cifs", "mount.nfs")
def mount(call: Call) -> Outcome:
    if call.program == "mount" and not [a for a in call.args if not a.value.startswith("-")]:
        return call.outcome(call.emit(("sys.read",)))
    return call.outcome(call.emit(("disk.mount",)))


# --- reading and inspecting ------------------------------------------------------------------------------------

# Programs that read the files they are given, with the options that take a value (so that value is not a file)
# and how many leading operands are not files (a pattern, a program, a filter).
_READERS: dict[str, tuple[str, tuple[str, ...], int]] = {
    "cat": ("", (), 0), "tac": ("sbr", ("separator",), 0), "nl": ("bdfhilnpsvw", (), 0),
    "head": ("nc", ("lines", "bytes"), 0), "tail": ("ncsF", ("lines", "bytes", "sleep-interval", "pid"), 0),
    "less": ("bhjkoOpPtTxyz#", ("log-file", "pattern", "tag"), 0), "more": ("n", (), 0),
    "most": ("", (), 0), "bat": ("lmHrp", ("language", "map-syntax", "highlight-line", "line-range", "style",
                                          "theme", "tabs", "wrap", "terminal-width", "color", "paging", "pager"), 0),
    "batcat": ("lmHrp", ("language", "line-range", "style", "theme", "color", "paging"), 0),
    "od": ("AjNStw", ("address-radix", "skip-bytes", "read-bytes", "strings", "format", "width"), 0),
    "xxd": ("cglsoR", ("cols", "groupsize", "len", "seek", "offset", "autoskip"), 0),
    "hexdump": ("enseFL", ("format", "length", "skip"), 0), "hd": ("nsef", (), 0),
    "strings": ("nteTo", ("bytes", "target", "encoding", "radix"), 0),
    "base64": ("w", ("wrap",), 0), "base32": ("w", ("wrap",), 0), "basenc": ("w", ("wrap",), 0),
    "uuencode": ("", (), 0), "uudecode": ("o", ("output-file",), 0),
    "md5sum": ("", (), 0), "sha1sum": ("", (), 0), "sha224sum": ("", (), 0), "sha256sum": ("", (), 0),
    "sha384sum": ("", (), 0), "sha512sum": ("", (), 0), "b2sum": ("l", ("length",), 0), "cksum": ("a", (), 0),
    "sum": ("", (), 0), "shasum": ("a", ("algorithm",), 0), "md5": ("s", (), 0),
    "wc": ("", ("files0-from",), 0), "cut": ("bcdf", ("bytes", "characters", "delimiter", "fields",
                                                      "output-delimiter"), 0),
    "paste": ("d", ("delimiters",), 0), "join": ("aejotv12", (), 0), "comm": ("", ("output-delimiter",), 0),
    "diff": ("CDFILSUWxX", ("context", "unified", "label", "ignore-matching-lines", "exclude", "exclude-from",
                            "starting-file", "width", "tabsize", "from-file", "to-file", "color", "palette",
                            "line-format", "new-line-format", "old-line-format", "unchanged-line-format",
                            "new-group-format", "old-group-format", "changed-group-format",
                            "unchanged-group-format", "horizon-lines"), 0),
    "cmp": ("inI", ("ignore-initial", "bytes"), 0), "sdiff": ("oIw", ("output", "width"), 0),
    "diff3": ("L", ("label",), 0), "colordiff": ("CU", (), 0), "delta": ("", (), 0),
    "fold": ("w", ("width",), 0), "fmt": ("wgpd", ("width", "goal", "prefix"), 0), "pr": ("lwoNhSe", (), 0),
    "expand": ("t", ("tabs",), 0), "unexpand": ("t", ("tabs",), 0), "iconv": ("fto", ("from-code", "to-code",
                                                                                       "output"), 0),
    "column": ("cstoNHWEdlR", (), 0), "rev": ("", (), 0), "shuf": ("nioe", ("head-count", "input-range",
                                                                           "output", "random-source"), 0),
    "sort": ("kotTSy", ("key", "output", "field-separator", "temporary-directory", "buffer-size", "parallel",
                        "batch-size", "files0-from", "compress-program", "random-source"), 0),
    "uniq": ("fsw", ("skip-fields", "skip-chars", "check-chars"), 0), "tsort": ("", (), 0),
    "look": ("t", (), 1), "file": ("mfeFP", ("magic-file", "files-from", "exclude", "separator",
                                               "parameter"), 0),
    "grep": ("efmABCd", ("regexp", "file", "max-count", "after-context", "before-context", "context",
                         "directories", "devices", "include", "exclude", "exclude-dir", "exclude-from", "label",
                         "color", "colour", "binary-files"), 1),
    "egrep": ("efmABC", ("regexp", "file", "include", "exclude", "exclude-dir"), 1),
    "fgrep": ("efmABC", ("regexp", "file", "include", "exclude", "exclude-dir"), 1),
    "zgrep": ("efmABC", ("regexp", "file"), 1),
    "rg": ("efgmABCtTEMjr", ("regexp", "file", "glob", "iglob", "max-count", "after-context", "before-context",
                              "context", "type", "type-not", "encoding", "max-columns", "threads", "replace",
                              "max-depth", "max-filesize", "sort", "sortr", "color", "colors", "pre",
                              "pre-glob", "type-add", "ignore-file", "path-separator", "context-separator",
                              "field-match-separator", "field-context-separator", "engine", "dfa-size-limit",
                              "regex-size-limit"), 1),
    "ag": ("ABCGgmp", ("after", "before", "context", "file-search-regex", "ignore", "max-count", "path-to-ignore",
                       "depth", "pager"), 1),
    "ack": ("ABCgm", ("after-context", "before-context", "context", "match", "type", "ignore-dir"), 1),
    "jq": ("fL", ("from-file", "arg", "argjson", "slurpfile", "rawfile", "indent", "tab", "args", "jsonargs"), 1),
    "yq": ("oIpe", ("output-format", "indent", "input-format", "expression"), 1),
    "gojq": ("fL", ("from-file", "arg", "argjson"), 1), "jless": ("", (), 0), "fx": ("", (), 0),
    "xmllint": ("o", ("output", "xpath", "schema", "relaxng", "dtdvalid", "path", "encode"), 0),
    "csvlook": ("dqe", (), 0), "mlr": ("", (), 0), "xsv": ("", (), 0),
    "zcat": ("", (), 0), "bzcat": ("", (), 0), "xzcat": ("", (), 0), "zstdcat": ("", (), 0), "zless": ("", (), 0),
    "pdftotext": ("flo", (), 0), "exiftool": ("", (), 0), "identify": ("", (), 0), "openssl": ("", (), 0),
    "view": ("", (), 0), "ctags": ("fo", (), 0), "cloc": ("", (), 0), "tokei": ("", (), 0), "wc.": ("", (), 0),
}
_DECODING = {"base64": ("-d", "--decode", "-D"), "base32": ("-d", "--decode"), "basenc": ("-d", "--decode"),
             "xxd": ("-r", "-revert"), "uudecode": ("",), "zcat": ("",), "bzcat": ("",), "xzcat": ("",),
             "zstdcat": ("",), "rev": ("",)}


@handles(*_READERS)
def reader(call: Call) -> Outcome:
    program = call.program
    short, long, leading = _READERS[program]
    parsed = parse_options(call.args, OptSpec(short_with_value=short, long_with_value=frozenset(long)))
    operands = [o for o in parsed.operands if not (program in ("less", "more", "most") and o.value.startswith("+"))]
    patterns_given = parsed.values.get("e") or parsed.values.get("regexp") or parsed.values.get("f") \
        or parsed.values.get("file") or parsed.values.get("from-file") or parsed.values.get("expression")
    if leading and not (patterns_given and program in ("grep", "egrep", "fgrep", "zgrep", "rg", "ag", "ack")):
        operands = operands[leading:]
    capabilities = ["fs.read"] if operands else []
    targets = _targets(call, [o for o in operands if o.value != "-"], Access.READ,
                       recursive=program in ("grep", "egrep", "fgrep", "rg", "ag", "ack") and (
                           parsed.has("r", "R", "recursive", "dereference-recursive") or program in ("rg", "ag", "ack")))
    for key in ("o", "output", "output-file"):
        for value in parsed.values.get(key, ()):
            if program in ("sort", "shuf", "iconv", "sdiff", "xmllint", "uudecode", "ctags"):
                capabilities.append("fs.write")
                targets += call.target(value, Access.WRITE)
    for key in ("f", "file", "from-file", "files0-from", "slurpfile", "rawfile"):
        if program in ("grep", "egrep", "fgrep", "jq", "gojq", "wc", "sort"):
            for value in parsed.values.get(key, ()):
                capabilities.append("fs.read")
                targets += call.target(value, Access.READ)
    decodes = _DECODING.get(program)
    if decodes is not None and (decodes == ("",) or any(flag.lstrip("-") in parsed.flags or flag in
                                                        [a.value for a in call.args] for flag in decodes)):
        capabilities.append("data.decode")
        _static_decode(call, program, parsed)
    elif program in ("cat", "tac", "head", "tail") and not operands and call.stdin is not None:
        call.stdout = call.stdin.content if program == "cat" else None
    elif program == "cat" and len(operands) == 1 and operands[0].known:
        path = paths.normalise(operands[0].value, call.cwd)
        call.stdout = call.state.shared.files.get(path)
    if program == "jq" and parsed.operands[:1] and re.search(r"\benv\b|\$ENV", parsed.operands[0].value):
        capabilities.append("env.read")
    if program in ("grep", "egrep", "fgrep", "rg", "ag", "ack") and files_listed(parsed) and targets:
        # `grep -rl x src | xargs sed -i ...`: every line printed is a file under the searched paths.
        from capfence_sh.parse.wrappers import common_root

        call.stdout_prefix = common_root(call, [o for o in operands if o.value != "-"])
        call.stdout_trusted = bool(call.stdout_prefix)
    if program == "openssl":
        return _openssl(call, targets)
    if program in ("less", "more", "most"):
        if parsed.value("log-file") is not None:
            capabilities.append("fs.write")
        for arg in call.args:
            # `less +'!cmd' f`: a command run at startup, and `!` runs a shell command.
            if arg.value.startswith("+") and "!" in arg.value:
                command = arg.value[1:].lstrip(":").lstrip()
                if arg.known and command.startswith("!"):
                    call.run_script(command[1:], f"{program} !")
                else:
                    call.dynamic(f"{program} runs a startup command: {arg.value}")
    return call.outcome(call.emit(tuple(capabilities) or ("shell.builtin",), targets, flags=frozenset(parsed.flags)))


def files_listed(parsed) -> bool:
    """grep -l / -L, rg --files: the output is file names, one a line."""
    return parsed.has("l", "L", "files-with-matches", "files-without-match", "files")


def _static_decode(call: Call, program: str, parsed) -> None:
    """Decode a literal payload the way the program would, so `echo cm0gLXJmIC8= | base64 -d | sh` is readable."""
    stdin = call.stdin
    content = stdin.content if stdin is not None and not parsed.operands else None
    if content is None:
        return
    try:
        if program == "base64":
            call.stdout = base64.b64decode("".join(content.split()), validate=False).decode("utf-8", "replace")
        elif program == "base32":
            call.stdout = base64.b32decode("".join(content.split())).decode("utf-8", "replace")
        elif program == "xxd" and parsed.has("p", "ps", "plain"):
            call.stdout = binascii.unhexlify("".join(content.split())).decode("utf-8", "replace")
        elif program == "rev":
            call.stdout = "\n".join(line[::-1] for line in content.split("\n"))
    except (ValueError, binascii.Error):
        call.stdout = None


_OPENSSL_CERTIFICATE_TOOLS = frozenset({"x509", "verify", "crl", "crl2pkcs7", "req", "nseq"})


def _openssl(call: Call, targets: list) -> Outcome:
    args = call.args
    sub = args[0].value if args else ""
    capabilities = ["fs.read"] if targets else ["sys.read"]
    words = [a.value for a in args]
    # Certificate tools print certificates only: their -in (`x509 -in certs/dev.pem -text`) cannot reveal a key.
    input_flags = ("-key", "-inkey", "-CAkey", "-kfile") if sub in _OPENSSL_CERTIFICATE_TOOLS else (
        "-in", "-key", "-inkey", "-CAkey", "-kfile")
    inputs = [args[k + 1] for k, a in enumerate(args[:-1]) if a.value in input_flags]
    outputs = [args[k + 1] for k, a in enumerate(args[:-1]) if a.value in ("-out", "-keyout")]
    read_targets = _targets(call, inputs, Access.READ)
    write_targets = _targets(call, outputs, Access.WRITE)
    if read_targets:
        capabilities.append("fs.read")
    if write_targets:
        capabilities.append("fs.write")
    if sub in ("enc", "base64") and "-d" in words or sub in ("rsautl", "pkeyutl", "cms", "smime") and "-decrypt" in words:
        capabilities.append("data.decode")
    if sub in ("s_client", "s_server"):
        capabilities.append("net.send")
    return call.outcome(call.emit(tuple(capabilities), read_targets + write_targets, subcommand=sub))


@handles("ls", "stat", "du", "df", "tree", "exa", "eza", "lsd", "namei", "lsattr", "getfacl", "findmnt", "lsblk",
         "blkid", "test", "realpath", "readlink", "locate", "mlocate", "plocate", "fd", "fdfind", "dust", "ncdu",
         "getfattr", "pathchk")
def lister(call: Call) -> Outcome:
    program = call.program
    if program in ("realpath", "readlink"):
        operands = [a for a in call.args if not a.value.startswith("-")]
        if len(operands) == 1 and operands[0].known and call.cwd:
            call.stdout = paths.normalise(operands[0].value, call.cwd) + "\n"
    if program in ("fd", "fdfind"):
        parsed = parse_options(call.args, OptSpec(short_with_value="etdExcjS", long_with_value=frozenset(
            {"exec", "exec-batch", "type", "extension", "max-depth", "exclude", "size", "changed-within",
             "threads", "color", "base-directory", "search-path", "owner"}), aliases={"x": "exec", "X": "exec-batch"}))
        if parsed.has("exec", "exec-batch"):
            command = parsed.all_values("exec", "exec-batch")
            rest_index = next((k for k, a in enumerate(call.args) if a.value in ("-x", "-X", "--exec", "--exec-batch")), -1)
            if rest_index >= 0:
                inner = [a for a in call.args[rest_index + 1 :] if a.value != ";"]
                if inner:
                    item = Field("{fd result}", False, False, (call.cwd.rstrip("/") + "/") if call.cwd else "", "",
                                 True)
                    call.run_argv([item if a.value == "{}" else a for a in inner] + ([] if any(a.value == "{}" for a in inner) else [item]),
                                  "fd --exec", stdin=None)
            del command
    if program == "du" or program == "ncdu" or program == "dust":
        pass
    return call.outcome(call.emit(("fs.list",)))


@handles("which", "whereis", "whatis", "apropos", "man", "info", "tldr")
def which(call: Call) -> Outcome:
    names = [a.value for a in call.args if not a.value.startswith("-")]
    if call.program == "which" and len(names) == 1:
        call.stdout = names[0] + "\n"
    if call.program == "man":
        for k, a in enumerate(call.args):
            if a.value in ("-P", "--pager") and k + 1 < len(call.args):
                pager = call.args[k + 1]
                if pager.known:
                    call.run_script(pager.value, "man -P")
                else:
                    call.dynamic("man pager not known statically")
            elif a.value.startswith("--pager="):
                call.run_script(a.value.split("=", 1)[1], "man --pager")
    return call.outcome(call.emit(("sys.read",)))


@handles("ps", "top", "htop", "btop", "pgrep", "pidof", "lsof", "pstree", "free", "uptime", "uname", "whoami",
         "id", "groups", "w", "who", "last", "lastlog", "locale", "getconf", "lscpu", "lspci", "lsusb", "lsmod",
         "dmesg", "journalctl", "netstat", "ss", "arp", "route", "vmstat", "iostat", "mpstat", "sar", "nvidia-smi",
         "sensors", "hostnamectl", "timedatectl", "loginctl", "localectl", "getent", "logname", "users", "tput",
         "infocmp", "ldd", "nm", "objdump", "readelf", "size", "ulimit", "sw_vers", "system_profiler", "arch",
         "vm_stat", "sysctl", "ip", "ifconfig", "nmcli", "iwconfig", "hostname", "lshw", "dmidecode", "inxi",
         "neofetch", "fastfetch", "screenfetch", "watch-not", "stty", "systemd-analyze")
def system_info(call: Call) -> Outcome:
    program = call.program
    words = [a.value for a in call.args]
    changes = False
    if program == "sysctl":
        changes = any(w in ("-w", "--write", "-p", "--load", "--system") or ("=" in w and not w.startswith("-"))
                      for w in words)
    elif program == "ip":
        changes = bool(re.search(r"\b(add|del|delete|set|flush|change|replace|append)\b", " ".join(words)))
    elif program == "ifconfig":
        changes = len([w for w in words if not w.startswith("-")]) >= 2
    elif program == "nmcli":
        changes = bool(re.search(r"\b(down|up|delete|modify|add|off|on|connect|disconnect|reload)\b",
                                 " ".join(words)))
    elif program == "hostname":
        changes = bool([w for w in words if not w.startswith("-")])
    elif program in ("hostnamectl", "timedatectl", "localectl"):
        changes = bool(words) and words[0].startswith("set")
    elif program == "loginctl":
        if words and words[0] in ("poweroff", "reboot", "suspend", "hibernate", "halt"):
            return call.outcome(call.emit(("sys.power",)))
        changes = bool(words) and words[0] in ("terminate-session", "terminate-user", "kill-session", "kill-user",
                                               "lock-sessions", "disable-linger", "enable-linger")
    elif program == "journalctl":
        changes = any(w.startswith(("--vacuum", "--rotate", "--flush")) for w in words)
    elif program == "dmesg":
        changes = any(w in ("-c", "-C", "--clear", "--read-clear") for w in words)
    elif program == "ulimit":
        changes = False
    elif program in ("stty",):
        changes = False
    flags = frozenset({"all-processes"}) if program == "ps" and _lists_every_process(words) else frozenset()
    return call.outcome(call.emit(("sys.config",) if changes else ("proc.read",) if program in (
        "ps", "top", "htop", "btop", "pgrep", "pidof", "lsof", "pstree") else ("sys.read",), flags=flags))


def _lists_every_process(words: list[str]) -> bool:
    """`ps -e`, `ps aux`, `ps -A`: every process, not one selected by command, pid, user or terminal."""
    selectors = ("-C", "-p", "--pid", "-q", "--quick-pid", "-u", "-U", "--user", "-G", "-g", "--group", "-t",
                 "--tty", "--ppid", "-s", "--sid", "--pid=")
    if any(w.startswith(selectors) for w in words):
        return False
    return any(w in ("-e", "-A", "--everyone") or (w.startswith("-") and not w.startswith("--") and
                                                    ("e" in w or "A" in w)) or
               (not w.startswith("-") and "a" in w and "x" in w) for w in words)


@handles("printenv")
def printenv(call: Call) -> Outcome:
    from capfence_sh.parse.words import CREDENTIAL_NAME

    names = [a for a in call.args if not a.value.startswith("-")]
    if not names:
        return call.outcome(call.emit(("sys.read", "env.read")))
    if any(CREDENTIAL_NAME.search(a.value) for a in names):  # `printenv AWS_SECRET_ACCESS_KEY` prints a credential
        return call.outcome(call.emit(("sys.read", "secret.read"), note="prints a credential-named variable"))
    return call.outcome(call.emit(("sys.read",)))


# --- processes and the machine ---------------------------------------------------------------------------------


@handles("kill", "pkill", "killall", "skill", "xkill", "killall5", "fuser")
def kill(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    if call.program == "fuser" and not any(w in ("-k", "--kill") for w in words):
        return call.outcome(call.emit(("proc.read",)))
    if call.program == "kill" and any(w in ("-l", "-L", "--list", "--table") for w in words):
        return call.outcome(call.emit(("shell.builtin",)))
    everything = call.program == "killall5" or any(w in ("-1", "--", "0") and w != "--" for w in words
                                                   if not w.startswith("-") or w == "-1") and call.program == "kill"
    if call.program in ("pkill", "killall", "skill"):
        everything = everything or _kills_by_pattern_everything(call.program, words)
    flags = frozenset({"all-processes"}) if everything else frozenset()
    return call.outcome(call.emit(("proc.kill",), flags=flags))


# Options that take a value, for pkill (procps) and killall (psmisc).
_PKILL_VALUES = frozenset({"-u", "-U", "-g", "-G", "-P", "-s", "-t", "-F", "--euid", "--uid", "--pgroup",
                           "--group", "--parent", "--session", "--terminal", "--pidfile", "--signal", "--ns",
                           "--nslist", "--older", "--newer", "-O", "--cgroup"})
_KILLALL_VALUES = frozenset({"-u", "--user", "-s", "--signal", "-o", "--older-than", "-y", "--younger-than",
                             "-n", "--ns", "-Z", "--context"})
_MATCH_ALL = frozenset({".", ".*", "^", "$", "^.*", ".*$", "^.*$", ".+", "", "(.*)", r"[^\n]*", r"\w*"})


def _kills_by_pattern_everything(program: str, words: list[str]) -> bool:
    """`pkill -u me` (no pattern: every process of the user), `pkill .`, `killall -r .`: everything at once."""
    takes = _KILLALL_VALUES if program == "killall" else _PKILL_VALUES
    patterns, selected_by_user, k = [], False, 0
    regex = program != "killall"
    while k < len(words):
        w = words[k]
        if w in takes:
            selected_by_user = selected_by_user or w in ("-u", "--user", "-U", "--uid", "--euid")
            k += 2
            continue
        if w.startswith("--") and "=" in w:
            selected_by_user = selected_by_user or w.startswith(("--user=", "--uid=", "--euid="))
        elif w in ("-r", "--regexp"):
            regex = True
        elif w.startswith("-") and len(w) > 1:
            pass  # a signal (-9, -KILL) or a flag
        else:
            patterns.append(w)
        k += 1
    if not patterns:
        return selected_by_user
    return regex and any(p in _MATCH_ALL for p in patterns)


_POWER_WORDS = ("poweroff", "reboot", "halt", "shutdown", "suspend", "hibernate", "hybrid-sleep", "kexec",
                "suspend-then-hibernate", "emergency", "rescue", "default", "soft-reboot")


@handles("shutdown", "reboot", "poweroff", "halt", "init", "telinit", "pm-suspend", "pm-hibernate", "systemctl",
         "service", "launchctl", "rc-service", "rc-update", "sv", "supervisorctl", "initctl", "update-rc.d",
         "chkconfig", "pmset")
def services(call: Call) -> Outcome:
    program = call.program
    words = [a.value for a in call.args if a.known]
    operands = [w for w in words if not w.startswith("-")]
    if program in ("shutdown", "reboot", "poweroff", "halt", "pm-suspend", "pm-hibernate"):
        if program == "shutdown" and "-c" in words:
            return call.outcome(call.emit(("sys.service",)))
        return call.outcome(call.emit(("sys.power",)))
    if program in ("init", "telinit"):
        if operands and operands[0] in ("0", "6", "1", "s", "S"):
            return call.outcome(call.emit(("sys.power",)))
        return call.outcome(call.emit(("sys.service",)))
    if program == "pmset":
        return call.outcome(call.emit(("sys.power",) if any(w in ("sleepnow", "restart", "shutdown") for w in words)
                                      else ("sys.config",)))
    verb = operands[0] if operands else ""
    if program == "service" and len(operands) >= 2:
        verb = operands[1]
    if verb in _POWER_WORDS or (verb == "isolate" and any(t in words for t in ("poweroff.target", "reboot.target",
                                                                              "halt.target", "rescue.target"))):
        return call.outcome(call.emit(("sys.power",), subcommand=verb))
    read_verbs = ("status", "show", "list-units", "list-unit-files", "list-timers", "list-sockets", "list-jobs",
                  "is-active", "is-enabled", "is-failed", "cat", "help", "list-dependencies", "get-default",
                  "print", "list", "avail", "summary", "info", "")
    if verb in read_verbs or (program == "launchctl" and verb in ("list", "print", "blame", "dumpstate")):
        return call.outcome(call.emit(("sys.read",), subcommand=verb))
    return call.outcome(call.emit(("sys.service",), subcommand=verb))


_DBUS_POWER = re.compile(r"(?i)\b(?:PowerOff|Reboot|Halt|Suspend|Hibernate|HybridSleep|SuspendThenHibernate|"
                         r"KExec|SoftReboot|ScheduleShutdown)\b")
_DBUS_SERVICE = re.compile(r"(?i)\b(?:StopUnit|KillUnit|RestartUnit|StartUnit|ReloadUnit|DisableUnitFiles|"
                           r"MaskUnitFiles|TerminateSession|TerminateUser|KillSession|KillUser)\b")


@handles("dbus-send", "busctl", "gdbus", "qdbus", "qdbus6")
def dbus(call: Call) -> Outcome:
    """D-Bus calls reach system services directly: login1's PowerOff is a shutdown, systemd1's StopUnit a
    `systemctl stop`."""
    text = " ".join(a.value for a in call.args)
    if _DBUS_POWER.search(text) and re.search(r"(?i)login1|systemd1|org\.freedesktop\.(?:login1|systemd1)|"
                                              r"ConsoleKit|org\.kde\.ksmserver|gnome\.SessionManager", text):
        return call.outcome(call.emit(("sys.power",)))
    if _DBUS_SERVICE.search(text):
        return call.outcome(call.emit(("sys.service",)))
    words = [a.value for a in call.args if not a.value.startswith("-")]
    if not words or words[0] in ("list", "status", "tree", "introspect", "monitor", "capture", "help"):
        return call.outcome(call.emit(("sys.read",)))
    return call.outcome(call.emit(("sys.config",), note="a D-Bus method call to a system service"))


@handles("rtcwake")
def rtcwake(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    mode = next((words[k + 1] for k, w in enumerate(words[:-1]) if w in ("-m", "--mode")), "")
    mode = mode or next((w.split("=", 1)[1] for w in words if w.startswith("--mode=")), "")
    if mode in ("show", "no"):
        return call.outcome(call.emit(("sys.read",) if mode == "show" else ("sys.config",)))
    # Suspends or powers off now (default mode: standby) and wakes later.
    return call.outcome(call.emit(("sys.power",)))


@handles("etcdctl")
def etcdctl(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    operands = [w for w in words if not w.startswith("-")]
    verb = operands[0] if operands else ""
    if verb in ("del", "delete") and any(w in ("--prefix", "--from-key") for w in words):
        return call.outcome(call.emit(("db.drop",), subcommand=verb, note="deletes every key under a prefix"))
    if verb in ("del", "delete", "put", "txn", "lease", "compaction", "defrag", "lock", "elect", "move-leader",
                "user", "role", "auth", "member", "snapshot", "alarm", "downgrade"):
        capabilities = ("db.write",) if verb not in ("snapshot",) or "restore" in operands else ("db.read",)
        return call.outcome(call.emit(capabilities, subcommand=verb))
    return call.outcome(call.emit(("db.read",), subcommand=verb))


@handles("crontab")
def crontab(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    if words == ["-l"] or (words and words[0] == "-l") or "-l" in words and "-r" not in words:
        return call.outcome(call.emit(("sys.read",)))
    operands = [a for a in call.args if not a.value.startswith("-")]
    targets = _targets(call, operands[:1], Access.READ)
    return call.outcome(call.emit(("sys.config",), targets, note="installs or removes scheduled jobs"))


@handles("useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod", "passwd", "chpasswd", "chage",
         "adduser", "deluser", "addgroup", "delgroup", "gpasswd", "newusers", "visudo", "vipw", "vigr", "chsh",
         "chfn", "pwck", "grpck", "dscl", "sysadminctl", "iptables", "ip6tables", "iptables-restore",
         "ip6tables-restore", "nft", "ufw", "firewall-cmd", "pfctl", "modprobe", "insmod", "rmmod", "depmod",
         "kextload", "kextunload", "update-alternatives", "ldconfig", "update-grub", "grub-mkconfig", "dpkg-reconfigure",
         "locale-gen", "update-initramfs", "mkinitcpio", "dracut", "sysctl-w", "auditctl", "setenforce", "aa-disable",
         "apparmor_parser", "semanage", "tc", "ethtool", "rfkill", "hwclock", "ntpdate", "chronyc", "csrutil",
         "spctl", "systemsetup", "networksetup", "scutil", "defaults", "nvram", "bless", "tmutil", "diskutil")
def system_config(call: Call) -> Outcome:
    program = call.program
    words = [a.value for a in call.args]
    listing = {"iptables": ("-L", "-S", "--list", "--list-rules"), "ip6tables": ("-L", "-S", "--list"),
               "nft": ("list",), "ufw": ("status", "show", "app"), "firewall-cmd": ("--list-all", "--state",
                                                                                     "--get-active-zones",
                                                                                     "--list-services"),
               "pfctl": ("-s", "-sr", "-sa"), "chage": ("-l",), "passwd": ("-S", "--status"),
               "update-alternatives": ("--display", "--list", "--query", "--get-selections"),
               "auditctl": ("-l", "-s"), "tc": ("show", "-s"), "ethtool": (), "chronyc": ("tracking", "sources"),
               "tmutil": ("listbackups", "status", "destinationinfo"), "diskutil": ("list", "info"),
               "defaults": ("read", "read-type", "domains", "find"), "nvram": ("-p",), "csrutil": ("status",),
               "spctl": ("--status", "-a", "--assess"), "dscl": ("-read", "-list"), "scutil": ("--get", "--dns"),
               "hwclock": ("-r", "--show", "--get"), "semanage": ("-l",)}
    markers = listing.get(program, ())
    if words and markers and (words[0] in markers or any(w in markers for w in words[:3])) and not any(
            w in ("delete", "flush", "add", "-D", "-F", "-A", "-I", "--set", "write", "eraseDisk", "erase",
                  "unload", "-w", "reset", "disable", "enable") for w in words):
        return call.outcome(call.emit(("sys.read",)))
    if program == "ethtool" and len(words) <= 1:
        return call.outcome(call.emit(("sys.read",)))
    capabilities = ["sys.config"]
    if program == "diskutil" and any(w.startswith(("erase", "partition", "zero", "secureErase", "reformat")) for w in words):
        capabilities.append("disk.write")
    if program in ("passwd", "chpasswd", "visudo", "vipw", "usermod", "gpasswd") or (
            program == "usermod" and ("-aG" in words or "-G" in words)):
        capabilities.append("priv.escalate")
    return call.outcome(call.emit(tuple(capabilities)))


# --- network ---------------------------------------------------------------------------------------------------

_CURL = OptSpec(
    short_with_value="odFTXHuAbcDeEKmrtxyYzwCQPU",
    long_with_value=frozenset({
        "output", "data", "data-ascii", "data-binary", "data-raw", "data-urlencode", "form", "form-string",
        "upload-file", "request", "header", "user", "user-agent", "cookie", "cookie-jar", "dump-header", "referer",
        "cert", "key", "cacert", "capath", "config", "max-time", "connect-timeout", "retry", "retry-delay",
        "retry-max-time", "proxy", "proxy-user", "range", "trace", "trace-ascii", "write-out", "resolve",
        "interface", "limit-rate", "max-filesize", "netrc-file", "oauth2-bearer", "output-dir", "json", "url",
        "quote", "stderr", "unix-socket", "abstract-unix-socket", "variable", "expand-data", "time-cond", "ciphers",
        "connect-to", "dns-servers", "doh-url", "ftp-port", "hsts", "alt-svc", "etag-save", "etag-compare",
        "create-file-mode", "aws-sigv4", "pinnedpubkey", "preproxy", "proxy-header", "socks5", "socks4",
        "socks5-hostname", "telnet-option", "tls-max", "max-redirs", "service-name", "sasl-authzid", "login-options",
        "mail-from", "mail-rcpt", "mail-auth", "ftp-method", "krb", "local-port", "url-query", "keepalive-time",
        "happy-eyeballs-timeout-ms", "retry-all-errors-not", "speed-limit", "speed-time", "trace-config"}),
    aliases=FLAG_ALIASES["curl"])
_CURL_SEND = ("data", "data-ascii", "data-binary", "data-raw", "data-urlencode", "form", "form-string",
              "upload-file", "json", "mail-rcpt", "T", "d", "F")


@handles("curl")
def curl(call: Call) -> Outcome:
    parsed = parse_options(call.args, _CURL)
    capabilities = ["net.fetch"]
    targets = []
    for key in _CURL_SEND:
        for value in parsed.values.get(key, ()):
            capabilities.append("net.send")
            text = value.value
            if key in ("upload-file", "T"):
                if text != "-" and text != ".":
                    targets += call.target(value, Access.READ)
            elif text.startswith("@") and text not in ("@-",):
                targets += call.target(_after(value, 1), Access.READ)
            elif "=@" in text or "=<" in text:
                sep = "=@" if "=@" in text else "=<"
                path = text.split(sep, 1)[1].split(";", 1)[0]
                targets += call.target(literal(path) if value.known else _after(value, text.index(sep) + 2), Access.READ)
    method = parsed.value("request")
    if method is not None and method.value.upper() in ("POST", "PUT", "PATCH", "DELETE"):
        capabilities.append("net.send")
    if method is not None and method.value.upper() == "DELETE" and any(
            _SEARCH_WIPE.search(u.value) for u in list(parsed.operands) + parsed.all_values("url")):
        # Elasticsearch/OpenSearch: DELETE /_all, /*, or any index on the search port drops the data.
        capabilities.append("db.drop")
    for key in ("output", "dump-header", "cookie-jar", "trace", "trace-ascii", "stderr", "etag-save", "hsts"):
        for value in parsed.values.get(key, ()):
            if value.value not in ("-", "/dev/null", "/dev/stdout", "/dev/stderr"):
                capabilities.append("fs.write")
                targets += call.target(value, Access.WRITE)
                _mark_downloaded(call, value)
    urls = [o for o in parsed.operands] + parsed.all_values("url")
    if parsed.has("remote-name", "remote-name-all"):
        out_dir = parsed.value("output-dir")
        for url in urls:
            name = url.value.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "index.html"
            base = (out_dir.value.rstrip("/") + "/" if out_dir is not None else "") + name
            capabilities.append("fs.write")
            targets += call.target(literal(base), Access.WRITE)
            _mark_downloaded(call, literal(base))
    for key in ("config", "K", "netrc-file", "cert", "key", "cacert"):
        for value in parsed.values.get(key, ()):
            targets += call.target(value, Access.READ)
    for url in urls:
        if url.known and url.value.startswith("file://"):
            targets += call.target(literal(url.value[7:]), Access.READ)
            capabilities.append("fs.read")
    return call.outcome(call.emit(tuple(capabilities), targets, flags=frozenset(parsed.flags)))


# A DELETE that drops whole search indices: `/_all`, a wildcard, or an index-level path on the search port
# (9200/9201); `/index/_doc/1` deletes one document.
_SEARCH_WIPE = re.compile(r"(?i)^(?:https?://)?[^/\s]+/(?:[^/?\s]*[*][^/?\s]*|_all)/?(?:\?|$)|"
                          r"^(?:https?://)?[^/\s]*:920[01]/[^/?_\s][^/?\s]*/?(?:\?|$)")


def _after(field: Field, k: int) -> Field:
    """The word without its first k characters (`@file` -> `file`), keeping what is known of it."""
    text = field.value[k:]
    if field.known:
        return literal(text)
    prefix = field.prefix[k:] if len(field.prefix) > k else ""
    return Field(text, False, field.glob, prefix, field.suffix, field.trusted, field.decoded, field.fetched)


def _mark_downloaded(call: Call, field: Field) -> None:
    if field.known:
        path = paths.normalise(field.value, call.cwd)
        call.state.shared.files[path] = None
        call.state.shared.downloaded.add(path)


_WGET = OptSpec(short_with_value="OoaPiDeUtTwlABRXIQY", long_with_value=frozenset({
    "output-document", "output-file", "append-output", "directory-prefix", "input-file", "post-data", "post-file",
    "body-data", "body-file", "method", "header", "user", "password", "user-agent", "tries", "timeout", "wait",
    "level", "accept", "reject", "domains", "exclude-domains", "load-cookies", "save-cookies", "execute",
    "ca-certificate", "certificate", "private-key", "referer", "quota", "limit-rate", "http-user",
    "http-password", "bind-address", "config", "include-directories", "exclude-directories", "cut-dirs",
    "default-page", "restrict-file-names"}),
    aliases=FLAG_ALIASES["wget"] | {"e": "execute", "a": "append-output", "o": "output-file"})


@handles("wget", "wget2")
def wget(call: Call) -> Outcome:
    parsed = parse_options(call.args, _WGET)
    capabilities = ["net.fetch"]
    targets = []
    output = parsed.value("output-document")
    if output is not None and output.value != "-":
        capabilities.append("fs.write")
        targets += call.target(output, Access.WRITE)
        _mark_downloaded(call, output)
    elif output is None:
        prefix = parsed.value("directory-prefix")
        for url in parsed.operands:
            name = url.value.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "index.html"
            path = (prefix.value.rstrip("/") + "/" if prefix is not None else "") + name
            capabilities.append("fs.write")
            targets += call.target(literal(path), Access.WRITE)
            _mark_downloaded(call, literal(path))
    for key in ("post-data", "post-file", "body-data", "body-file"):
        for value in parsed.values.get(key, ()):
            capabilities.append("net.send")
            if key.endswith("file"):
                targets += call.target(value, Access.READ)
    method = parsed.value("method")
    if method is not None and method.value.upper() in ("POST", "PUT", "PATCH", "DELETE"):
        capabilities.append("net.send")
    for key in ("input-file", "load-cookies", "config", "certificate", "private-key"):
        for value in parsed.values.get(key, ()):
            targets += call.target(value, Access.READ)
    for key in ("output-file", "append-output", "save-cookies"):
        for value in parsed.values.get(key, ()):
            targets += call.target(value, Access.WRITE)
    for value in parsed.values.get("execute", ()):
        if value.value.startswith("post_data") or value.value.startswith("post-data"):
            capabilities.append("net.send")
    return call.outcome(call.emit(tuple(capabilities), targets, flags=frozenset(parsed.flags)))


@handles("http", "https", "xh", "xhs", "httpie", "aria2c", "axel", "lftp", "ftp", "tftp", "ncftp", "ncftpput",
         "ncftpget", "grpcurl", "websocat", "wscat", "git-remote-http")
def http_clients(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    capabilities = ["net.fetch"]
    targets = []
    sends = any(re.match(r"^(POST|PUT|PATCH|DELETE)$", w) for w in words) or any(
        re.match(r"^[\w.-]+(:=|=|@)", w) for w in words[1:]) or call.program in ("ncftpput",)
    if sends:
        capabilities.append("net.send")
    for a in call.args:
        if a.known and re.match(r"^[\w.-]+@(.+)$", a.value) and not a.value.startswith("http"):
            path = a.value.split("@", 1)[1]
            targets += call.target(literal(path), Access.READ)
    for k, a in enumerate(call.args):
        if a.value in ("-o", "--output", "-d", "--download") and k + 1 < len(call.args):
            capabilities.append("fs.write")
            targets += call.target(call.args[k + 1], Access.WRITE)
    return call.outcome(call.emit(tuple(capabilities), targets))


# Well-known database ports: what a raw client sends there is that database's commands (Redis speaks plain text).
_DB_PORTS = {"6379": "redis", "6380": "redis", "5432": "sql", "3306": "sql", "9200": "http-db", "27017": "mongo",
             "11211": "memcached", "2379": "etcd"}
_SOCAT_FILE = re.compile(r"(?i)^(?:file|open|gopen|create|pipe|unix-connect|unix-client):([^,]+)")
_SOCAT_NET = re.compile(r"(?i)^(?:tcp|tcp4|tcp6|udp|udp4|udp6|ssl|openssl|sctp|socks4a?|proxy|dccp)[\w-]*:")


@handles("nc", "ncat", "netcat", "socat", "telnet", "openssl-s_client", "cryptcat", "pwncat")
def netcat(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    capabilities = ["net.send", "net.fetch"]
    targets = []
    if call.program == "socat":
        if any(re.match(r"(?i)^(exec|system):", w) for w in words):
            capabilities.append("net.exec")
            for w in words:
                m = re.match(r"(?i)^(exec|system):(.*)$", w)
                if m:
                    call.run_script(m.group(2).split(",")[0], "socat exec")
        if any(re.match(r"(?i)^(tcp-listen|tcp4-listen|tcp6-listen|udp-listen|openssl-listen):", w) for w in words):
            capabilities.append("net.listen")
        # Two addresses, data flowing both ways (with -u, from the first to the second): `FILE:~/.ssh/id_rsa
        # TCP:host:9` sends the key.
        addresses = [a for a in call.args if not a.value.startswith("-") or a.value == "-"]
        unidirectional = any(w in ("-u",) for w in words)
        reverse = any(w in ("-U",) for w in words)
        for index, address in enumerate(addresses[:2]):
            match = _SOCAT_FILE.match(address.value)
            if not match:
                continue
            path = Field(match.group(1), address.known, False, match.group(1), "", address.trusted)
            if address.known and match.group(1).startswith("~"):
                path = literal(call.ctx.home.rstrip("/") + match.group(1)[1:])
            source = (index == 0) != reverse
            accesses = [Access.READ] if unidirectional and source else [Access.WRITE] if unidirectional else [
                Access.READ, Access.WRITE]
            for access in accesses:
                targets += call.target(path, access)
        if not any(_SOCAT_NET.match(w) for w in words):
            capabilities = [c for c in capabilities if c not in ("net.send", "net.fetch")] or ["fs.read"]
    else:
        if any(w in ("-e", "-c", "--exec", "--sh-exec", "--lua-exec") or re.match(r"^-\w*e$", w) for w in words):
            capabilities.append("net.exec")
        if any(w in ("-l", "--listen") or re.match(r"^-\w*l\w*$", w) for w in words):
            capabilities.append("net.listen")
        port = next((w for w in reversed(words) if w.isdigit()), "")
        kind = _DB_PORTS.get(port)
        stdin = call.stdin
        if kind == "redis" and stdin is not None:
            # `printf 'FLUSHALL\r\n' | nc localhost 6379`: Redis reads inline commands as text.
            call.run_argv([literal("redis-cli")], f"{call.program} to port {port}",
                          stdin=stdin if stdin.content is None else replace(
                              stdin, content=stdin.content.replace("\r", "")))
        elif kind and stdin is not None:
            capabilities.append("db.script")
    return call.outcome(call.emit(tuple(capabilities), targets))


_SSH = OptSpec(short_with_value="BbcDEeFIiJLlmOoPpQRSWw", aliases={"l": "login", "p": "port", "i": "identity",
                                                                    "o": "option", "J": "jump", "F": "config"},
               stop_at_operand=True)


@handles("ssh", "mosh", "autossh", "dbclient")
def ssh(call: Call) -> Outcome:
    parsed = parse_options(call.args, _SSH)
    for option in parsed.all_values("option"):
        _ssh_option(call, option)
    capabilities = ["remote.exec", "net.send"]
    if parsed.has("L", "R", "D", "w"):
        capabilities.append("net.listen")
    targets = []
    for identity in parsed.all_values("identity"):
        targets += call.target(identity, Access.READ)
    rest = parsed.rest
    if not rest:
        return call.outcome(call.emit(tuple(capabilities), note="ssh without a host"))
    host = rest[0].value.split("@", 1)[-1]
    command = rest[1:]
    if not command:
        if call.stdin is not None and call.stdin.content is not None:
            action = call.emit(tuple(capabilities), note=f"remote commands on {host} from stdin")
            call.run_script(call.stdin.content, f"ssh {host}", remote=host)
            return call.outcome(action)
        if call.stdin is not None:
            call.dynamic(f"ssh {host} runs commands from stdin not known statically")
        return call.outcome(call.emit(tuple(capabilities), note=f"interactive shell on {host}"))
    action = call.emit(tuple(capabilities), note=f"runs a command on {host}")
    if all(f.known for f in command):
        # The remote side joins the words with spaces and runs them with the user's shell.
        stdin = None if parsed.has("n") else call.stdin
        call.run_script(" ".join(f.value for f in command), f"ssh {host}", remote=host, stdin=stdin)
    else:
        call.dynamic(f"ssh {host} runs a command not known statically")
    return call.outcome(action)


@handles("ping", "ping6", "traceroute", "tracepath", "mtr", "dig", "nslookup", "host", "whois", "nmap", "arping",
         "iperf", "iperf3", "speedtest", "tcpdump", "tshark", "ngrep")
def net_probe(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    if call.program == "tcpdump":
        for k, w in enumerate(words):
            if w in ("-z",) and k + 1 < len(words):
                call.run_argv([call.args[k + 1]], "tcpdump -z")
        if "-w" in words:
            return call.outcome(call.emit(("net.fetch", "fs.write")))
    return call.outcome(call.emit(("net.fetch",)))


# --- databases -------------------------------------------------------------------------------------------------

_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_SQL_STRING = re.compile(r"'(?:[^']|'')*'|\$\$.*?\$\$", re.DOTALL)


def classify_sql(sql: str) -> tuple[list[str], str]:
    """Capabilities of a SQL text (db.read / db.write / db.drop) and what decided it."""
    text = _SQL_STRING.sub("''", _SQL_COMMENT.sub(" ", sql))
    upper = " ".join(text.upper().split())
    statements = [s.strip() for s in upper.split(";") if s.strip()]
    capabilities: list[str] = []
    why = ""
    for statement in statements or [upper]:
        if re.match(r"^\\!|^\\SHELL|^SYSTEM\b|^\\SYSTEM", statement):
            continue
        if re.search(r"\b(DROP\s+(DATABASE|SCHEMA|TABLE|VIEW|MATERIALIZED|INDEX|USER|ROLE|OWNED|TABLESPACE|"
                     r"EXTENSION|FUNCTION|SEQUENCE|TYPE|TRIGGER|COLUMN|CONSTRAINT|COLLECTION|KEYSPACE)|TRUNCATE\b|"
                     r"FLUSHALL|FLUSHDB|DROPDATABASE)", statement):
            capabilities.append("db.drop")
            why = why or statement[:80]
        elif re.match(r"^(WITH\b.*\b)?DELETE\s+FROM\b", statement) and " WHERE " not in f" {statement} ":
            capabilities.append("db.drop")
            why = why or "DELETE without WHERE"
        elif re.match(r"^UPDATE\b", statement) and " WHERE " not in f" {statement} ":
            capabilities.append("db.drop")
            why = why or "UPDATE without WHERE"
        elif re.match(r"^(SELECT|SHOW|EXPLAIN|DESCRIBE|DESC|WITH|VALUES|TABLE|\\[DLTNZ?]|\\\w|PRAGMA|\.TABLES|"
                      r"\.SCHEMA|\.MODE|\.HEADERS|\.QUIT|\.EXIT|USE|SET\s+SEARCH_PATH|BEGIN|COMMIT|ROLLBACK|"
                      r"PING|INFO|KEYS|GET|HGETALL|LRANGE|SMEMBERS|SCAN|TTL|TYPE|EXISTS|DBSIZE|MGET|HGET|ZRANGE)\b",
                      statement):
            capabilities.append("db.read")
        else:
            capabilities.append("db.write")
    return capabilities or ["db.read"], why


def sql_shell_escapes(sql: str) -> list[str]:
    """psql `\\! cmd`, mysql `system cmd` / `\\! cmd`, sqlite3 `.shell cmd` / `.system cmd`."""
    commands = []
    for line in sql.splitlines():
        stripped = line.strip()
        match = re.match(r"^(?:\\!|\\system|system|\.shell|\.system)\s+(.*)$", stripped, re.IGNORECASE)
        if match:
            commands.append(match.group(1))
    return commands


_DB_CLIENTS = {
    "psql": OptSpec(short_with_value="cdfhlLopPtTUvF", long_with_value=frozenset(
        {"command", "dbname", "file", "host", "output", "port", "pset", "username", "variable", "set",
         "log-file", "field-separator", "record-separator", "table-attr"}),
        aliases={"c": "command", "f": "file", "o": "output", "L": "log-file", "d": "dbname"}),
    "mysql": OptSpec(short_with_value="eDhPpSuUf", long_with_value=frozenset(
        {"execute", "database", "host", "port", "socket", "user", "password", "init-command", "tee", "pager",
         "defaults-file", "defaults-extra-file", "login-path"}),
        aliases={"e": "execute", "D": "database"}, optional_value_long=frozenset({"password", "pager"})),
    "sqlite3": OptSpec(short_with_value="", long_with_value=frozenset({"cmd", "init", "separator", "newline",
                                                                         "nullvalue", "mode"}),
                       aliases={"cmd": "command"}, single_dash_long=True),
    "clickhouse-client": OptSpec(short_with_value="qhudp", long_with_value=frozenset({"query", "host", "user",
                                                                                       "database", "password",
                                                                                       "port", "queries-file"}),
                                 aliases={"q": "command", "query": "command"}),
    "cqlsh": OptSpec(short_with_value="efuk", long_with_value=frozenset({"execute", "file", "username", "keyspace",
                                                                         "password"}),
                     aliases={"e": "command", "execute": "command", "f": "file"}),
    "duckdb": OptSpec(short_with_value="c", long_with_value=frozenset({"cmd", "init"}), aliases={"c": "command"},
                      single_dash_long=True),
}
_DB_CLIENTS["mariadb"] = _DB_CLIENTS["mysql"]
_DB_CLIENTS["pgcli"] = _DB_CLIENTS["psql"]
_DB_CLIENTS["mycli"] = _DB_CLIENTS["mysql"]
_DB_CLIENTS["usql"] = _DB_CLIENTS["psql"]
_DB_CLIENTS["cockroach"] = OptSpec(short_with_value="e", long_with_value=frozenset({"execute", "url", "host",
                                                                                     "database", "user", "file"}),
                                   aliases={"e": "command", "execute": "command"})


@handles(*_DB_CLIENTS)
def db_client(call: Call) -> Outcome:
    program = call.program
    parsed = parse_options(call.args, _DB_CLIENTS[program])
    sql_texts: list[Field] = parsed.all_values("command", "execute")
    operands = list(parsed.operands)
    targets = []
    if program in ("sqlite3", "duckdb"):
        sql_texts += parsed.all_values("cmd")
        if operands:
            # The database file is opened for reading and writing (a SELECT reads what is in it).
            targets += call.target(operands[0], Access.READ) + call.target(operands[0], Access.WRITE)
            sql_texts += operands[1:]
    if program == "cockroach" and operands and operands[0].value != "sql":
        return call.outcome(call.emit(("db.write",), subcommand=operands[0].value))
    files = parsed.all_values("file", "queries-file", "init")
    for f in files:
        targets += call.target(f, Access.READ)
    for f in parsed.all_values("output", "log-file", "tee"):
        targets += call.target(f, Access.WRITE)
    pager = parsed.value("pager")
    if pager is not None and pager.value:
        call.run_script(pager.value, f"{program} --pager")
    capabilities: list[str] = []
    notes = []
    stdin = call.stdin
    if stdin is not None and not sql_texts and not files:
        if stdin.content is not None:
            sql_texts.append(literal(stdin.content))
        else:
            capabilities.append("db.script")
            notes.append(f"SQL from {stdin.describe()} is not known statically")
    for text in sql_texts:
        if not text.known:
            capabilities.append("db.script")
            notes.append("SQL not known statically")
            continue
        caps, why = classify_sql(text.value)
        capabilities += caps
        if why:
            notes.append(why)
        for command in sql_shell_escapes(text.value):
            call.run_script(command, f"{program} shell escape")
    for f in files:
        content = call.state.shared.files.get(paths.normalise(f.value, call.cwd)) if f.known else None
        if content is not None:
            capabilities += classify_sql(content)[0]
        else:
            capabilities.append("db.script")
            notes.append(f"SQL file {f.value} is not known statically")
    if not capabilities:
        capabilities.append("db.read" if stdin is None else "db.script")
    return call.outcome(call.emit(tuple(dict.fromkeys(capabilities)), targets, note="; ".join(notes)))


@handles("redis-cli", "valkey-cli", "keydb-cli")
def redis(call: Call) -> Outcome:
    spec = OptSpec(short_with_value="hpsaunrdiDc", long_with_value=frozenset({"user", "pass", "tls", "cacert",
                                                                               "cert", "key", "eval", "pattern"}))
    parsed = parse_options(call.args, spec)
    words = [f.value for f in parsed.operands]
    commands = [" ".join(words)] if words else []
    if not commands and call.stdin is not None:
        if call.stdin.content is None:
            return call.outcome(call.emit(("db.script",), note="redis commands from stdin not known statically"))
        commands = call.stdin.content.splitlines()
    capabilities = []
    for command in commands:
        verb = command.strip().split(" ", 1)[0].upper() if command.strip() else ""
        if verb in ("FLUSHALL", "FLUSHDB", "SHUTDOWN", "DEBUG", "SWAPDB") or (verb == "CONFIG" and "SET" in command.upper()):
            capabilities.append("db.drop")
        elif verb == "EVAL" and _REDIS_DESTRUCTIVE.search(command):
            # `EVAL "redis.call('flushall')" 0`: a Lua script runs the same commands.
            capabilities.append("db.drop")
        elif verb in ("EVALSHA", "FCALL", "FCALL_RO"):
            capabilities.append("db.script")
        elif verb in ("DEL", "UNLINK") and "xargs" in call.where.via and any(
                not w.known and not w.prefix for w in parsed.operands[1:]):
            # `redis-cli --scan | xargs redis-cli del`: keys listed at run time, every key for all we know.
            capabilities.append("db.drop")
        elif verb in ("DEL", "UNLINK", "SET", "HSET", "LPUSH", "RPUSH", "SADD", "ZADD", "EXPIRE", "INCR", "DECR",
                      "RENAME", "MSET", "APPEND", "HDEL", "LPOP", "RPOP", "SREM", "ZREM", "PUBLISH", "EVAL",
                      "EVALSHA", "SCRIPT", "FUNCTION", "MIGRATE", "RESTORE", "MODULE", "SLAVEOF", "REPLICAOF",
                      "BGSAVE", "SAVE"):
            capabilities.append("db.write")
        else:
            capabilities.append("db.read")
    if parsed.value("eval") is not None:
        # `--eval script.lua`: a Lua file whose commands are not known here.
        capabilities.append("db.script")
    return call.outcome(call.emit(tuple(dict.fromkeys(capabilities or ["db.read"]))))


_REDIS_DESTRUCTIVE = re.compile(r"flushall|flushdb|shutdown|swapdb", re.IGNORECASE)


@handles("mongo", "mongosh")
def mongo(call: Call) -> Outcome:
    parsed = parse_options(call.args, OptSpec(long_with_value=frozenset({"eval", "host", "port", "username",
                                                                          "password", "file"}),
                                              short_with_value="upf"))
    scripts = parsed.all_values("eval")
    capabilities = []
    for script in scripts:
        if not script.known:
            capabilities.append("db.script")
        elif re.search(r"dropDatabase|\.drop\(|deleteMany\(\s*\{\s*\}|remove\(\s*\{\s*\}|dropAllUsers|dropUser",
                       script.value):
            capabilities.append("db.drop")
        elif re.search(r"insert|update|delete|replace|create|rename", script.value, re.IGNORECASE):
            capabilities.append("db.write")
        else:
            capabilities.append("db.read")
    files = parsed.all_values("file") + [o for o in parsed.operands if o.value.endswith(".js")]
    if files:
        capabilities.append("db.script")
    return call.outcome(call.emit(tuple(capabilities or ["db.read"]), _targets(call, files, Access.READ)))


@handles("dropdb", "dropuser", "mysqladmin", "pg_restore", "createdb", "createuser", "pg_dump", "pg_dumpall",
         "mysqldump", "mongodump", "mongorestore", "pg_ctl", "pg_upgrade", "initdb")
def db_admin(call: Call) -> Outcome:
    program = call.program
    words = [a.value for a in call.args]
    if program in ("dropdb", "dropuser"):
        return call.outcome(call.emit(("db.drop",)))
    if program == "mysqladmin":
        if any(w in ("drop", "shutdown") for w in words):
            return call.outcome(call.emit(("db.drop",)))
        return call.outcome(call.emit(("db.write",) if any(w in ("create", "flush-privileges", "password", "kill")
                                                          for w in words) else ("db.read",)))
    if program in ("pg_restore", "mongorestore"):
        destructive = any(w in ("-c", "--clean", "--drop") or re.match(r"^-\w*c", w) for w in words)
        return call.outcome(call.emit(("db.drop",) if destructive else ("db.write",)))
    if program in ("pg_dump", "pg_dumpall", "mysqldump", "mongodump"):
        outputs = [call.args[k + 1] for k, w in enumerate(words[:-1]) if w in ("-f", "--file", "-o", "--out",
                                                                              "--result-file", "-r")]
        targets = _targets(call, outputs, Access.WRITE)
        return call.outcome(call.emit(("db.read",) + (("fs.write",) if targets else ()), targets))
    if program in ("pg_ctl",) and words and words[0] in ("stop", "restart", "kill"):
        return call.outcome(call.emit(("sys.service",)))
    return call.outcome(call.emit(("db.write",)))


# --- packages --------------------------------------------------------------------------------------------------

_INSTALL_VERBS = {"install", "add", "i", "in", "ins", "remove", "rm", "uninstall", "un", "r", "update", "upgrade",
                  "up", "purge", "erase", "autoremove", "reinstall", "dist-upgrade", "full-upgrade", "sync", "get",
                  "link", "unlink", "ci", "dedupe", "prune", "localinstall", "downgrade", "tap", "untap", "-S",
                  "-Syu", "-R", "-Rs", "-U", "-i", "-e", "--install", "--remove", "pin", "unpin", "bootstrap",
                  "lock", "download", "fetch", "self-update", "selfupdate", "global", "setup", "clean"}
_PUBLISH_VERBS = {"publish", "upload", "push", "release", "deploy", "unpublish", "dist-tag", "yank", "owner",
                  "deprecate"}
_RUN_VERBS = {"run", "run-script", "exec", "x", "dlx", "start", "test", "t", "tst", "build", "dev", "serve",
              "lint", "format", "check", "watch", "bench", "doc", "docs", "fmt", "clippy", "vet", "generate",
              "compile", "package", "verify", "shell", "tool", "script", "tox", "nox", "make", "tidy", "mod",
              "outdated", "list", "ls", "show", "info", "view", "search", "audit", "why", "explain", "config",
              "init", "new", "create", "version", "help", "env", "cache", "freeze", "inspect", "pack", "licenses",
              "doctor", "completion", "whoami", "login", "logout", "adduser", "token", "sources", "venv", "pip",
              "python", "tree", "sync-lock", "export", "metadata", "locate", "fix", "clean-cache", "prefix", "bin",
              "root", "query", "depends", "rdepends", "policy", "madison", "search-names", "files", "owns",
              "status", "-L", "-l", "-s", "-Q", "-Qi", "-Ql", "-Ss", "-Si", "-q", "-qa", "--list", "--status",
              "--listfiles", "--search", "exec-env", "bundle", "cross", "miri", "expand", "udeps", "nextest",
              "llvm-cov", "tarpaulin", "instruments", "workspaces", "workspace", "why-not", "rebuild", "patch",
              "patch-commit", "set", "get-config", "link-check", "graph", "hash", "pr"}
_RUN_WRAPPER_SUBCOMMANDS = {"uv": "run", "poetry": "run", "pipenv": "run", "pdm": "run", "hatch": "run",
                            "rye": "run", "conda": "run", "mamba": "run", "micromamba": "run", "bundle": "exec",
                            "npm": "exec", "pnpm": "exec", "yarn": "exec", "stack": "exec", "opam": "exec",
                            "mise": "exec", "rtx": "exec", "asdf": "exec", "rbenv": "exec", "pyenv": "exec",
                            "nodenv": "exec", "goenv": "exec", "volta": "run", "fnm": "exec", "nvm": "exec",
                            "direnv": "exec", "devbox": "run", "pixi": "run", "bun": "x", "cargo": "",
                            "dotnet": "", "mix": "", "go": ""}
_PACKAGE_RUNNERS = {("npx",), ("pnpx",), ("bunx",), ("uvx",), ("pipx", "run"), ("npm", "exec"), ("pnpm", "dlx"),
                    ("yarn", "dlx"), ("bun", "x"), ("uv", "tool", "run")}
# Packages that are shell commands in disguise when run through npx and friends.
_DESTRUCTIVE_PACKAGES = {"rimraf": ["rm", "-rf"], "del-cli": ["rm", "-rf"], "trash-cli": ["rm", "-rf"],
                         "rm-rf": ["rm", "-rf"], "shx": []}


@handles("pip", "pip3", "pipx", "uv", "poetry", "pipenv", "pdm", "hatch", "rye", "conda", "mamba", "micromamba",
         "npm", "pnpm", "yarn", "npx", "pnpx", "bunx", "uvx", "cargo", "gem", "bundle", "bundler", "go", "composer",
         "mvn", "gradle", "dotnet", "swift", "mix", "stack", "cabal", "opam", "cpan", "cpanm", "luarocks", "nuget",
         "choco", "winget", "scoop", "rustup", "apt", "apt-get", "aptitude", "dpkg", "yum", "dnf", "rpm", "apk",
         "pacman", "yay", "paru", "zypper", "brew", "port", "snap", "flatpak", "nix-env", "nix", "emerge", "pkg",
         "mise", "rtx", "asdf", "rbenv", "pyenv", "nodenv", "goenv", "volta", "fnm", "nvm", "corepack", "deno-install",
         "pixi", "devbox", "sdk", "tox", "nox", "rake", "lerna", "nx", "turbo", "changeset", "semantic-release",
         "goreleaser", "vsce", "ovsx", "twine", "flit", "maturin", "jlpm", "ng", "vite", "next", "tsc", "webpack",
         "rollup", "esbuild", "jest", "vitest", "mocha", "pytest", "tox-run", "ruff", "black", "isort", "flake8",
         "mypy", "pyright", "pylint", "eslint", "prettier", "stylelint", "biome", "rubocop", "rspec", "phpunit",
         "gofmt", "golangci-lint", "rustfmt", "clang-format", "shellcheck", "hadolint", "direnv", "sbt", "lein",
         "clojure", "bazel", "bazelisk", "buck2", "pants", "meson", "ninja", "cmake", "make", "gmake", "just",
         "task", "scons", "ant", "xcodebuild", "gcc", "g++", "cc", "c++", "clang", "clang++", "rustc", "javac",
         "java", "kotlinc", "scalac", "ghc", "elixir", "erl", "zig", "nim", "crystal", "dart", "flutter",
         "coverage", "gunicorn", "uvicorn", "flask", "django-admin", "celery", "alembic", "manage.py", "rails",
         "prisma", "sequelize", "knex", "typeorm", "flyway", "liquibase", "dbt", "ansible", "ansible-playbook")
def package_manager(call: Call) -> Outcome:
    from capfence_sh.parse import vcs_cloud

    program = call.program
    words = [a.value for a in call.args]
    if program in ("rails", "rake", "manage.py", "prisma", "sequelize", "knex", "typeorm", "flyway", "liquibase",
                   "dbt", "alembic", "django-admin"):
        return _framework_db(call, words)
    if program in ("ansible", "ansible-playbook"):
        return vcs_cloud.ansible(call)
    if program in ("twine", "flit", "vsce", "ovsx", "goreleaser", "semantic-release", "changeset", "lerna", "maturin"):
        return publish_tools(call)
    operands = [w for w in words if not w.startswith("-")]
    verb = operands[0] if operands else (words[0] if words else "")
    if program in ("npx", "pnpx", "bunx", "uvx") or (program, verb) in {("npm", "exec"), ("pnpm", "dlx"),
                                                                         ("yarn", "dlx"), ("bun", "x"),
                                                                         ("pipx", "run")}:
        return _package_runner(call, words)
    if program == "uv" and verb == "tool" and len(operands) > 1 and operands[1] == "run":
        call.argv = [call.argv[0], *call.args[call.args.index(next(a for a in call.args if a.value == "run")) + 1 :]]
        return _package_runner(call, [a.value for a in call.args])
    if program == "nix" and verb in ("develop", "shell") and any(w in ("-c", "--command") for w in words):
        # `nix develop -c CMD ARGS`: the command runs in the environment nix builds.
        index = next(k for k, w in enumerate(words) if w in ("-c", "--command"))
        call.emit(("pkg.install", "shell.exec"), subcommand=verb)
        return call.run_argv(call.args[index + 1 :], f"nix {verb}")
    if program in ("uv", "poetry", "pdm", "rye", "hatch", "pipx", "pixi") and verb in ("pip",):
        sub = operands[1] if len(operands) > 1 else ""
        return call.outcome(call.emit(("pkg.install",) if sub in _INSTALL_VERBS else ("code.exec",), subcommand=f"pip {sub}"))
    # `direnv exec DIR CMD`, `nvm exec VERSION CMD`: one operand before the command.
    if program in ("nvm",) and verb in ("exec", "run"):
        return _run_wrapper(call, skip=1)
    if program == "direnv" and verb == "exec":
        return _run_wrapper(call, skip=1)
    wrapper_verb = _RUN_WRAPPER_SUBCOMMANDS.get(program)
    if wrapper_verb and verb == wrapper_verb and program not in ("cargo", "dotnet", "mix", "go"):
        return _run_wrapper(call)
    if program in ("mise", "rtx") and verb in ("x", "exec"):
        return _run_wrapper(call)
    if program in ("make", "gmake") and any(w in ("-n", "--dry-run", "--just-print", "--recon") for w in words):
        # Prints the recipes instead of running them (but for `+` lines and $(MAKE): analysed all the same).
        return _build_tool(call, words)
    if verb in _PUBLISH_VERBS or (program in ("cargo", "gem") and verb in ("publish", "push", "yank", "owner")) \
            or (program == "dotnet" and verb == "nuget" and "push" in operands) or (program in ("mvn", "gradle") and
                                                                                   any(o in ("deploy", "publish") for o in operands)):
        if program in ("npm", "pnpm", "yarn") and verb in ("dist-tag", "owner") and len(operands) > 1 and operands[1] in ("ls", "list"):
            return call.outcome(call.emit(("code.exec",), subcommand=verb))
        if program in ("yarn",) and verb == "npm" and "publish" not in operands:
            return call.outcome(call.emit(("code.exec",), subcommand=verb))
        if program in ("git",):
            return call.outcome(call.emit(("vcs.push",)))
        return call.outcome(call.emit(("pkg.publish",), subcommand=verb))
    if program == "yarn" and verb == "npm" and "publish" in operands:
        return call.outcome(call.emit(("pkg.publish",), subcommand="npm publish"))
    if program in ("make", "gmake", "just", "task", "scons", "ant", "ninja", "bazel", "bazelisk", "buck2", "pants",
                   "meson", "cmake", "xcodebuild", "sbt", "lein", "gradle", "mvn", "rake", "tox", "nox"):
        return _build_tool(call, words)
    if program in ("go",) and verb in ("run", "test", "build", "generate", "vet", "fmt", "mod", "list", "env",
                                       "version", "doc", "tool", "work", "clean"):
        if verb == "clean" and "-modcache" in words:
            return call.outcome(call.emit(("fs.delete",), subcommand=verb))
        return call.outcome(call.emit(("code.exec",), subcommand=verb))
    if program in ("npm", "pnpm", "yarn", "bun"):
        _package_json_scripts(call, program, verb, operands)
    if program in ("npm", "pnpm", "yarn", "bun") and verb in ("run", "run-script", "start", "test", "t") or (
            program == "yarn" and verb and verb not in _INSTALL_VERBS and verb not in _PUBLISH_VERBS):
        return call.outcome(call.emit(("code.exec",), subcommand=verb, note="runs a package.json script"))
    if program in ("gcc", "g++", "cc", "c++", "clang", "clang++", "rustc", "javac", "kotlinc", "scalac", "ghc",
                   "zig", "nim", "crystal", "tsc", "esbuild", "rollup", "webpack"):
        outputs = [call.args[k + 1] for k, w in enumerate(words[:-1]) if w in ("-o", "--out-dir", "--outdir",
                                                                              "--outfile", "-d")]
        return call.outcome(call.emit(("code.exec", "fs.write") if outputs else ("code.exec",),
                                      _targets(call, outputs, Access.WRITE), subcommand=verb))
    if program in ("java",) and "-jar" in words:
        return call.outcome(call.emit(("code.exec",), subcommand="-jar"))
    if _removes_system_packages(program, verb, words):
        return call.outcome(call.emit(("pkg.remove",), subcommand=verb))
    if verb in _INSTALL_VERBS or program in ("dpkg", "rpm") and any(w in ("-i", "--install", "-e", "--erase",
                                                                          "-U", "-P", "--purge", "-r", "--remove")
                                                                    for w in words):
        flags = frozenset({"global"}) if any(w in ("-g", "--global", "--system", "--user") for w in words) else frozenset()
        if program in ("cargo",) and verb == "clean":
            return call.outcome(call.emit(("fs.delete",), subcommand=verb))
        if program in ("brew", "apt", "apt-get", "yum", "dnf", "pacman", "conda", "mamba", "npm", "pnpm", "yarn",
                       "pip", "poetry", "uv", "pdm", "go", "gem", "cargo", "composer", "bundle") and verb == "clean":
            return call.outcome(call.emit(("fs.delete",), subcommand=verb))
        return call.outcome(call.emit(("pkg.install",), subcommand=verb, flags=flags))
    return call.outcome(call.emit(("code.exec",), subcommand=verb))


# The machine's own package managers: removing with them can take out what the system (or the agent's own
# toolchain) runs on. A project's packages (pip, npm, cargo uninstall) stay ordinary `pkg.install` work.
_SYSTEM_REMOVE_VERBS = {
    "apt": {"remove", "purge", "autoremove", "autopurge"}, "apt-get": {"remove", "purge", "autoremove", "autopurge"},
    "aptitude": {"remove", "purge"}, "yum": {"remove", "erase", "autoremove"},
    "dnf": {"remove", "erase", "autoremove"}, "zypper": {"remove", "rm"}, "apk": {"del"},
    "snap": {"remove"}, "flatpak": {"uninstall", "remove"}, "port": {"uninstall"},
}
_SYSTEM_REMOVE_FLAGS = {"dpkg": ("-r", "--remove", "-P", "--purge"), "rpm": ("-e", "--erase"),
                        "emerge": ("-C", "--unmerge", "--depclean", "-c")}


def _removes_system_packages(program: str, verb: str, words: list[str]) -> bool:
    if verb in _SYSTEM_REMOVE_VERBS.get(program, ()):
        return True
    if program in ("pacman", "yay", "paru"):  # -R, -Rs, -Rns, --remove: an operation flag, not a verb
        return any(w == "--remove" or (w.startswith("-R") and w[1:].isalpha()) for w in words)
    return any(w in _SYSTEM_REMOVE_FLAGS.get(program, ()) for w in words)


_LIFECYCLE = ("preinstall", "install", "postinstall", "prepare", "preprepare", "postprepare")


def _package_json_scripts(call: Call, program: str, verb: str, operands: list[str]) -> None:
    """The package.json scripts this command runs, when this script set them: `npm pkg set scripts.x='...'`,
    or a package.json it wrote (`echo '{"scripts": ...}' > package.json && npm install`)."""
    if verb == "pkg" and operands[1:2] == ["set"]:
        for assignment in operands[2:]:
            key, eq, value = assignment.partition("=")
            if eq and key.startswith("scripts."):
                call.run_script(value, f"{program} script {key[8:]}")
        return
    if verb == "set-script" and len(operands) >= 3:
        call.run_script(operands[2], f"{program} script {operands[1]}")
        return
    path = paths.normalise("package.json", call.cwd)
    files = call.state.shared.files
    if path not in files:
        return
    if verb in ("run", "run-script"):
        names = [operands[1], "pre" + operands[1], "post" + operands[1]] if len(operands) > 1 else []
    elif verb in ("start", "test", "t", "restart", "stop"):
        name = "test" if verb == "t" else verb
        names = [name, "pre" + name, "post" + name]
    elif verb in ("install", "i", "ci", "add", "in", "isntall") or not verb:
        names = list(_LIFECYCLE)
    elif program == "yarn" and verb not in _INSTALL_VERBS:
        names = [verb]
    else:
        return
    content = files[path]
    if content is None:
        call.dynamic(f"{program} {verb} runs scripts of a package.json written earlier, not known statically")
        return
    import json

    try:
        scripts = json.loads(content).get("scripts") or {}
    except (ValueError, AttributeError):
        call.dynamic("package.json written earlier cannot be read as JSON")
        return
    for name in names:
        script = scripts.get(name) if isinstance(scripts, dict) else None
        if isinstance(script, str):
            call.run_script(script, f"{program} script {name}")


def _package_runner(call: Call, words: list[str]) -> Outcome:
    """npx PKG args, uvx PKG args, pipx run PKG args: runs a package, maybe downloaded on the spot."""
    args = list(call.args)
    program = call.program
    skip_first = program in ("npm", "pnpm", "yarn", "bun", "pipx")
    if skip_first and args:
        args = args[1:]
    value_options = {"-p", "--package", "--from", "--with", "-c", "--call", "--python", "--spec", "--index-url"}
    k = 0
    call_script = None
    while k < len(args) and args[k].known and args[k].value.startswith("-"):
        if args[k].value in ("-c", "--call") and k + 1 < len(args):
            call_script = args[k + 1]
        if args[k].value == "--":
            k += 1
            break
        k += 2 if args[k].value in value_options else 1
    if call_script is not None:
        if call_script.known:
            return call.run_script(call_script.value, f"{program} -c")
        return call.dynamic(f"{program} -c with a command not known statically")
    if k >= len(args):
        return call.outcome(call.emit(("code.exec",)))
    package = args[k].value.split("@")[0] if not args[k].value.startswith("@") else args[k].value.rsplit("@", 1)[0]
    rest = args[k + 1 :]
    action = call.emit(("code.exec",), subcommand=package, note=f"runs package {package}")
    mapped = _DESTRUCTIVE_PACKAGES.get(package)
    if mapped is not None:
        if mapped:
            return call.run_argv([literal(w) for w in mapped] + rest, f"{program} {package}")
        if rest:
            return call.run_argv(rest, f"{program} {package}")
        return call.outcome(action)
    # The package's command may also be any program on PATH (`npm exec -- rm -rf ~`): analyse it as that command.
    if "/" not in package:
        call.run_argv([literal(package), *rest], f"{program} {package}")
    return call.outcome(action)


def _run_wrapper(call: Call, skip: int = 0) -> Outcome:
    """`uv run CMD`, `poetry run CMD`, `bundle exec CMD`, `direnv exec DIR CMD`: run CMD in an environment."""
    args = list(call.args)
    k = 1  # the subcommand
    value_options = {"--with", "--python", "-p", "--project", "--directory", "--env", "-e", "-n", "--name",
                     "--prefix", "--from", "--package", "--group", "--extra", "--env-file", "-E", "--cwd", "-C",
                     "--using", "--frozen-not"}
    while k < len(args) and args[k].known and args[k].value.startswith("-"):
        if args[k].value == "--":
            k += 1
            break
        k += 2 if args[k].value in value_options else 1
    k += skip
    rest = args[k:]
    action = call.emit(("shell.builtin",), subcommand=args[0].value if args else "")
    if not rest:
        return call.outcome(action)
    return call.run_argv(rest, f"{call.program} {args[0].value}")


def _build_tool(call: Call, words: list[str]) -> Outcome:
    program = call.program
    capabilities = ["code.exec"]
    operands = [w for w in words if not w.startswith("-")]
    if program in ("make", "gmake"):
        _makefile_recipes(call, words)
        if any(o in ("clean", "distclean", "mrproper") for o in operands):
            capabilities.append("fs.delete")
    return call.outcome(call.emit(tuple(capabilities), subcommand=operands[0] if operands else ""))


def _makefile_recipes(call: Call, words: list[str]) -> None:
    """The recipes make would run, when the makefile is text this script wrote or passed (`printf ... > Makefile
    && make`, `make -f - <<EOF`, `make --eval=...`)."""
    texts: list[tuple[str, str | None]] = []
    files = call.state.shared.files
    names: list[str] = []
    for k, w in enumerate(words):
        if w.startswith("SHELL=") or w.startswith(".SHELLFLAGS="):
            call.dynamic("make with a replaced SHELL")
        value = words[k + 1] if k + 1 < len(words) else None
        if w.startswith("--eval="):
            texts.append(("make --eval", w.split("=", 1)[1]))
        elif w == "--eval" and value is not None:
            texts.append(("make --eval", value))
        elif w.startswith(("--file=", "--makefile=")):
            names.append(w.split("=", 1)[1])
        elif w in ("-f", "--file", "--makefile") and value is not None:
            names.append(value)
    for name in names:
        path = paths.normalise(name, call.cwd)
        if (name == "-" or path == "/dev/stdin") and call.stdin is not None:
            texts.append(("make -f -", call.stdin.content))
        elif path in files:
            texts.append((f"make -f {name}", files[path]))
    if not names:
        # Without -f, make reads GNUmakefile, makefile or Makefile from the directory it runs in (or -C's).
        directory = next((words[k + 1] for k, w in enumerate(words[:-1]) if w in ("-C", "--directory")), ".")
        for name in ("GNUmakefile", "makefile", "Makefile"):
            path = paths.normalise(directory + "/" + name, call.cwd)
            if path in files:
                texts.append((f"make ({name})", files[path]))
                break
    for label, text in texts:
        if text is None:
            call.dynamic(f"{label} runs recipes not known statically")
            continue
        for line in text.splitlines():
            if line.startswith("\t"):
                call.run_script(line.strip().lstrip("@-+"), label)


def publish_tools(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    program = call.program
    publishing = {"twine": ("upload", "register"), "flit": ("publish",), "vsce": ("publish", "unpublish"),
                  "ovsx": ("publish",), "goreleaser": ("release",), "semantic-release": ("",),
                  "changeset": ("publish",), "lerna": ("publish",), "maturin": ("publish", "upload")}
    verbs = publishing.get(program, ())
    if "" in verbs or any(w in verbs for w in words):
        if "--dry-run" in words or "--snapshot" in words or "-n" in words and program != "twine":
            return call.outcome(call.emit(("code.exec",)))
        return call.outcome(call.emit(("pkg.publish",), subcommand=words[0] if words else ""))
    return call.outcome(call.emit(("code.exec",), subcommand=words[0] if words else ""))


def framework_command(call: Call, words: list[str], script: Field) -> Outcome:
    """A framework's command-line script run by its interpreter (`python manage.py flush`)."""
    call.emit(("code.exec",), call.target(script, Access.EXEC), note=f"runs {script.value}")
    return _framework_db(call, words)


def _framework_db(call: Call, words: list[str]) -> Outcome:
    text = " ".join(words)
    destructive = re.search(r"\bdb:(drop|reset|schema:load|purge|truncate_all|seed:replant)\b|\bflush\b|\breset_db\b|"
                            r"\bsqlflush\b|\bmigrate\s+reset\b|\bdb\s+push\b.*--force-reset|\bdb:drop\b|"
                            r"\bdowngrade\s+base\b|\bclean\b|\bdropAll\b|\bmigrate:rollback\b.*--all|"
                            r"\bschema:drop\b|--full-refresh", text)
    if destructive:
        return call.outcome(call.emit(("db.drop",), subcommand=words[0] if words else "", note=destructive.group(0)))
    if re.search(r"\b(migrate|upgrade|downgrade|db:migrate|db:seed|seed|db\s+push|loaddata|update|run|deploy)\b", text):
        return call.outcome(call.emit(("db.write", "code.exec"), subcommand=words[0] if words else ""))
    return call.outcome(call.emit(("code.exec",), subcommand=words[0] if words else ""))


# --- editors and other programs that run commands --------------------------------------------------------------


@handles("vim", "vi", "nvim", "ex", "view-", "gvim", "nano", "pico", "emacs", "micro", "hx", "helix", "kak", "ed",
         "joe", "mcedit", "code", "subl", "gedit", "kate")
def editor(call: Call) -> Outcome:
    args = call.args
    targets = []
    if call.program == "emacs":
        for k, arg in enumerate(args):
            name = arg.value.split("=", 1)[0]
            if name in ("--eval", "-eval", "--execute", "-execute", "-l", "--load", "-load", "--script",
                        "-script", "-f", "--funcall", "-funcall"):
                # Emacs Lisp can do anything (`(shell-command "...")`, `(delete-directory d t)`).
                call.dynamic(f"emacs {name} runs Emacs Lisp that is not analysed", capabilities=("code.dynamic",))
                break
    for k, arg in enumerate(args):
        text = arg.value
        command = None
        if text in ("-c", "--cmd", "-S") and k + 1 < len(args):
            command = args[k + 1]
        elif text.startswith("+") and len(text) > 1:
            command = _after(arg, 1)
        if command is not None:
            if not command.known:
                call.dynamic(f"{call.program} runs an editor command not known statically")
            elif re.match(r"^\s*(:?\s*!|:?\s*(silent!?\s*)?!|:?\s*(py|python|pyx|lua|perl|ruby|call\s+system|"
                          r"exe|execute|terminal|term|r\s*!|w\s*!|source|so)\b)", command.value):
                bang = re.search(r"!\s*(.*)$", command.value)
                if bang and bang.group(1):
                    call.run_script(bang.group(1), f"{call.program} !")
                else:
                    call.dynamic(f"{call.program} runs an editor command: {command.value}")
    operands = [a for k, a in enumerate(args) if not a.value.startswith(("-", "+")) and not (
        k > 0 and args[k - 1].value in ("-c", "--cmd", "-S", "-u", "-i", "-T", "-w", "-W", "-s"))]
    targets += _targets(call, operands, Access.READ) + _targets(call, operands, Access.WRITE)
    if call.program == "ed" and call.stdin is not None and call.stdin.content:
        for line in call.stdin.content.splitlines():
            if line.startswith("!"):
                call.run_script(line[1:], "ed !")
    return call.outcome(call.emit(("fs.read", "fs.write") if operands else ("shell.builtin",), targets))


@handles("tar", "bsdtar", "gtar")
def tar(call: Call) -> Outcome:
    args = list(call.args)
    # Old-style clusters: `tar czf out.tgz dir` means -c -z -f out.tgz dir.
    if args and args[0].known and not args[0].value.startswith("-") and re.fullmatch(r"[a-zA-Z]+", args[0].value) \
            and any(c in args[0].value for c in "ctxrAu"):
        args[0] = literal("-" + args[0].value)
    spec = OptSpec(short_with_value="fCITXbgLNVKFH", long_with_value=frozenset({
        "file", "directory", "use-compress-program", "files-from", "exclude-from", "exclude", "to-command",
        "checkpoint-action", "info-script", "new-volume-script", "rsh-command", "blocking-factor", "listed-incremental",
        "newer", "after-date", "transform", "xform", "owner", "group", "mode", "mtime", "label", "format",
        "index-file", "volno-file", "suffix", "strip-components", "warning", "checkpoint", "record-size",
        "tape-length", "starting-file", "sort", "anchored-not", "atime-preserve", "backup", "quoting-style",
        "occurrence"}),
        aliases=FLAG_ALIASES["tar"], optional_value_long=frozenset({"checkpoint", "backup", "occurrence"}))
    parsed = parse_options(args, spec)
    for key in ("use-compress-program", "I", "to-command", "info-script", "F", "new-volume-script", "rsh-command"):
        for value in parsed.values.get(key, ()):
            if value.known:
                call.run_script(value.value, f"tar --{key}")
            else:
                call.dynamic(f"tar --{key} with a command not known statically")
    for value in parsed.values.get("checkpoint-action", ()):
        if value.value.startswith("exec="):
            call.run_script(value.value[5:], "tar --checkpoint-action=exec")
    archive = parsed.value("file")
    directory = parsed.value("directory")
    members = parsed.operands
    capabilities = []
    targets = []
    if parsed.has("create", "append", "update", "catenate"):
        capabilities += ["fs.read", "fs.write"]
        base_cwd = directory
        for member in members:
            field = member
            if base_cwd is not None and base_cwd.known and member.known and not member.value.startswith("/"):
                field = literal(base_cwd.value.rstrip("/") + "/" + member.value)
            targets += call.target(field, Access.READ, recursive=True)
        if archive is not None and archive.value != "-":
            targets += call.target(archive, Access.WRITE)
        if parsed.has("remove-files"):
            capabilities.append("fs.delete")
            targets += _targets(call, members, Access.DELETE, recursive=True)
    elif parsed.has("extract"):
        capabilities += ["fs.read", "fs.write"]
        if archive is not None and archive.value != "-":
            targets += call.target(archive, Access.READ)
        destination = directory or literal(".")
        targets += call.target(destination, Access.WRITE, recursive=True)
    else:
        capabilities.append("fs.read")
        if archive is not None and archive.value != "-":
            targets += call.target(archive, Access.READ)
    return call.outcome(call.emit(tuple(capabilities), targets, flags=frozenset(parsed.flags)))


@handles("zip", "unzip", "gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz", "zstd", "unzstd", "lz4", "compress",
         "uncompress", "7z", "7za", "7zz", "cpio", "ar", "pax", "rar", "unrar", "pigz", "pbzip2", "lzma", "brotli")
def archives(call: Call) -> Outcome:
    program = call.program
    words = [a.value for a in call.args]
    if program == "zip":
        for k, w in enumerate(words):
            if w in ("-TT", "--unzip-command") and k + 1 < len(words):
                call.run_script(words[k + 1], "zip -TT")
        operands = [a for a in call.args if not a.value.startswith("-")]
        targets = _targets(call, operands[:1], Access.WRITE) + _targets(call, operands[1:], Access.READ,
                                                                         recursive="-r" in words or "--recurse-paths" in words)
        return call.outcome(call.emit(("fs.read", "fs.write"), targets))
    if program in ("unzip", "unrar", "7z", "7za", "7zz", "rar"):
        destination = next((call.args[k + 1] for k, w in enumerate(words[:-1]) if w == "-d"), None)
        destination = destination or next((literal(w[2:]) for w in words if w.startswith("-o") and len(w) > 2), None)
        operands = [a for a in call.args if not a.value.startswith("-")]
        if program in ("7z", "7za", "7zz", "rar") and operands and operands[0].value in ("a", "u"):
            return call.outcome(call.emit(("fs.read", "fs.write"), _targets(call, operands[1:2], Access.WRITE) +
                                          _targets(call, operands[2:], Access.READ, recursive=True)))
        if "-l" in words or "-v" in words or (operands and operands[0].value in ("l", "t")):
            return call.outcome(call.emit(("fs.read",), _targets(call, operands[:1], Access.READ)))
        targets = _targets(call, [a for a in operands if a.value not in ("x", "e")][:1], Access.READ)
        targets += call.target(destination or literal("."), Access.WRITE, recursive=True)
        return call.outcome(call.emit(("fs.read", "fs.write"), targets))
    operands = [a for a in call.args if not a.value.startswith("-")]
    to_stdout = any(w in ("-c", "--stdout", "--to-stdout", "-k", "--keep") or (re.match(r"^-\w*c", w) and program not in ("cpio", "ar", "pax"))
                    for w in words)
    decoding = program.startswith("un") or program in ("gunzip",) or any(w in ("-d", "--decompress", "--uncompress")
                                                                      for w in words)
    capabilities = ["fs.read"]
    if decoding:
        capabilities.append("data.decode")
    targets = _targets(call, operands, Access.READ)
    if operands and not to_stdout and program not in ("cpio", "ar", "pax"):
        capabilities += ["fs.write", "fs.delete"]
        targets += _targets(call, operands, Access.DELETE) + _targets(call, operands, Access.WRITE)
    return call.outcome(call.emit(tuple(capabilities), targets))


_LINTER_FIXES = {"codespell": ("w", "write-changes"), "typos": ("w", "write-changes"), "markdownlint": ("fix",),
                 "markdownlint-cli2": ("fix",), "taplo": ("fmt", "format")}


@handles("yamllint", "codespell", "actionlint", "markdownlint", "markdownlint-cli2", "cspell", "vale", "proselint",
         "editorconfig-checker", "typos", "jsonlint", "taplo", "write-good", "alex")
def linters(call: Call) -> Outcome:
    """Linters read the files and trees they are given; some rewrite them when asked to fix."""
    parsed = parse_options(call.args)
    operands = [o for o in parsed.operands if o.value not in ("fmt", "format", "lint", "check")]
    fixes = _LINTER_FIXES.get(call.program, ())
    writes = parsed.has(*fixes) or any(o.value in fixes for o in parsed.operands)
    targets = _targets(call, operands, Access.READ, recursive=True)
    if writes:
        targets += _targets(call, operands or [literal(".")], Access.WRITE, recursive=True)
    return call.outcome(call.emit(("fs.read", "fs.write") if writes else ("fs.read",), targets,
                                  flags=frozenset(parsed.flags)))


@handles("tr")
def tr(call: Call) -> Outcome:
    """tr only filters standard input; a character map is also a way to hide a payload (`tr a-z n-za-m | sh`)."""
    args = call.args
    stdin = call.stdin
    if stdin is not None and stdin.content is not None and all(a.known for a in args):
        call.stdout = _translate(stdin.content, [a.value for a in args])
    return call.outcome(call.emit(("data.decode",)))


def _translate(text: str, args: list[str]) -> str | None:
    """What `tr SET1 SET2` or `tr -d SET` prints, for plain sets of characters and ranges; None otherwise."""
    delete = args[:1] == ["-d"]
    sets = args[1:] if delete else args
    if any(s.startswith("-") for s in sets) or len(sets) != (1 if delete else 2):
        return None
    expanded = [_tr_set(s) for s in sets]
    if any(e is None for e in expanded):
        return None
    if delete:
        return "".join(c for c in text if c not in expanded[0])  # type: ignore[operator]
    source, target = expanded  # type: ignore[misc]
    if not target:
        return None
    target = target + target[-1] * max(0, len(source) - len(target))
    return text.translate({ord(a): b for a, b in zip(source, target)})


def _tr_set(spec: str) -> str | None:
    if "\\" in spec or "[" in spec:
        return None  # classes, escapes and repeats are not worth modelling
    out: list[str] = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-" and spec[i] <= spec[i + 2]:
            out.extend(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            out.append(spec[i])
            i += 1
    return "".join(out)


@handles("patch")
def patch(call: Call) -> Outcome:
    targets = call.target(literal("."), Access.WRITE, recursive=True)
    return call.outcome(call.emit(("fs.write",), targets, note="applies a patch to files it names"))


@handles("split", "csplit")
def split(call: Call) -> Outcome:
    operands = [a for a in call.args if not a.value.startswith("-")]
    return call.outcome(call.emit(("fs.read", "fs.write"), _targets(call, operands[:1], Access.READ)))


@handles("ssh-keygen", "ssh-add", "gpg", "gpg2", "pass", "security", "op", "bw", "lpass", "vault", "keyctl",
         "secret-tool", "age", "sops", "aws-vault", "doppler", "infisical", "1password", "kwallet-query")
def secrets_tools(call: Call) -> Outcome:
    program = call.program
    words = [a.value for a in call.args]
    text = " ".join(words)
    if program == "ssh-keygen":
        if "-y" in words or "-e" in words and "-f" in words:
            files = [call.args[k + 1] for k, w in enumerate(words[:-1]) if w == "-f"]
            return call.outcome(call.emit(("secret.read",), _targets(call, files, Access.READ)))
        files = [call.args[k + 1] for k, w in enumerate(words[:-1]) if w == "-f"]
        if "-R" in words or "-F" in words or "-l" in words:
            return call.outcome(call.emit(("sys.read",)))
        return call.outcome(call.emit(("fs.write",), _targets(call, files, Access.WRITE)))
    if program in ("gpg", "gpg2"):
        if re.search(r"--export-secret|--export-secret-keys|--export-secret-subkeys|-d\b|--decrypt", text):
            return call.outcome(call.emit(("secret.read",)))
        if re.search(r"--delete-secret|--delete-key|--delete-keys", text):
            return call.outcome(call.emit(("fs.delete",)))
        return call.outcome(call.emit(("fs.read",)))
    if program in ("aws-vault", "doppler", "infisical", "op") and re.search(r"\b(exec|run)\b", text):
        parts = call.args
        if "--" in words:
            index = words.index("--")
            action = call.emit(("secret.read",), note=f"{program} runs a command with secrets in its environment")
            outcome = call.run_argv(parts[index + 1 :], program)
            return outcome if outcome.action else call.outcome(action)
    if program == "sops" and words and words[0] in ("exec-env", "exec-file") and len(words) >= 3:
        call.emit(("secret.read",))
        return call.run_script(words[2], f"sops {words[0]}")
    if program == "ssh-add" and ("-l" in words or "-L" in words):
        return call.outcome(call.emit(("sys.read",)))
    if program == "vault" and words and words[0] in ("status", "version", "login-not"):
        return call.outcome(call.emit(("sys.read",)))
    if program == "security" and words and words[0] in ("find-generic-password", "find-internet-password",
                                                        "dump-keychain", "export"):
        return call.outcome(call.emit(("secret.read",)))
    if program == "pass" and words and words[0] in ("ls", "list", "find", "grep"):
        return call.outcome(call.emit(("sys.read",)))
    return call.outcome(call.emit(("secret.read",), subcommand=words[0] if words else ""))


@handles("capfence")
def capfence(call: Call) -> Outcome:
    """capfence itself: an agent must not approve its own requests, remove the shims or change the policy."""
    words = [a.value for a in call.args if a.known]
    operands = [w for w in words if not w.startswith("-")]
    verb = operands[0] if operands else ""
    second = operands[1] if len(operands) > 1 else ""
    admin = verb in ("approve", "reject", "review", "grant", "revoke") or (
        verb == "shims" and second in ("uninstall", "install", "remove")) or (
        verb == "hook" and "--install" in words) or (
        verb == "policy" and second not in ("list", "show", "validate", "test", "")) or (
        verb == "audit" and second in ("rotate", "prune", "reset", "rekey"))
    if verb in ("exec", "check") and "--" in words:
        index = call.args.index(next(a for a in call.args if a.value == "--"))
        if verb == "exec":
            return call.run_argv(call.args[index + 1 :], "capfence exec")
    if verb in ("exec", "check") and "-c" in words:
        index = words.index("-c")
        if index + 1 < len(words) and verb == "exec":
            return call.run_script(words[index + 1], "capfence exec -c")
    if any(w in ("--observe", "--policy", "--audit") or w.startswith(("--policy=", "--audit=")) for w in words):
        admin = admin or verb in ("exec",)
    return call.outcome(call.emit(("capfence.admin",) if admin else ("shell.builtin",), subcommand=verb))
