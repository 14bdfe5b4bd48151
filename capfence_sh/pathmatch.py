"""Matching targets against path patterns, including targets only partly known.

Pattern syntax: `*` and `?` within one path segment, `[...]` classes, `**` across segments. A pattern that is
not absolute and does not start with `~` or `**` is relative to the directory the command runs in.

A target can be certain (`/home/u/.ssh/id_rsa`), a glob the shell will expand (`~/.ssh/*`), a tree
(`tar c ~/.ssh`, `rm -r /`), or partly unknown (`$dir/notes.txt`). `may_match` answers "could this action touch a
path the pattern names?"; it over-approximates, never under: deny and approval rules use it. `surely_matches`
answers "does it certainly?": allow rules use it, so uncertainty always resolves toward the stricter decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

from capfence_sh.actions import Target


@dataclass(frozen=True, slots=True)
class PathPattern:
    text: str  # absolute pattern (after ~ and cwd resolution), or "**/..." for anywhere
    regex: re.Pattern[str]
    prefix: str  # literal text before the first wildcard
    suffix: str  # literal text after the last wildcard
    anchored: bool  # does not start with a wildcard (so it names a place, not a name anywhere)
    segments: tuple[str, ...]


@lru_cache(maxsize=4096)
def compile_pattern(text: str) -> PathPattern:
    regex = re.compile(glob_to_regex(text), re.DOTALL)
    cut = _first_wild(text)
    prefix = text[:cut]
    last = max(text.rfind(ch) for ch in "*?]")
    suffix = text[last + 1 :] if last >= 0 else text
    return PathPattern(text, regex, prefix, suffix, cut > 0, tuple(text.split("/")))


def glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                j = i + 2
                if j < n and pattern[j] == "/":
                    out.append("(?:.*/)?")
                    i = j + 1
                    continue
                out.append(".*")
                i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out) + r"\Z"


_WILD_SEARCH = re.compile(r"[*?\[]").search  # one C-level scan: this runs per segment of every glob target


def _first_wild(text: str) -> int:
    found = _WILD_SEARCH(text)
    return found.start() if found else len(text)


def _compatible_prefix(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _compatible_suffix(a: str, b: str) -> bool:
    return a.endswith(b) or b.endswith(a)


def surely_matches(target: Target, pattern: PathPattern) -> bool:
    if target.remote:
        return False
    if not target.known:
        # Partly unknown with a certain ending (`find -name '*.md' -exec ... {}`): a pattern for any name with that
        # ending anywhere (`**/*.md`) surely holds.
        tail = pattern.text[len("**/*"):] if pattern.text.startswith("**/*") else ""
        return bool(tail) and _first_wild(tail) == len(tail) and "/" not in tail and target.suffix.endswith(tail)
    if target.glob:
        return False
    return bool(pattern.regex.match(target.path))


def may_match(target: Target, pattern: PathPattern) -> bool:
    if target.remote:
        return False
    if target.known and not target.glob:
        if pattern.regex.match(target.path):
            return True
        if target.recursive and pattern.anchored:
            # A whole tree is touched: any anchored pattern pointing inside it may match. (Patterns that name a
            # file anywhere, like "**/*.pem", are not counted for trees: every directory could hold one.)
            return _segments_intersect(tuple(target.path.rstrip("/").split("/")), pattern.segments, True)
        return False
    if target.known:  # a glob the shell will expand
        last_segment = target.path.rsplit("/", 1)[-1]
        if not pattern.anchored and (target.recursive or not last_segment.strip("*?")):
            # `cat *` against "**/*.pem": a bare wildcard is not evidence of touching a name that could be
            # anywhere; `cat .env.*` or `cat *.pem` is.
            return False
        # Cheap necessary conditions before the segment walk: every match starts with the glob's literal head
        # and the pattern's, and (without a tree below it) ends with both literal tails.
        if not _compatible_prefix(target.path[: _first_wild(target.path)], pattern.prefix):
            return False
        if not target.recursive and not _compatible_suffix(
                target.path[max(target.path.rfind(ch) for ch in "*?]") + 1 :], pattern.suffix):
            return False
        return _segments_intersect(tuple(target.path.split("/")), pattern.segments, target.recursive)
    # Partly unknown: only what is certain (directory prefix, ending) can rule a match out.
    if not target.prefix:
        return False  # could be anywhere: no evidence for this path; rules on unknown targets catch it
    if not pattern.anchored and not target.suffix:
        return False
    root = target.prefix.rstrip("/") + "/"
    if pattern.prefix == pattern.text and not pattern.text.startswith(root):
        # A literal path outside (or equal to) the directory the target is certainly under.
        return False
    if pattern.text.endswith("/**") and not root.startswith(pattern.prefix) and pattern.anchored:
        # A path somewhere under a broad directory (find results, `$dir/x`) is not evidence of touching one
        # particular subtree of it; the broad directory itself is what `outside`/tree rules judge.
        return False
    if not pattern.anchored and pattern.text.endswith("/**"):
        return False
    return _compatible_prefix(root, pattern.prefix) and _compatible_suffix(target.suffix, pattern.suffix)


def _segments_intersect(glob: tuple[str, ...], pattern: tuple[str, ...], recursive: bool) -> bool:
    """Could a path matched by the shell glob (or lying under it, when recursive) match the pattern?"""
    seen: dict[tuple[int, int], bool] = {}

    def step(i: int, j: int) -> bool:
        key = (i, j)
        if key in seen:
            return seen[key]
        if j == len(pattern):
            result = i == len(glob)
        elif pattern[j] == "**":
            result = step(i, j + 1) or (i < len(glob) and step(i + 1, j)) or (i == len(glob) and recursive)
        elif i == len(glob):
            result = recursive  # anything may lie under the tree the glob names
        else:
            result = _segment_intersects(glob[i], pattern[j]) and step(i + 1, j + 1)
        seen[key] = result
        return result

    return step(0, 0)


def _segment_intersects(glob_segment: str, pattern_segment: str) -> bool:
    glob_wild = _first_wild(glob_segment) < len(glob_segment)
    pattern_wild = _first_wild(pattern_segment) < len(pattern_segment)
    if not glob_wild and not pattern_wild:
        return glob_segment == pattern_segment
    # Bash globs do not match names starting with "." unless the glob itself starts with ".": `*.py` never
    # yields `.env`, nor anything `.env*` names.
    if glob_wild and pattern_segment.startswith(".") and not glob_segment.startswith("."):
        return False
    if glob_wild and not pattern_wild:
        return fnmatchcase(pattern_segment, glob_segment)
    if pattern_wild and not glob_wild:
        return fnmatchcase(glob_segment, pattern_segment)
    g_cut, p_cut = _first_wild(glob_segment), _first_wild(pattern_segment)
    g_last = max(glob_segment.rfind(ch) for ch in "*?]")
    p_last = max(pattern_segment.rfind(ch) for ch in "*?]")
    return _compatible_prefix(glob_segment[:g_cut], pattern_segment[:p_cut]) and _compatible_suffix(
        glob_segment[g_last + 1 :], pattern_segment[p_last + 1 :])


def surely_inside(target: Target, directory: str) -> bool:
    """Is the target certainly at or under `directory`?"""
    if target.remote:
        return False
    d = directory.rstrip("/") or "/"
    if target.known and not target.glob:
        path = target.path
    else:
        path = target.prefix
        if not path:
            return False
    if d == "/":
        return path.startswith("/")
    return path == d or path.startswith(d + "/")


def resolve_pattern(text: str, cwd: str, home: str) -> str:
    """A policy pattern made absolute: `~` is home, a relative pattern is relative to cwd."""
    if text.startswith("~/") or text == "~":
        return home.rstrip("/") + text[1:]
    if text.startswith("/") or text.startswith("**"):
        return _collapse(text)
    if not cwd:
        return "**/" + text
    return _collapse(cwd.rstrip("/") + "/" + text)


def _collapse(text: str) -> str:
    while "//" in text:
        text = text.replace("//", "/")
    return text
