"""Matching targets against path patterns: `may_match` over-approximates (deny and approval rules), `surely_matches`
never guesses (allow rules), `surely_inside` says whether a target is certainly under a directory."""

from __future__ import annotations

import pytest

from capfence_sh.actions import Access, Target
from capfence_sh.pathmatch import compile_pattern, may_match, resolve_pattern, surely_inside, surely_matches

HOME = "/home/me"
WS = "/home/me/project"


def known(path: str, recursive: bool = False) -> Target:
    return Target(path, Access.DELETE, True, path, recursive)


def glob(path: str, prefix: str, recursive: bool = False) -> Target:
    return Target(path, Access.READ, True, prefix, recursive, True)


def unknown(path: str, prefix: str = "", suffix: str = "", recursive: bool = False) -> Target:
    return Target(path, Access.DELETE, False, prefix, recursive, False, "", suffix)


# (target, pattern, may_match, surely_matches, why)
MATCHES = [
    # certain paths
    (known("/home/me/.ssh/id_rsa"), "/home/me/.ssh/id_*", True, True, "exact path matches a glob pattern"),
    (known("/home/me/.ssh/config"), "/home/me/.ssh/id_*", False, False, "a sibling does not"),
    (known("/etc/passwd"), "/etc/**", True, True, "** spans the rest"),
    (known("/etc"), "/etc/**", False, False, "dir/** names what is inside, as in gitignore"),
    (known("/etc", recursive=True), "/etc/**", True, False, "a tree at the directory reaches inside"),
    (known("/etcetera/x"), "/etc/**", False, False, "a prefix of a name is not a directory"),
    (known("/srv/a/b/key.pem"), "**/*.pem", True, True, "unanchored pattern, certain path"),
    (known("/srv/a/b/key.pem.bak"), "**/*.pem", False, False, "different ending"),
    # trees
    (known("/", recursive=True), "/etc/passwd", True, False, "rm -rf / may touch every anchored pattern"),
    (known("/", recursive=True), "/home/me/.ssh/id_*", True, False, "including globbed ones"),
    (known("/home/me", recursive=True), "/home/me/project/.git/**", True, False, "a tree above the pattern"),
    (known("/home/me/project/src", recursive=True), "/home/me/project/.git/**", False, False, "a sibling tree"),
    (known("/", recursive=True), "**/*.pem", False, False, "unanchored names are not counted for trees"),
    (known("/home/me/.ssh", recursive=True), "**/id_rsa", False, False, "nor inside a named tree"),
    # globs the shell expands
    (glob("/home/me/.ssh/*", "/home/me/.ssh"), "/home/me/.ssh/id_*", True, False, "glob may match keys"),
    (glob(WS + "/*", WS), WS + "/.env", False, False, "`cat *` does not read .env"),
    (glob(WS + "/*", WS, recursive=True), WS + "/.git", False, False, "`rm -rf *` does not delete .git"),
    (glob(WS + "/*", WS, recursive=True), WS + "/.git/**", False, False, "nor anything inside it"),
    (glob(WS + "/*", WS, recursive=True), WS + "/src/**", True, False, "but it does delete src"),
    (glob(WS + "/.*", WS), WS + "/.env", True, False, "a dot glob may read .env"),
    (glob(WS + "/*.py", WS), "**/.env*", False, False, "*.py never yields a dotfile"),
    (glob("/srv/*.pem", "/srv"), "**/*.pem", True, False, "glob with a matching suffix"),
    (glob("/srv/*.txt", "/srv"), "**/*.pem", False, False, "glob with another suffix"),
    (glob("/srv/*", "/srv"), "**/*.pem", False, False, "a bare star is not evidence"),
    (glob("/srv/*/key", "/srv"), "/srv/a/key", True, False, "star in the middle"),
    (glob("/srv/*/key", "/srv"), "/srv/a/b/key", False, False, "a star does not cross a slash"),
    (glob("/srv/a*", "/srv"), "/etc/**", False, False, "literal heads that differ"),
    # partly unknown
    (unknown("/tmp/$d", "/tmp"), "/tmp/**", True, False, "under a known directory"),
    (unknown("/tmp/$d", "/tmp"), "/etc/**", False, False, "not under another"),
    (unknown("/tmp/$d/id_rsa", "/tmp", "/id_rsa"), "**/id_rsa", True, False, "known ending, unanchored pattern"),
    (unknown("/tmp/$d", "/tmp"), "**/id_rsa", False, False, "no ending: no evidence for a name anywhere"),
    (unknown("$X/notes", "", "/notes"), "/etc/**", False, False, "nothing certain: left to unknown-target rules"),
    (unknown("/home/me/$d", "/home/me"), "/home/me/.ssh/id_*", True, False, "may be a key under home"),
    # another machine
    (Target("/etc/x", Access.WRITE, True, "", False, False, "host"), "/etc/**", False, False, "remote paths"),
]


@pytest.mark.parametrize("target,pattern,may,surely", [pytest.param(*m[:4], id=m[4]) for m in MATCHES])
def test_matching(target, pattern, may, surely):
    compiled = compile_pattern(pattern)
    assert may_match(target, compiled) is may
    assert surely_matches(target, compiled) is surely
    assert not (surely and not may), "surely implies may"


# (target, directory, inside, why)
INSIDE = [
    (known("/tmp/x"), "/tmp", True, "child"),
    (known("/tmp"), "/tmp", True, "the directory itself"),
    (known("/tmp"), "/tmp/", True, "trailing slash"),
    (known("/tmpx"), "/tmp", False, "name prefix only"),
    (known("/x"), "/", True, "everything is under /"),
    (unknown("/tmp/$d", "/tmp"), "/tmp", True, "trusted prefix"),
    (unknown("$d"), "/tmp", False, "nothing certain"),
    (glob("/tmp/*", "/tmp"), "/tmp", True, "glob under the directory"),
    (glob("/tmp/*", "/"), "/tmp", False, "a glob that may climb (.*)"),
    (Target("/tmp/x", Access.WRITE, True, "", False, False, "host"), "/tmp", False, "remote"),
]


@pytest.mark.parametrize("target,directory,inside", [pytest.param(*c[:3], id=c[3]) for c in INSIDE])
def test_surely_inside(target, directory, inside):
    assert surely_inside(target, directory) is inside


@pytest.mark.parametrize("text,cwd,expected", [
    ("~/.ssh/*", WS, "/home/me/.ssh/*"),
    ("~", WS, "/home/me"),
    ("/etc//x", WS, "/etc/x"),
    ("**/*.pem", WS, "**/*.pem"),
    (".env", WS, WS + "/.env"),
    (".env", "", "**/.env"),
])
def test_resolve_pattern(text, cwd, expected):
    assert resolve_pattern(text, cwd, HOME) == expected
