"""The capability vocabulary: what an action can do, named so that policies can match on it.

Each action carries one or more of these. Policies match them exactly or with wildcards (`fs.*`, `vcs.push.*`).
"""

from __future__ import annotations

CAPABILITIES: dict[str, str] = {
    "fs.read": "reads file contents",
    "fs.list": "lists or inspects file metadata (ls, stat, find without actions)",
    "fs.write": "creates or modifies files (including redirects)",
    "fs.delete": "removes files or directories",
    "fs.perm": "changes permissions, ownership, ACLs or attributes",
    "disk.write": "writes raw devices or creates/erases file systems (dd of=/dev/sda, mkfs, wipefs)",
    "disk.mount": "mounts or unmounts file systems",
    "net.fetch": "downloads from the network",
    "net.send": "uploads or sends data over the network",
    "net.exec": "runs code downloaded from the network (curl | sh, bash <(curl ...))",
    "net.listen": "serves on a network port",
    "remote.exec": "runs commands on another machine or container (ssh host cmd, docker exec, kubectl exec)",
    "vcs.read": "reads version-control state (git status, log, diff)",
    "vcs.write": "records local version-control changes (git add, commit, checkout, merge, fetch)",
    "vcs.push": "publishes commits to a remote",
    "vcs.push.force": "overwrites or deletes remote history (push --force, --mirror, --delete, +refspec)",
    "vcs.history.rewrite": "rewrites commits (rebase, commit --amend, filter-branch, reflog expire)",
    "vcs.discard": "throws away uncommitted work (reset --hard, clean -f, checkout -- ., stash clear)",
    "vcs.collab": "opens, comments on or edits pull requests and issues (gh pr create, glab issue comment)",
    "vcs.config": "changes version-control configuration, hooks or credentials",
    "db.read": "queries a database",
    "db.write": "modifies database rows",
    "db.drop": "destroys databases, tables or data (DROP, TRUNCATE, FLUSHALL, dropdb)",
    "db.script": "runs database commands whose text is not known statically (psql < file.sql, a pipe)",
    "proc.exec": "runs a program the gate has no specific knowledge of",
    "proc.kill": "signals or kills processes",
    "proc.read": "inspects processes",
    "sys.read": "reads system information",
    "sys.power": "shuts down, reboots or suspends the machine",
    "sys.service": "stops, starts or reconfigures system services",
    "sys.exhaust": "exhausts the machine's processes or memory on purpose (fork bombs)",
    "sys.config": "changes system configuration (users, firewall, kernel, cron, sysctl)",
    "priv.escalate": "runs with more privileges (sudo, su, doas, setuid bits, privileged containers)",
    "secret.read": "reads credentials or private keys",
    "secret.exfil": "sends credentials or the environment over the network",
    "secret.send": "sends a credential-like variable ($MY_API_TOKEN) to a host it is not known to belong to",
    "env.read": "prints the whole environment (which holds tokens)",
    "pkg.install": "installs, upgrades or removes a project's packages (system removals are pkg.remove)",
    "pkg.remove": "removes the machine's own packages (apt-get remove/purge, dnf remove, pacman -R, dpkg -r)",
    "pkg.publish": "publishes a package, image or release",
    "cloud.read": "reads cloud resources",
    "cloud.write": "creates or changes cloud resources (terraform apply, aws ... create)",
    "cloud.delete": "deletes cloud resources (terraform destroy, aws s3 rb, gcloud ... delete)",
    "cluster.read": "reads cluster state (kubectl get)",
    "cluster.write": "changes cluster state (kubectl apply, scale, helm upgrade)",
    "cluster.delete": "deletes cluster resources (kubectl delete, helm uninstall)",
    "container.run": "runs or builds containers",
    "container.delete": "removes containers, images or volumes",
    "code.exec": "runs a program file or package with an interpreter or build tool",
    "code.inline": "runs an inline interpreter program (python -c, node -e, perl -e)",
    "code.dynamic": "runs code built at run time (eval of computed text, exec of decoded data)",
    "data.decode": "decodes or decompresses data (base64 -d, xxd -r, gunzip)",
    "shell.exec": "runs a shell script or nested shell",
    "shell.builtin": "shell builtins that only change the shell's own state or print",
    "shell.dynamic": "a command the gate cannot know statically (name built from variables, decoded payloads)",
    "shell.unparsed": "text the parser could not analyse",
    "capfence.admin": "administers capfence itself (approve, review, shims uninstall, policy changes)",
}

# Capabilities that never change anything: the `readonly` pack allows exactly these.
READ_ONLY: frozenset[str] = frozenset({
    "fs.read", "fs.list", "vcs.read", "db.read", "proc.read", "sys.read", "cloud.read", "cluster.read",
    "shell.builtin", "data.decode",
})


def is_known(name: str) -> bool:
    return name in CAPABILITIES
