"""Git, GitHub CLI, cloud, cluster and container tools: subcommand-level capabilities, including what hides
behind git's configuration (`-c alias.x='!cmd'`, `core.pager`, `core.sshCommand`) and container payloads."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from capfence_sh.actions import Access
from capfence_sh.parse import paths
from capfence_sh.parse.options import OptSpec, parse_options
from capfence_sh.parse.programs import handles
from capfence_sh.parse.words import Field, literal

if TYPE_CHECKING:
    from capfence_sh.parse.walker import Call, Outcome

# --- git -------------------------------------------------------------------------------------------------------

_GIT_GLOBAL_WITH_VALUE = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env", "--super-prefix",
                          "--exec-path", "--list-cmds"}
# Configuration keys whose value git runs as a command (or loads code from).
_GIT_EXEC_KEYS = re.compile(
    r"^(core\.(pager|editor|sshcommand|fsmonitor|askpass|alternaterefscommand|gitproxy|hookspath)|"
    r"pager\..+|sequence\.editor|diff\.external|diff\..+\.(textconv|command)|merge\..+\.driver|"
    r"filter\..+\.(clean|smudge|process)|credential\.helper|credential\..+\.helper|gpg\.program|gpg\..+\.program|"
    r"uploadpack\.packobjectshook|remote\..+\.(receivepack|uploadpack|proxy)|sendemail\..*cmd|"
    r"interactive\.difffilter|web\.browser|browser\..+\.cmd|man\..+\.cmd|man\.viewer|include\.path|"
    r"includeif\..+\.path|http\.proxy.*|ssh\.variant|mergetool\..+\.cmd|difftool\..+\.cmd|"
    r"core\.sshcommand|protocol\.ext\.allow|log\.showsignature-not)$", re.IGNORECASE)

_GIT_READ = {"status", "log", "diff", "show", "blame", "shortlog", "describe", "rev-parse", "rev-list", "ls-files",
             "ls-tree", "cat-file", "grep", "name-rev", "merge-base", "for-each-ref", "show-ref", "count-objects",
             "fsck", "help", "version", "whatchanged", "var", "check-ignore", "check-attr", "cherry", "range-diff",
             "verify-commit", "verify-tag", "show-branch", "annotate", "diff-tree", "diff-files", "diff-index",
             "reflog-show", "instaweb-not", "bugreport", "get-tar-commit-id", "column", "check-ref-format",
             "hash-object", "ls-remote", "request-pull", "--version", "--help", "lfs-ls-files", "interpret-trailers",
             "credential-not", "fetch-pack-not"}
_GIT_WRITE = {"add", "commit", "checkout", "switch", "merge", "pull", "fetch", "stash", "tag", "init", "clone",
              "cherry-pick", "revert", "mv", "rm", "am", "apply", "worktree", "submodule", "notes", "branch",
              "remote", "sparse-checkout", "bisect", "lfs", "gc", "maintenance", "pack-refs", "repack", "restore",
              "format-patch", "archive", "bundle", "citool", "gui", "mergetool", "difftool", "rerere", "reset",
              "update-index", "read-tree", "write-tree", "commit-tree", "symbolic-ref", "clean", "prune-packed",
              "unpack-objects", "pack-objects", "index-pack", "rebase", "replace", "filter-branch", "filter-repo",
              "update-ref", "reflog", "prune", "push", "config", "send-email", "credential", "credential-store",
              "credential-cache", "daemon", "http-backend", "imap-send", "svn", "p4", "fast-import", "fast-export",
              "hook", "scalar", "range-diff", "multi-pack-index", "commit-graph", "backfill", "shell", "upload-pack",
              "receive-pack", "instaweb", "annex", "crypt", "secret", "open", "browse", "absorb", "absorb-not"}


@handles("git")
def git(call: Call) -> Outcome:
    args = list(call.args)
    k = 0
    cwd_change: str | None = None
    config: list[tuple[str, Field]] = []
    while k < len(args) and args[k].known and args[k].value.startswith("-"):
        text = args[k].value
        name, eq, attached = text.partition("=")
        if name == "--exec-path" and eq:
            call.dynamic(f"git --exec-path={attached} runs git commands from another directory")
        if name == "--config-env":
            call.dynamic("git --config-env injects configuration from the environment",
                         capabilities=("vcs.config", "code.dynamic"))
        if text in _GIT_GLOBAL_WITH_VALUE and k + 1 < len(args):
            value = args[k + 1]
            if text == "-C":
                base = cwd_change if cwd_change is not None else call.cwd
                cwd_change = paths.normalise(value.value, base) if value.known and base else ("" if not value.known else
                                                                                            value.value)
            elif text == "-c":
                key, _, val = value.value.partition("=")
                config.append((key, Field(val, value.known, False, val, val, value.trusted, value.decoded)))
            elif text in ("--git-dir", "--work-tree") and value.known and call.cwd:
                pass
            k += 2
            continue
        k += 1
    if cwd_change is not None:
        call.state = call.state.copy()
        call.state.cwds = (cwd_change,) if cwd_change else ("",)
    aliases: dict[str, Field] = {}
    for key, value in config:
        lowered = key.lower()
        if lowered.startswith("alias."):
            aliases[key[6:]] = value
        elif _GIT_EXEC_KEYS.match(lowered):
            _git_exec_value(call, key, value)
    if k >= len(args):
        return call.outcome(call.emit(("vcs.read",)))
    sub = args[k].value if args[k].known else ""
    rest = args[k + 1 :]
    if not args[k].known:
        return call.dynamic("git subcommand not known statically")
    if sub in aliases:
        value = aliases[sub]
        if not value.known:
            return call.dynamic(f"git alias {sub} is not known statically")
        if value.value.startswith("!"):
            action = call.emit(("shell.exec",), subcommand=sub, note=f"git alias {sub} runs a shell command")
            script_text = value.value[1:] + "".join(" " + _quote(f.value) for f in rest)
            call.run_script(script_text, f"git alias {sub}")
            return call.outcome(action)
        expanded = [literal(w) for w in value.value.split()] + rest
        call.argv = [call.argv[0], *expanded]
        return git(call)
    return _git_subcommand(call, sub, rest)


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)


def _git_exec_value(call: Call, key: str, value: Field) -> None:
    lowered = key.lower()
    if not value.known:
        call.dynamic(f"git config {key} is not known statically", capabilities=("vcs.config", "code.dynamic"))
        return
    text = value.value
    if lowered in ("core.hookspath", "include.path") or lowered.startswith("includeif."):
        call.dynamic(f"git config {key}={text} loads hooks or configuration from elsewhere",
                     capabilities=("vcs.config", "code.dynamic"))
        return
    if lowered in ("protocol.ext.allow",) or lowered.startswith("http.proxy"):
        call.emit(("vcs.config",), note=f"git config {key}={text}")
        return
    if text in ("", "cat", "less", "more", "true", "false", "vim", "vi", "nano", "delta", "diff-so-fancy"):
        return
    call.run_script(text.lstrip("!"), f"git config {key}")


_GIT_PUSH = OptSpec(short_with_value="o", long_with_value=frozenset({"repo", "receive-pack", "exec", "push-option",
                                                                      "signed", "force-with-lease-not"}),
                    aliases={"f": "force", "d": "delete", "force-with-lease": "force-with-lease",
                             "force-if-includes": "force-if-includes", "u": "set-upstream", "n": "dry-run",
                             "q": "quiet", "v": "verbose"},
                    optional_value_long=frozenset({"signed"}))


# Options whose separate value is a command git runs, per subcommand (`-u` is one only for clone and ls-remote:
# for push it is --set-upstream, for fetch --update-head-ok).
_GIT_COMMAND_OPTIONS = {
    "clone": frozenset({"-u", "--upload-pack"}), "ls-remote": frozenset({"-u", "--upload-pack"}),
    "fetch": frozenset({"--upload-pack"}), "pull": frozenset({"--upload-pack"}),
    "push": frozenset({"--receive-pack", "--exec"}), "archive": frozenset({"--exec"}),
    "rebase": frozenset({"-x", "--exec"}), "difftool": frozenset({"-x", "--extcmd"}),
}


def _git_subcommand(call: Call, sub: str, rest: list[Field]) -> Outcome:
    words = [f.value for f in rest]
    flags = set()
    note = ""
    capabilities: list[str]
    targets = []
    for text in words:
        for option in ("--upload-pack", "--receive-pack", "--exec", "--extcmd", "--open-files-in-pager",
                       "--upload-pack-not"):
            if text.startswith(option + "="):
                call.run_script(text.split("=", 1)[1], f"git {sub} {option}")
    runs_next = _GIT_COMMAND_OPTIONS.get(sub, frozenset())
    for index, text in enumerate(words):
        if sub == "grep" and text.startswith("-O") and len(text) > 2:
            call.run_script(text[2:], "git grep -O")  # an optional value: only ever attached
        if text in runs_next and index + 1 < len(words):
            value = rest[index + 1]
            if value.known:
                call.run_script(value.value, f"git {sub} {text}")
            else:
                call.dynamic(f"git {sub} {text} runs a command not known statically")
    for text in words:
        if text.startswith("ext::"):
            call.run_script(text[5:].replace("%S", "").replace("%s", ""), "git ext:: transport")
    if sub == "push":
        parsed = parse_options(rest, _GIT_PUSH)
        flags = set(parsed.flags)
        refspecs = [f.value for f in parsed.operands[1:]]
        force = parsed.has("force", "force-with-lease", "force-if-includes", "mirror", "delete", "prune") or any(
            r.startswith("+") or r.startswith(":") for r in refspecs)
        capabilities = ["vcs.push.force" if force else "vcs.push"]
        if parsed.has("tags", "follow-tags"):
            flags.add("tags")
        note = ", ".join(refspecs)
    elif sub in ("rebase",):
        if any(w in ("--abort", "--continue", "--skip", "--quit", "--show-current-patch", "--edit-todo") for w in words):
            capabilities = ["vcs.write"]
        else:
            capabilities = ["vcs.history.rewrite"]
    elif sub == "commit":
        capabilities = ["vcs.history.rewrite"] if "--amend" in words else ["vcs.write"]
        for k, w in enumerate(words):
            if w in ("-F", "--file") and k + 1 < len(rest):
                targets += call.target(rest[k + 1], Access.READ)
    elif sub in ("filter-branch", "filter-repo", "replace"):
        capabilities = ["vcs.history.rewrite"]
    elif sub == "update-ref":
        capabilities = ["vcs.history.rewrite"] if "-d" in words or "--stdin" in words else ["vcs.write"]
    elif sub == "reflog":
        capabilities = ["vcs.history.rewrite"] if words and words[0] in ("expire", "delete") else ["vcs.read"]
    elif sub in ("gc",):
        capabilities = ["vcs.history.rewrite"] if any(w.startswith("--prune") and w not in ("--prune=never",)
                                                      for w in words) else ["vcs.write"]
    elif sub == "prune":
        capabilities = ["vcs.history.rewrite"]
    elif sub == "reset":
        operands = [w for w in words if not w.startswith("-")]
        if "--hard" in words or "--merge" in words:
            capabilities = ["vcs.discard"]
        elif "--" in words or not operands or operands[0] in ("HEAD", "@"):
            capabilities = ["vcs.write"]
        else:
            capabilities = ["vcs.history.rewrite"]
    elif sub == "clean":
        forced = any(w in ("-f", "--force") or (w.startswith("-") and not w.startswith("--") and "f" in w)
                     for w in words)
        dry = any(w in ("-n", "--dry-run") or (w.startswith("-") and not w.startswith("--") and "n" in w)
                  for w in words)
        if forced and not dry:
            capabilities = ["vcs.discard", "fs.delete"]
            targets += call.target(literal("."), Access.DELETE, recursive=True)
        else:
            capabilities = ["vcs.read"]
    elif sub in ("checkout", "restore", "switch"):
        capabilities = _git_checkout(sub, words)
    elif sub == "stash":
        capabilities = ["vcs.discard"] if words and words[0] in ("drop", "clear") else ["vcs.write"]
    elif sub == "branch":
        if any(w in ("-D",) or (w.startswith("-") and not w.startswith("--") and "D" in w) for w in words) or (
                "--delete" in words and "--force" in words):
            capabilities = ["vcs.discard"]
        elif any(w in ("-d", "--delete", "-m", "-M", "--move", "-c", "-C", "--copy", "-u", "--set-upstream-to",
                       "--unset-upstream", "-f", "--force", "--edit-description") for w in words) or [
                w for w in words if not w.startswith("-")] and not any(w in ("-l", "--list", "-a", "-r", "-v", "-vv",
                                                                                "--contains", "--merged",
                                                                                "--no-merged", "--show-current",
                                                                                "--sort", "--format") for w in words):
            capabilities = ["vcs.write"]
        else:
            capabilities = ["vcs.read"]
    elif sub == "tag":
        capabilities = ["vcs.write"] if [w for w in words if not w.startswith("-")] and not any(
            w in ("-l", "--list", "-n", "--contains", "--points-at", "--merged", "--sort") for w in words) else ["vcs.read"]
    elif sub == "remote":
        capabilities = ["vcs.config"] if words and words[0] in ("add", "set-url", "rename", "remove", "rm",
                                                                "set-head", "set-branches", "prune") else ["vcs.read"]
    elif sub == "config":
        capabilities = _git_config(call, words)
    elif sub == "worktree":
        if words and words[0] == "remove" and any(w in ("-f", "--force") for w in words):
            capabilities = ["vcs.discard"]
        else:
            capabilities = ["vcs.read"] if words and words[0] == "list" else ["vcs.write"]
    elif sub == "submodule":
        capabilities = ["vcs.read"] if not words or words[0] in ("status", "summary") else ["vcs.write"]
        if words and words[0] == "foreach":
            scripts = [w for w in rest[1:] if not w.value.startswith("-")]
            if scripts:
                if all(f.known for f in scripts):
                    call.run_script(" ".join(f.value for f in scripts), "git submodule foreach")
                else:
                    call.dynamic("git submodule foreach runs a command not known statically")
        if words and words[0] == "deinit" and any(w in ("-f", "--force") for w in words):
            capabilities = ["vcs.discard"]
    elif sub == "bisect":
        capabilities = ["vcs.write"]
        if words and words[0] == "run" and len(rest) > 1:
            call.run_argv(rest[1:], "git bisect run")
    elif sub in ("send-email", "imap-send"):
        capabilities = ["net.send"]
    elif sub in ("credential", "credential-store", "credential-cache"):
        capabilities = ["secret.read"] if words and words[0] in ("fill", "get") else ["vcs.config"]
    elif sub in ("clone",):
        capabilities = ["vcs.write", "net.fetch"]
        operands = [f for f in rest if not f.value.startswith("-")]
        if len(operands) >= 2:
            targets += call.target(operands[1], Access.WRITE, recursive=True)
    elif sub in ("fetch", "pull", "ls-remote", "archive-remote"):
        capabilities = ["vcs.write", "net.fetch"] if sub != "ls-remote" else ["vcs.read", "net.fetch"]
    elif sub == "diff" and "--no-index" in words:
        # `git diff --no-index /dev/null ~/.ssh/id_rsa` prints two arbitrary files.
        capabilities = ["vcs.read", "fs.read"]
        operands = [f for f in rest if not f.value.startswith("-")]
        targets += [t for f in operands for t in call.target(f, Access.READ)]
    elif sub == "add" and not any(w in ("-n", "--dry-run") for w in words):
        # Staging reads the files into the repository, from where a push publishes them (`git add -f .env`).
        capabilities = ["vcs.write", "fs.read"]
        operands = [f for f in rest if not f.value.startswith("-")]
        targets += [t for f in operands for t in call.target(f, Access.READ, recursive=True)]
    elif sub in ("rm",):
        capabilities = ["vcs.write", "fs.delete"]
        operands = [f for f in rest if not f.value.startswith("-")]
        recursive = any(w in ("-r",) for w in words)
        if "--cached" not in words:
            targets += [t for f in operands for t in call.target(f, Access.DELETE, recursive=recursive)]
    elif sub in ("shell", "daemon", "http-backend", "upload-pack", "receive-pack", "instaweb"):
        capabilities = ["net.listen"] if sub in ("daemon", "instaweb") else ["remote.exec"]
    elif sub in _GIT_READ:
        capabilities = ["vcs.read"]
        if sub == "ls-remote":
            capabilities.append("net.fetch")
    elif sub in _GIT_WRITE:
        capabilities = ["vcs.write"]
    else:
        # An unknown subcommand runs `git-<sub>` from the exec path or PATH: an external program.
        capabilities = ["proc.exec"]
        note = f"git-{sub} is an external command"
    for k, w in enumerate(words):
        if w in ("--output", "-o") and sub in ("log", "diff", "show", "format-patch", "archive") and k + 1 < len(rest):
            targets += call.target(rest[k + 1], Access.WRITE)
            capabilities.append("fs.write")
        elif w.startswith("--output=") and sub in ("log", "diff", "show", "format-patch", "archive"):
            targets += call.target(literal(w.split("=", 1)[1]), Access.WRITE)
            capabilities.append("fs.write")
    return call.outcome(call.emit(tuple(dict.fromkeys(capabilities)), targets, subcommand=sub,
                                  flags=frozenset(flags), note=note))


def _git_checkout(sub: str, words: list[str]) -> list[str]:
    forced = any(w in ("-f", "--force", "--discard-changes") for w in words)
    if sub == "switch":
        return ["vcs.discard"] if forced else ["vcs.write"]
    if sub == "restore" and ("--staged" in words or "-S" in words) and not any(
            w in ("--worktree", "-W") for w in words):
        return ["vcs.write"]
    if "--" in words:
        pathspecs = words[words.index("--") + 1 :]
    elif sub == "restore":
        pathspecs = [w for w in words if not w.startswith("-")]
    else:
        pathspecs = [w for w in words if not w.startswith("-")][1:] if forced is False else []
        if [w for w in words if not w.startswith("-")] == ["."]:
            pathspecs = ["."]
    whole_tree = any(p in (".", ":/", "*", "./", ":/*", "./*") for p in pathspecs)
    if forced or whole_tree:
        return ["vcs.discard"]
    return ["vcs.write"]


def _git_config(call: Call, words: list[str]) -> list[str]:
    reading = any(w in ("--get", "--get-all", "--get-regexp", "-l", "--list", "--get-urlmatch", "--show-origin",
                        "--show-scope", "get", "list", "--name-only", "-e", "--edit-not") for w in words)
    operands = [w for w in words if not w.startswith("-")]
    if operands and operands[0] in ("get", "list"):
        reading = True
    if reading or len(operands) < 2:
        key = operands[0] if operands else ""
        if "credential" in key.lower() or "token" in key.lower() or "password" in key.lower():
            return ["vcs.read", "secret.read"]
        return ["vcs.read"]
    if operands[0] in ("set", "unset", "rename-section", "remove-section") and len(operands) >= 2:
        operands = operands[1:]
    key, value = operands[0], " ".join(operands[1:])
    if _GIT_EXEC_KEYS.match(key.lower()):
        _git_exec_value(call, key, literal(value))
    elif key.lower().startswith("alias.") and value.startswith("!"):
        call.run_script(value[1:], f"git config {key}")
    elif key.lower().startswith("alias.") and value:
        # A plain alias is a git command line: configuring it is preparing to run it.
        call.run_argv([literal("git"), *(literal(w) for w in _split_alias(value))], f"git config {key}")
    return ["vcs.config"]


def _split_alias(value: str) -> list[str]:
    import shlex

    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


# --- GitHub CLI ------------------------------------------------------------------------------------------------


@handles("gh", "hub", "glab")
def gh(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    operands = [w for w in words if not w.startswith("-")]
    group = operands[0] if operands else ""
    verb = operands[1] if len(operands) > 1 else ""
    sub = f"{group} {verb}".strip()
    text = " ".join(words)
    if group == "auth" and (verb == "token" or ("status" == verb and ("-t" in words or "--show-token" in words))):
        return call.outcome(call.emit(("secret.read",), subcommand=sub))
    if verb in ("delete", "archive") and group in ("repo", "release", "gist", "secret", "variable", "label", "ssh-key",
                                                    "gpg-key", "run", "cache", "project", "codespace", "extension"):
        return call.outcome(call.emit(("cloud.delete",), subcommand=sub))
    if group == "api":
        method = re.search(r"(?:-X|--method)[= ]?\s*(\w+)", text)
        m = method.group(1).upper() if method else ("POST" if re.search(r"\s(-f|-F|--field|--raw-field|--input)\b", " " + text) else "GET")
        if m == "DELETE":
            return call.outcome(call.emit(("cloud.delete",), subcommand="api"))
        return call.outcome(call.emit(("cloud.read",) if m == "GET" else ("cloud.write",), subcommand="api"))
    if group == "release" and verb in ("create", "upload", "edit"):
        return call.outcome(call.emit(("pkg.publish",), subcommand=sub))
    if group == "pr" and verb == "merge":
        return call.outcome(call.emit(("vcs.push",), subcommand=sub))
    if group in ("repo",) and verb in ("clone", "fork"):
        return call.outcome(call.emit(("net.fetch", "vcs.write"), subcommand=sub))
    if verb in ("list", "view", "status", "diff", "checks", "ls", "show", "watch", "download", "browse") or group in (
            "search", "browse", "status", "help", "version", "--version") or (group == "auth" and verb == "status"):
        return call.outcome(call.emit(("cloud.read",), subcommand=sub))
    if group == "secret" and verb in ("set",):
        return call.outcome(call.emit(("cloud.write",), subcommand=sub))
    if group == "pr" and verb in ("checkout",):
        return call.outcome(call.emit(("vcs.write", "net.fetch"), subcommand=sub))
    if group in ("pr", "issue") and verb in ("create", "comment", "edit", "close", "reopen", "review", "ready",
                                              "develop", "lock", "unlock", "pin", "unpin"):
        return call.outcome(call.emit(("vcs.collab",), subcommand=sub))
    return call.outcome(call.emit(("cloud.write",), subcommand=sub))


# --- cloud -----------------------------------------------------------------------------------------------------

_CLOUD_DELETE = re.compile(r"^(delete|delete-.*|batch-delete.*|remove|remove-.*|rm|rb|destroy|terminate.*|"
                           r"deregister.*|purge.*|drop|.*-delete|schedule-key-deletion|disable-key|reset|wipe|"
                           r"deactivate.*|revoke.*|cancel-key-deletion-not|apps:destroy|addons:destroy|pg:reset|"
                           r"destroy-.*|release-.*address|disassociate.*|detach.*|abandon)$")
_CLOUD_READ = re.compile(r"^(describe.*|list.*|get.*|ls|head-.*|show|info|status|version|help|whoami|"
                         r"print-.*-not|cat|du|stat|view|search|explain|config-list|lookup.*|check.*|validate.*|"
                         r"wait|logs|log|tail|read|inspect|history|account|regions|zones|apps:info|"
                         r"-v|--version|configure-list|estimate.*|query|scan|simulate.*|test-.*|filter-log-events)$")
_CLOUD_SECRET = re.compile(r"(get-secret-value|get-parameters?\b.*--with-decryption|get-session-token|"
                           r"get-login-password|get-authorization-token|print-access-token|print-identity-token|"
                           r"get-access-token|get-credentials|decrypt|export-credentials|configure get .*secret|"
                           r"configure export-credentials|keys list|list-keys --show-secrets|"
                           r"config:get|auth:token|config --show-secrets|secrets versions access|"
                           r"storage account keys list|acr credential show)")


@handles("aws", "gcloud", "gsutil", "az", "doctl", "linode-cli", "hcloud", "scw", "oci", "ibmcloud", "aliyun",
         "vultr-cli", "heroku", "fly", "flyctl", "vercel", "netlify", "firebase", "wrangler", "serverless", "sls",
         "cdk", "eksctl", "s3cmd", "rclone", "azcopy", "bq", "railway", "render", "supabase", "neonctl", "planetscale",
         "pscale", "upctl", "exo")
def cloud(call: Call) -> Outcome:
    program = call.program
    words = [a.value for a in call.args]
    operands = [w for w in words if not w.startswith("-")]
    text = " ".join(words)
    if _CLOUD_SECRET.search(text):
        return call.outcome(call.emit(("secret.read",), subcommand=" ".join(operands[:2])))
    if program in ("s3cmd", "rclone", "gsutil", "azcopy"):
        verb = operands[0] if operands else ""
        if verb in ("rm", "del", "delete", "rb", "purge", "rmdir", "deletefile", "cleanup") or (
                verb in ("sync",) and any(w.startswith("--delete") or w == "-d" for w in words)) or (
                program == "gsutil" and verb == "rsync" and "-d" in words):
            return call.outcome(call.emit(("cloud.delete",), subcommand=verb))
        if verb in ("ls", "lsd", "lsf", "du", "cat", "info", "size", "check", "listremotes", "config", "version",
                    "stat", "hash", "md5sum", "tree", "about"):
            return call.outcome(call.emit(("cloud.read",), subcommand=verb))
        return call.outcome(call.emit(("cloud.write",), subcommand=verb))
    if program == "aws" and len(operands) >= 2 and operands[0] == "s3":
        verb = operands[1]
        if verb in ("rm", "rb") or (verb == "sync" and "--delete" in words) or (verb == "mv"):
            return call.outcome(call.emit(("cloud.delete",) if verb != "mv" else ("cloud.write",), subcommand=f"s3 {verb}"))
        if verb in ("ls", "presign"):
            return call.outcome(call.emit(("cloud.read",), subcommand=f"s3 {verb}"))
        paths_given = _s3_paths(call.args[2:])
        if verb in ("cp", "sync") and len(paths_given) >= 2 and not paths_given[-1].value.startswith("s3://") and \
                any(f.value.startswith("s3://") for f in paths_given[:-1]):
            # A download: the bucket is only read; the local destination is written.
            targets = call.target(paths_given[-1], Access.WRITE, recursive=verb == "sync")
            return call.outcome(call.emit(("cloud.read", "net.fetch", "fs.write"), targets, subcommand=f"s3 {verb}"))
        return call.outcome(call.emit(("cloud.write",), subcommand=f"s3 {verb}"))
    if program in ("aws",) and operands[:1] == ["configure"]:
        if len(operands) > 1 and operands[1] in ("list", "list-profiles"):
            return call.outcome(call.emit(("cloud.read",), subcommand="configure"))
        return call.outcome(call.emit(("sys.config",), subcommand="configure"))
    if program in ("gcloud",) and operands[:1] == ["config"] and len(operands) > 1 and operands[1] in ("list", "get",
                                                                                                     "get-value"):
        return call.outcome(call.emit(("cloud.read",), subcommand="config"))
    if program in ("heroku",) and operands and ":" in operands[0]:
        verbs = [operands[0].split(":")[-1], operands[0]]
    else:
        verbs = operands[1:4] if program not in ("vercel", "netlify", "fly", "flyctl", "railway", "wrangler",
                                                 "serverless", "sls", "cdk", "firebase", "supabase") else operands[:3]
        if program in ("gcloud", "az", "doctl", "oci", "ibmcloud", "hcloud", "scw", "linode-cli"):
            verbs = operands[:6]
    for verb in verbs:
        if _CLOUD_DELETE.match(verb):
            return call.outcome(call.emit(("cloud.delete",), subcommand=" ".join(operands[:3])))
    if not operands or any(_CLOUD_READ.match(v) for v in verbs[-1:] or [""]) or any(
            _CLOUD_READ.match(v) for v in verbs):
        if not any(v in ("deploy", "create", "update", "put", "set", "run", "start", "stop", "restart", "apply",
                         "invoke", "publish", "scale", "up") for v in verbs):
            return call.outcome(call.emit(("cloud.read",), subcommand=" ".join(operands[:3])))
    if program in ("vercel", "netlify", "fly", "flyctl", "wrangler", "railway", "firebase", "serverless", "sls",
                   "cdk") and not operands:
        return call.outcome(call.emit(("cloud.write",)))
    return call.outcome(call.emit(("cloud.write",), subcommand=" ".join(operands[:3])))


_S3_FLAGS = frozenset({"--recursive", "--dryrun", "--quiet", "--no-progress", "--only-show-errors", "--delete",
                       "--exact-timestamps", "--follow-symlinks", "--no-follow-symlinks", "--size-only", "--force",
                       "--no-guess-mime-type", "--debug", "--no-paginate", "--no-verify-ssl", "--no-sign-request"})


def _s3_paths(args: list[Field]) -> list[Field]:
    """The path operands of `aws s3 cp/sync`: options other than plain flags take a value."""
    out: list[Field] = []
    k = 0
    while k < len(args):
        text = args[k].value
        if text.startswith("--"):
            k += 1 if text in _S3_FLAGS or "=" in text else 2
            continue
        out.append(args[k])
        k += 1
    return out


@handles("terraform", "tofu", "terragrunt", "pulumi", "packer", "vagrant", "nomad", "consul", "waypoint", "crossplane")
def infrastructure(call: Call) -> Outcome:
    program = call.program
    words = [a.value for a in call.args]
    operands = [w for w in words if not w.startswith("-")]
    verb = operands[0] if operands else ""
    sub = " ".join(operands[:2]) if verb in ("state", "workspace", "stack", "config") else verb
    if program == "terragrunt" and verb in ("run-all", "run"):
        operands = operands[1:]
        verb = operands[0] if operands else ""
    if verb == "destroy" or "-destroy" in words or (verb == "state" and operands[1:2] in (["rm"], ["replace-provider"])) or (
            verb == "workspace" and operands[1:2] == ["delete"]) or (verb == "stack" and operands[1:2] == ["rm"]) or (
            program == "vagrant" and verb == "destroy") or (program == "nomad" and verb in ("job",) and "stop" in operands):
        return call.outcome(call.emit(("cloud.delete",), subcommand=sub))
    if program == "pulumi" and verb == "config" and "--show-secrets" in words:
        return call.outcome(call.emit(("secret.read",), subcommand=sub))
    if verb in ("apply", "import", "taint", "untaint", "up", "update", "refresh", "push", "force-unlock", "cancel",
                "deploy", "run", "halt", "reload", "provision", "build", "rollback") or (
            verb == "state" and operands[1:2] in (["mv"], ["push"])):
        return call.outcome(call.emit(("cloud.write",), subcommand=sub))
    if verb in ("init", "get"):
        return call.outcome(call.emit(("cloud.read", "net.fetch"), subcommand=sub))
    return call.outcome(call.emit(("cloud.read",), subcommand=sub))


# --- clusters --------------------------------------------------------------------------------------------------

_KUBECTL_VALUE_FLAGS = {"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-o", "--output",
                        "-l", "--selector", "-f", "--filename", "-c", "--container", "--field-selector",
                        "--server", "-s", "--token", "--as", "--as-group", "--request-timeout", "--template", "-p",
                        "--patch", "--type", "--replicas", "--image", "--port", "--sort-by", "-L", "--since",
                        "--tail", "--timeout", "--grace-period", "--for", "--cascade", "--chunk-size", "-k",
                        "--kustomize", "--field-manager"}


@handles("kubectl", "oc", "k", "microk8s.kubectl", "kubecolor")
def kubectl(call: Call) -> Outcome:
    args = call.args
    words = [a.value for a in args]
    operands: list[str] = []
    k = 0
    dash_dash = len(words)
    while k < len(words):
        w = words[k]
        if w == "--":
            dash_dash = k
            break
        if w in _KUBECTL_VALUE_FLAGS:
            k += 2
            continue
        if not w.startswith("-"):
            operands.append(w)
        k += 1
    verb = operands[0] if operands else ""
    resource = operands[1] if len(operands) > 1 else ""
    sub = " ".join(operands[:2])
    if verb in ("delete", "drain") or (verb == "replace" and "--force" in words) or (
            verb == "scale" and any(w in ("--replicas=0",) for w in words)):
        return call.outcome(call.emit(("cluster.delete",), subcommand=sub))
    if verb == "rollout" and resource in ("status", "history"):
        return call.outcome(call.emit(("cluster.read",), subcommand=sub))
    if verb in ("exec", "attach", "debug", "run") and dash_dash < len(words):
        inner = args[dash_dash + 1 :]
        pod = resource or "pod"
        action = call.emit(("remote.exec", "cluster.write"), subcommand=sub, note=f"runs a command in {pod}")
        call.run_argv(inner, f"kubectl {verb}", remote=f"pod:{pod}")
        return call.outcome(action)
    if verb in ("get", "describe") and re.match(r"^secrets?(/|$)", resource) and (
            verb == "describe" or _kubectl_output(words).startswith(_KUBECTL_VALUE_FORMATS)):
        return call.outcome(call.emit(("secret.read", "cluster.read"), subcommand=sub))
    if verb == "config" and resource == "view" and "--raw" in words:
        return call.outcome(call.emit(("secret.read",), subcommand=sub))
    if verb in ("get", "describe", "logs", "top", "explain", "api-resources", "api-versions", "version",
                "cluster-info", "diff", "auth", "config", "wait", "events", "completion", "plugin", "kustomize", ""):
        return call.outcome(call.emit(("cluster.read",), subcommand=sub))
    if verb in ("port-forward", "proxy"):
        return call.outcome(call.emit(("net.listen", "cluster.read"), subcommand=sub))
    if verb == "cp":
        return call.outcome(call.emit(("cluster.write", "fs.read", "fs.write"), subcommand=sub))
    return call.outcome(call.emit(("cluster.write",), subcommand=sub))


# Output formats that print a secret's data (the default table and `name` print only names).
_KUBECTL_VALUE_FORMATS = ("yaml", "json", "jsonpath", "go-template", "template", "custom-columns")


def _kubectl_output(words: list[str]) -> str:
    for k, word in enumerate(words):
        if word in ("-o", "--output") and k + 1 < len(words):
            return words[k + 1]
        if word.startswith("--output="):
            return word[len("--output="):]
        if word.startswith("-o") and len(word) > 2:
            return word[2:].lstrip("=")
    return ""


@handles("helm", "kind", "minikube", "k3d", "k3s", "skaffold", "tilt", "argocd", "flux", "kustomize", "istioctl",
         "linkerd", "velero", "k9s", "kubectx", "kubens", "stern")
def cluster_tools(call: Call) -> Outcome:
    program = call.program
    words = [a.value for a in call.args]
    operands = [w for w in words if not w.startswith("-")]
    verb = operands[0] if operands else ""
    second = operands[1] if len(operands) > 1 else ""
    sub = " ".join(operands[:2])
    if program in ("k9s", "kubectx", "kubens", "stern"):
        return call.outcome(call.emit(("cluster.read",), subcommand=sub))
    if verb in ("uninstall", "delete", "del", "destroy", "rm", "remove", "prune") or second in ("delete", "rm") or (
            program == "velero" and verb == "restore" and "--existing-resource-policy=update" in words):
        return call.outcome(call.emit(("cluster.delete",), subcommand=sub))
    if verb in ("list", "ls", "status", "get", "show", "template", "search", "version", "lint", "history", "env",
                "repo", "dependency", "verify", "diff", "build", "help", "check", "logs", "describe", "top",
                "completion") and verb != "":
        return call.outcome(call.emit(("cluster.read",), subcommand=sub))
    if not verb:
        return call.outcome(call.emit(("cluster.read",)))
    return call.outcome(call.emit(("cluster.write",), subcommand=sub))


# --- containers ------------------------------------------------------------------------------------------------

_DOCKER_VALUE_FLAGS = {"-v", "--volume", "-e", "--env", "-p", "--publish", "--name", "-w", "--workdir", "-u", "--user",
                       "--network", "--net", "--mount", "--entrypoint", "-l", "--label", "--env-file", "-m",
                       "--memory", "--cpus", "--platform", "-h", "--hostname", "--add-host", "--dns", "--cap-add",
                       "--cap-drop", "--device", "--ipc", "--pid", "--security-opt", "--ulimit", "--restart",
                       "--log-driver", "--log-opt", "--tmpfs", "--shm-size", "--gpus", "--runtime", "--cidfile",
                       "--volumes-from", "--link", "--expose", "--health-cmd", "--userns", "--uts", "--cgroupns",
                       "--group-add", "--stop-signal", "--stop-timeout", "--pull", "--label-file", "-f", "--file",
                       "-t", "--tag", "--build-arg", "--target", "--cache-from", "--format", "--filter", "-H",
                       "--host", "--context", "-c", "--config", "--project-name", "--profile", "--env-file",
                       "--ip", "--mac-address", "--detach-keys", "--sig-proxy-not", "--cpu-shares", "--init-path"}
_DOCKER_GROUP_VALUE_FLAGS = {"-f", "--file", "-p", "--project-name", "--profile", "--env-file",
                             "--project-directory", "--ansi", "--parallel", "--progress"}
_SENSITIVE_MOUNTS = ("/", "/etc", "/root", "/home", "/var/run/docker.sock", "/run/docker.sock", "/var", "/usr",
                     "/boot", "/proc", "/sys", "/dev", "/bin", "/sbin", "/lib")


@handles("docker", "podman", "nerdctl", "docker-compose", "podman-compose", "finch", "lima", "colima", "crictl",
         "ctr", "buildah", "skopeo")
def docker(call: Call) -> Outcome:
    program = call.program
    args = call.args
    words = [a.value for a in args]
    k = 0
    while k < len(words) and words[k].startswith("-"):
        k += 2 if words[k] in ("-H", "--host", "--context", "-c", "--config", "--log-level", "-l") else 1
    if program in ("docker-compose", "podman-compose"):
        words = ["compose", *words[k:]]
        args = [literal("compose"), *args[k:]]
        k = 0
    verb = words[k] if k < len(words) else ""
    rest_args = args[k + 1 :]
    rest = words[k + 1 :]
    if verb in ("container", "image", "volume", "network", "system", "builder", "buildx", "compose", "context",
                "plugin", "secret", "config", "service", "stack", "node", "swarm", "manifest", "trust") and rest:
        group = verb
        # The group's own options come first (`docker compose -f x.yml exec web sh`); some take a value.
        j = 0
        while j < len(rest) and rest[j].startswith("-"):
            j += 2 if rest[j] in _DOCKER_GROUP_VALUE_FLAGS else 1
        verb2 = rest[j] if j < len(rest) else ""
        after = rest_args[j + 1 :]
        sub = f"{group} {verb2}"
        if group == "compose":
            if verb2 in ("down", "rm", "kill"):
                caps = ("container.delete",)
                return call.outcome(call.emit(caps, subcommand=sub, flags=frozenset(
                    {"volumes"} if any(w in ("-v", "--volumes") for w in rest) else set())))
            if verb2 in ("exec", "run"):
                # `docker compose exec SERVICE CMD`: the service stands where an image would.
                return _container_payload(call, after, sub, verb2)
            if verb2 in ("ps", "logs", "config", "ls", "images", "top", "version", "port", "events"):
                return call.outcome(call.emit(("sys.read",), subcommand=sub))
            return call.outcome(call.emit(("container.run",), subcommand=sub))
        if verb2 in ("rm", "prune", "remove", "rmi", "kill", "leave", "delete"):
            flags = set()
            if any(w in ("-a", "--all") for w in rest):
                flags.add("all")
            if any(w in ("--volumes",) for w in rest) or group == "volume":
                flags.add("volumes")
            return call.outcome(call.emit(("container.delete",), subcommand=sub, flags=frozenset(flags)))
        if verb2 in ("ls", "list", "inspect", "df", "info", "history", "ps", "events", "top", "logs", "show"):
            return call.outcome(call.emit(("sys.read",), subcommand=sub))
        if verb2 == "push":
            return call.outcome(call.emit(("pkg.publish",), subcommand=sub))
        if group == "container" and verb2 in ("run", "exec", "create"):
            return _container_payload(call, after, f"container {verb2}", verb2)
        return call.outcome(call.emit(("container.run",), subcommand=sub))
    if verb in ("rm", "rmi", "kill", "stop"):
        flags = {"force"} if any(w in ("-f", "--force") for w in rest) else set()
        caps = ("container.delete",) if verb in ("rm", "rmi") else ("proc.kill",)
        if verb == "rm" and any(w in ("-v", "--volumes") for w in rest):
            flags.add("volumes")
        return call.outcome(call.emit(caps, subcommand=verb, flags=frozenset(flags)))
    if verb in ("ps", "images", "logs", "inspect", "version", "info", "stats", "top", "port", "diff", "history",
                "search", "events", "", "--version", "help"):
        return call.outcome(call.emit(("sys.read",), subcommand=verb))
    if verb == "push":
        return call.outcome(call.emit(("pkg.publish",), subcommand=verb))
    if verb == "login":
        return call.outcome(call.emit(("sys.config",), subcommand=verb))
    if verb in ("run", "exec", "create"):
        return _container_payload(call, rest_args, verb, verb)
    if verb == "cp":
        return call.outcome(call.emit(("container.run", "fs.read", "fs.write"), subcommand=verb))
    if verb in ("pull",):
        return call.outcome(call.emit(("net.fetch", "container.run"), subcommand=verb))
    return call.outcome(call.emit(("container.run",), subcommand=verb))


def _container_payload(call: Call, args: list[Field], sub: str, verb: str = "run") -> Outcome:
    """docker run IMAGE CMD / docker exec CTR CMD: the command runs in the container; host mounts matter."""
    words = [a.value for a in args]
    capabilities = ["container.run"]
    flags: set[str] = set()
    k = 0
    while k < len(words):
        w = words[k]
        if not w.startswith("-") or w == "--":
            break
        name, eq, value = w.partition("=")
        if name in _DOCKER_VALUE_FLAGS and not eq:
            value = words[k + 1] if k + 1 < len(words) else ""
            k += 1
        if name in ("-v", "--volume", "--mount"):
            source = value.split(":", 1)[0] if name != "--mount" else (re.search(r"(?:source|src)=([^,]+)", value) or
                                                                       re.search("()", "")).group(1)
            home = call.ctx.home.rstrip("/")
            if source.startswith(("/", "~", "$")):
                normalised = paths.normalise(source, "") if source.startswith("/") else source
                # The home directory (or a directory above it) holds the user's keys and credentials.
                if normalised.rstrip("/") in _SENSITIVE_MOUNTS or normalised == "/" or source.startswith("~") and \
                        source.rstrip("/") == "~" or normalised.startswith(("/etc", "/root", "/var/run/docker.sock")) \
                        or (home and (home == normalised or paths.is_under(home, normalised) or
                                      paths.is_under(normalised, home + "/.ssh"))):
                    capabilities.append("priv.escalate")
                    flags.add("host-mount")
        elif name in ("--privileged",) or (name in ("--pid", "--net", "--network", "--ipc", "--uts", "--userns") and
                                           value == "host" and name in ("--pid", "--ipc", "--uts", "--userns")):
            capabilities.append("priv.escalate")
            flags.add(name.lstrip("-"))
        elif name == "--cap-add" and value.upper() in ("ALL", "SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_OVERRIDE",
                                                       "DAC_READ_SEARCH", "NET_ADMIN", "SYS_RAWIO"):
            capabilities.append("priv.escalate")
        elif name == "--device":
            capabilities.append("priv.escalate")
        elif name == "--entrypoint" and value:
            flags.add("entrypoint")
        k += 1
    remaining = args[k:]
    if remaining and remaining[0].value == "--":
        remaining = remaining[1:]
    image = remaining[0].value if remaining else ""
    command = remaining[1:]
    if verb == "exec":
        capabilities.append("remote.exec")
    action = call.emit(tuple(dict.fromkeys(capabilities)), subcommand=sub, flags=frozenset(flags),
                       note=f"in {image}" if image else "")
    if command:
        call.run_argv(command, f"{sub} {image}", remote=f"container:{image}")
    return call.outcome(action)


def ansible(call: Call) -> Outcome:
    words = [a.value for a in call.args]
    if call.program == "ansible":
        module = next((words[k + 1] for k, w in enumerate(words[:-1]) if w in ("-m", "--module-name")), "command")
        payload = next((call.args[k + 1] for k, w in enumerate(words[:-1]) if w in ("-a", "--args")), None)
        hosts = next((w for w in words if not w.startswith("-")), "hosts")
        action = call.emit(("remote.exec", "cloud.write"), subcommand=module)
        if payload is not None and module in ("command", "shell", "raw", "ansible.builtin.shell",
                                              "ansible.builtin.command", "ansible.builtin.raw"):
            if payload.known:
                call.run_script(payload.value, f"ansible {hosts}", remote=hosts)
            else:
                call.dynamic("ansible runs a command not known statically")
        return call.outcome(action)
    if "--check" in words or "--syntax-check" in words or "--list-tasks" in words or "--list-hosts" in words:
        return call.outcome(call.emit(("cloud.read",)))
    return call.outcome(call.emit(("remote.exec", "cloud.write"), note="runs a playbook on remote hosts"))
