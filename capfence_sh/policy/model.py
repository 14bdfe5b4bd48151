"""A compiled policy: rules whose conditions are matchers over actions, indexed so that a large policy stays fast.

Semantics, in one place:
- A rule matches an action when every condition it names holds (lists inside one condition are alternatives,
  except `flags`, which must all be present) and its `unless` conditions do not all hold.
- Uncertainty resolves toward the stricter outcome: for deny and require_approval rules a condition on paths
  holds when the action *may* touch such a path; for allow rules it must *surely* do so, for every target.
- An action is decided by the most restrictive rule that matches it (deny > require_approval > allow; ties go to
  the first in policy order), else by `default`. A command is decided by its most restrictive action.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Callable

from capfence_sh.actions import Access, Action, Target
from capfence_sh.decision import Decision
from capfence_sh.parse.capabilities import READ_ONLY
from capfence_sh.parse.context import Context
from capfence_sh.parse.options import canonical_flag
from capfence_sh.pathmatch import compile_pattern, may_match, resolve_pattern, surely_inside, surely_matches

Matcher = Callable[[Action, "MatchContext", bool], bool]


@dataclass(frozen=True, slots=True)
class MatchContext:
    ctx: Context
    resource: str = "shell"
    verb: str = "exec"
    payload_text: str = ""  # the seed's `contains`/`match_keywords` also look at the API event's payload


@dataclass(slots=True, eq=False)
class Rule:
    id: str
    decision: Decision
    reason: str
    conditions: list[Matcher]
    unless: list[Matcher]
    index: int
    examples: dict[str, list[str]]
    source: str = ""
    line: int = 0
    # Index keys (at most one kind per rule): the rule can only match actions running one of these programs, or
    # with a capability under one of these roots, or with exactly one of these (action or event) capabilities, or
    # with a certain, non-recursive target at or under one of these directories.
    programs: frozenset[str] = frozenset()
    capability_roots: frozenset[str] = frozenset()
    capabilities: frozenset[str] = frozenset()
    path_dirs: frozenset[str] = frozenset()
    raw: dict[str, Any] = field(default_factory=dict)

    def matches(self, action: Action, mctx: MatchContext) -> bool:
        restrictive = self.decision is not Decision.ALLOW
        for condition in self.conditions:
            if not condition(action, mctx, restrictive):
                return False
        if self.unless:
            # `unless` carves an exception out of the rule: it holds only when the exception surely applies
            # (for a deny rule, a vague maybe must not switch the rule off).
            if all(condition(action, mctx, not restrictive) for condition in self.unless):
                return False
        return True


@dataclass(slots=True)
class Policy:
    name: str
    sha256: str
    default: Decision
    mode: str
    environment: str | None
    workspace: str | None
    rules: list[Rule]
    audit: dict[str, Any]
    approval: dict[str, Any]
    sources: list[str]
    description: str = ""
    base: Policy | None = None  # a workspace policy only tightens the policy it sits on
    _by_program: dict[str, list[Rule]] = field(default_factory=dict)
    _by_root: dict[str, list[Rule]] = field(default_factory=dict)
    _by_capability: dict[str, list[Rule]] = field(default_factory=dict)
    _by_path_dir: dict[str, list[Rule]] = field(default_factory=dict)
    _path_rules: list[Rule] = field(default_factory=list)
    _path_dir_keys: list[str] = field(default_factory=list)
    _general: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        for rule in self.rules:
            for keys, index in ((rule.programs, self._by_program), (rule.capability_roots, self._by_root),
                                (rule.capabilities, self._by_capability), (rule.path_dirs, self._by_path_dir)):
                if keys:
                    for key in keys:
                        index.setdefault(key, []).append(rule)
                    break
            else:
                self._general.append(rule)
            if rule.path_dirs and not (rule.programs or rule.capability_roots or rule.capabilities):
                self._path_rules.append(rule)
        self._path_dir_keys = sorted(self._by_path_dir)

    def candidates(self, action: Action, mctx: MatchContext | None = None) -> list[Rule]:
        """Rules that could match the action, in policy order, without scanning them all."""
        found = list(self._general)
        found += self._by_program.get(action.program, ())
        if self._by_root:
            for capability in action.capabilities:
                found += self._by_root.get(capability.split(".", 1)[0], ())
        if self._by_capability:
            for capability in action.capabilities:
                found += self._by_capability.get(capability, ())
            if mctx is not None:
                for event in _event_capabilities(action, mctx):
                    found += self._by_capability.get(event, ())
            else:
                found += [r for rules in self._by_capability.values() for r in rules]
        if self._path_rules:
            found += self._path_candidates(action)
        if len(found) > 1:
            found = sorted(set(found), key=_rule_index)
        return found

    def _path_candidates(self, action: Action) -> list[Rule]:
        found: list[Rule] = []
        for target in action.targets:
            if target.remote:
                continue
            if not target.known or target.glob:
                return self._path_rules  # a glob or a partly known path may reach any of them
            path = target.path.rstrip("/") or "/"
            if target.recursive:
                # A tree also reaches every pattern that points inside it.
                below = path.rstrip("/") + "/"
                keys = self._path_dir_keys
                for k in range(bisect_left(keys, below), len(keys)):
                    if not keys[k].startswith(below):
                        break
                    found += self._by_path_dir[keys[k]]
            while path:
                found += self._by_path_dir.get(path, ())
                cut = path.rfind("/")
                path = path[:cut] if cut > 0 else ("/" if path != "/" else "")
        return found

    def rule_by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def _rule_index(rule: Rule) -> int:
    return rule.index


def compile_policy(data: dict[str, Any], sha256: str) -> Policy:
    rules = [compile_rule(raw, index) for index, raw in enumerate(data["rules"])]
    return Policy(
        name=data["name"],
        sha256=sha256,
        default=Decision(data["default"]),
        mode=data["mode"],
        environment=data.get("environment"),
        workspace=data.get("workspace"),
        rules=rules,
        audit=data.get("audit") or {},
        approval=data.get("approval") or {},
        sources=data.get("sources", []),
        description=data.get("description", ""),
    )


def compile_rule(raw: dict[str, Any], index: int) -> Rule:
    match = raw["match"]
    unless_raw = raw.get("unless") or {}
    if match.get("paths") is not None and unless_raw and set(unless_raw) <= {"paths", "access"}:
        # `paths` + `unless: {paths}` is decided target by target: the exception removes the targets it names, so
        # `cp .env.example .env` is a read of .env.example (excepted) and a write of .env (not a read).
        conditions = compile_conditions(match, excluded_paths=_as_list(unless_raw["paths"]))
        unless: list[Matcher] = []
    else:
        conditions = compile_conditions(match)
        unless = compile_conditions(unless_raw) if unless_raw else []
    programs: frozenset[str] = frozenset()
    program_values = _as_list(match.get("program"))
    if program_values and not any(_has_glob(p) for p in program_values):
        programs = frozenset(program_values)
    subcommand = _as_list(match.get("subcommand"))
    if not programs and subcommand and all(" " in s and not _has_glob(s.split()[0]) for s in subcommand):
        programs = frozenset(s.split()[0] for s in subcommand)
    roots: frozenset[str] = frozenset()
    exact: frozenset[str] = frozenset()
    capability_values = _as_list(match.get("capability"))
    if capability_values and not programs:
        if not any(_has_glob(c) for c in capability_values):
            exact = frozenset(capability_values)  # no wildcard: fnmatch is equality, for action and event alike
        elif all(_indexable_capability(c) for c in capability_values):
            roots = frozenset(c.split(".", 1)[0] for c in capability_values)
    path_dirs = frozenset() if programs or roots or exact else _path_dirs(_as_list(match.get("paths")))
    return Rule(raw["id"], Decision(raw["decision"]), raw["reason"], conditions, unless, index,
                raw.get("examples") or {}, raw.get("source", ""), raw.get("line", 0), programs, roots, exact,
                path_dirs, raw)


def _path_dirs(patterns: list[str]) -> frozenset[str]:
    """For path patterns that are all absolute and placeholder-free: the literal directory each starts with (the
    pattern itself when it has no wildcard). A certain path can only match a pattern under its directory."""
    dirs = set()
    for text in patterns:
        if not text.startswith("/") or "{" in text:
            return frozenset()
        pattern = resolve_pattern(text, "/", "/")
        cut = _first_wildcard(pattern)
        if cut == len(pattern):
            dirs.add(pattern.rstrip("/") or "/")
            continue
        head = pattern[:cut]
        directory = head[: head.rfind("/")] or "/"
        if directory == "/":
            return frozenset()  # `/*` and the like: indexing under the root would gain nothing
        dirs.add(directory)
    return frozenset(dirs)


def _first_wildcard(text: str) -> int:
    positions = [text.find(ch) for ch in "*?[" if ch in text]
    return min(positions) if positions else len(text)


def _indexable_capability(pattern: str) -> bool:
    """Only patterns that can match nothing but action capabilities go in the index; anything that could be the
    seed's event capability (`shell.exec.production`, `payment.*`) must be checked for every action."""
    from capfence_sh.parse.capabilities import CAPABILITIES

    if pattern in CAPABILITIES:
        return True
    root, _, rest = pattern.partition(".")
    return rest == "*" and any(c.startswith(root + ".") for c in CAPABILITIES)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _has_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def compile_conditions(match: dict[str, Any], *, excluded_paths: list[str] | None = None) -> list[Matcher]:
    compiled: list[Matcher] = []
    access = [Access(a) for a in _as_list(match.get("access"))]
    for key, value in match.items():
        if key == "paths" and excluded_paths:
            compiled.append(_paths(value, access, match, excluded=excluded_paths))
            continue
        builder = _BUILDERS.get(key)
        if builder is None:
            continue
        matcher = builder(value, access, match)
        if matcher is not None:
            compiled.append(matcher)
    return compiled


# --- condition builders ---------------------------------------------------------------------------------------


def _capability(value: Any, access, match) -> Matcher:
    patterns = _as_list(value)

    event_patterns = [p for p in patterns if p == "*" or p.count(".") >= 2 or p.endswith(".*")]

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        # The seed's event capability: resource.verb.scope, scope = the environment (or `readonly` when the
        # action only reads). It describes the whole action.
        if event_patterns:
            events = _event_capabilities(action, mctx)
            if any(fnmatchcase(event, p) for p in event_patterns for event in events):
                return True
        if restrictive:
            return any(fnmatchcase(c, p) for c in action.capabilities for p in patterns)
        # An allow rule covers an action only when it covers everything the action does: allowing fs.read must
        # not allow `cat a > b`, which also writes.
        return bool(action.capabilities) and all(any(fnmatchcase(c, p) for p in patterns)
                                                 for c in action.capabilities)

    return check


def _event_capabilities(action: Action, mctx: MatchContext) -> list[str]:
    base = f"{mctx.resource}.{mctx.verb}"
    events = [f"{base}.{mctx.ctx.environment}"]
    if action.capabilities and all(c in READ_ONLY for c in action.capabilities):
        events.append(f"{base}.readonly")
    return events


def _program(value: Any, access, match) -> Matcher:
    patterns = _as_list(value)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return any(fnmatchcase(action.program, p) for p in patterns)

    return check


def _subcommand(value: Any, access, match) -> Matcher:
    items = []
    for text in _as_list(value):
        program, _, sub = text.partition(" ") if " " in text else ("", "", text)
        items.append((program, sub))

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        for program, sub in items:
            if program and not fnmatchcase(action.program, program):
                continue
            if fnmatchcase(action.subcommand, sub) or action.subcommand.startswith(sub + " "):
                return True
        return False

    return check


def _flags(value: Any, access, match, any_of: bool = False) -> Matcher:
    wanted = _as_list(value)
    cache: dict[str, frozenset[str]] = {}

    def canonical(program: str) -> frozenset[str]:
        got = cache.get(program)
        if got is None:
            got = frozenset(canonical_flag(program, f) for f in wanted)
            cache[program] = got
        return got

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        names = canonical(action.program)
        return bool(names & action.flags) if any_of else names <= action.flags

    return check


def _flags_any(value: Any, access, match) -> Matcher:
    return _flags(value, access, match, any_of=True)


def _args(value: Any, access, match) -> Matcher:
    tests: list[Callable[[str], bool]] = []
    for item in _as_list(value):
        if isinstance(item, str):
            tests.append(item.__eq__)
        elif "exact" in item:
            tests.append(item["exact"].__eq__)
        elif "glob" in item:
            pattern = item["glob"]
            tests.append(lambda arg, p=pattern: fnmatchcase(arg, p))
        else:
            regex = re.compile(item["regex"])
            tests.append(lambda arg, r=regex: bool(r.search(arg)))

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        args = action.argv[1:]
        return all(any(test(arg) for arg in args) for test in tests)

    return check


def _relevant(action: Action, access: list[Access]) -> list[Target]:
    if not access:
        return list(action.targets)
    return [t for t in action.targets if t.access in access or t.access is Access.ANY]


def _paths(value: Any, access: list[Access], match, excluded: list[str] | None = None) -> Matcher:
    patterns = tuple(_as_list(value))
    exceptions = tuple(excluded or ())

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        targets = _relevant(action, access)
        if not targets:
            return False
        cwd = action.cwd or mctx.ctx.cwd
        compiled = _resolve_patterns(patterns, cwd, mctx.ctx)
        excepted = _resolve_patterns(exceptions, cwd, mctx.ctx) if exceptions else ()
        if restrictive:
            # A target the exception only may name stays matched: uncertainty resolves toward the rule.
            return any(any(may_match(t, p) for p in compiled) and not any(surely_matches(t, e) for e in excepted)
                       for t in targets)
        # An allow rule on paths holds only when every relevant target surely matches one of them (and surely
        # is not one of the exceptions).
        return all(t.access is not Access.ANY and any(surely_matches(t, p) for p in compiled)
                   and not any(may_match(t, e) for e in excepted) for t in targets)

    return check


def _outside(value: Any, access: list[Access], match) -> Matcher:
    places = _as_list(value)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        targets = _relevant(action, access)
        dirs = _resolve_dirs(tuple(places), mctx.ctx)
        if restrictive:
            return any(not any(surely_inside(t, d) for d in dirs) for t in targets)
        return bool(targets) and all(t.known and not t.glob and not any(_maybe_inside(t, d) for d in dirs)
                                     for t in targets)

    return check


def _inside(value: Any, access: list[Access], match) -> Matcher:
    places = _as_list(value)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        targets = _relevant(action, access)
        if not targets:
            return False
        dirs = _resolve_dirs(tuple(places), mctx.ctx)
        if restrictive:
            return any(any(_maybe_inside(t, d) for d in dirs) for t in targets)
        return all(any(surely_inside(t, d) for d in dirs) for t in targets)

    return check


def _maybe_inside(target: Target, directory: str) -> bool:
    if target.remote:
        return False
    if target.known and not target.glob:
        return surely_inside(target, directory)
    certain = target.prefix if not target.known else target.path[: min(
        [target.path.find(ch) for ch in "*?[" if ch in target.path] or [len(target.path)])]
    if not certain:
        return True
    d = directory.rstrip("/") + "/"
    c = certain.rstrip("/") + "/"
    return c.startswith(d) or d.startswith(c)


def _unknown_targets(value: Any, access: list[Access], match) -> Matcher:
    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        found = any(not t.known and not t.prefix for t in _relevant(action, access))
        return found if value else not found

    return check


def _redirect(value: Any, access, match) -> Matcher:
    patterns = _as_list(value)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return any(fnmatchcase(r.target, p) for r in action.redirects for p in patterns)

    return check


def _environment(value: Any, access, match) -> Matcher:
    patterns = _as_list(value)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return any(fnmatchcase(mctx.ctx.environment, p) for p in patterns)

    return check


def _actor(value: Any, access, match) -> Matcher:
    patterns = _as_list(value)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return any(fnmatchcase(mctx.ctx.actor, p) for p in patterns)

    return check


def _via(value: Any, access, match) -> Matcher:
    patterns = _as_list(value)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return any(fnmatchcase(v, p) or v.split(" ", 1)[0] == p for v in action.via for p in patterns)

    return check


def _stdin(value: Any, access, match) -> Matcher:
    patterns = _as_list(value)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return bool(action.stdin) and any(fnmatchcase(action.stdin, p) for p in patterns)

    return check


def _remote(value: Any, access, match) -> Matcher:
    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return bool(action.remote) == value

    return check


def _regex(value: Any, access, match) -> Matcher:
    regexes = [re.compile(p) for p in _as_list(value)]

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        text = " ".join(action.argv)
        return any(r.search(text) for r in regexes)

    return check


def _text_regex(value: Any, access, match) -> Matcher:
    regexes = [re.compile(p) for p in _as_list(value)]

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return any(r.search(action.text) for r in regexes)

    return check


def _contains(value: Any, access, match) -> Matcher:
    """The seed's `contains`, made spelling-independent: when the text is a command (`rm -rf`), it matches that
    command however its flags are written; otherwise it is a case-insensitive substring of the normalised
    command (and of the API event's payload)."""
    from capfence_sh.parse.options import FLAG_ALIASES, OptSpec, parse_options
    from capfence_sh.parse.programs import normalise_program
    from capfence_sh.parse.words import literal

    checks: list[Callable[[Action, MatchContext], bool]] = []
    for text in _as_list(value):
        words = text.split()
        lowered = text.lower()
        if words and re.fullmatch(r"[A-Za-z0-9_.+-]+", words[0]) and words[0].lower() == words[0] and (
                len(words) == 1 or any(w.startswith("-") for w in words[1:]) or _is_known_program(words[0])):
            program = normalise_program(words[0])
            spec = OptSpec(aliases=FLAG_ALIASES.get(program, {}))
            parsed = parse_options([literal(w) for w in words[1:]], spec)
            flags = frozenset(parsed.flags)
            operands = [f.value for f in parsed.operands]

            def semantic(action: Action, mctx: MatchContext, program=program, flags=flags, operands=operands,
                         lowered=lowered) -> bool:
                if action.program == program:
                    if not flags <= action.flags:
                        return False
                    args = list(action.argv[1:])
                    sub = action.subcommand.split()
                    return all(o in args or o in sub for o in operands)
                return bool(mctx.payload_text) and not action.program and lowered in mctx.payload_text.lower()

            checks.append(semantic)
        else:
            def substring(action: Action, mctx: MatchContext, lowered=lowered) -> bool:
                haystack = " ".join(action.argv).lower()
                if lowered in haystack:
                    return True
                return bool(mctx.payload_text) and lowered in mctx.payload_text.lower()

            checks.append(substring)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return any(c(action, mctx) for c in checks)

    return check


def _is_known_program(word: str) -> bool:
    from capfence_sh.parse.programs import handler_for, normalise_program

    return handler_for(normalise_program(word)) is not None


def _match_keywords(value: Any, access, match) -> Matcher:
    keywords = [k.lower() for k in _as_list(value)]

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        haystack = (" ".join(action.argv) + " " + mctx.payload_text).lower()
        return any(k in haystack for k in keywords)

    return check


def _match_regex(value: Any, access, match) -> Matcher:
    regexes = [re.compile(p) for p in _as_list(value)]

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        haystack = " ".join(action.argv) + " " + mctx.payload_text
        return any(r.search(haystack) for r in regexes)

    return check


def _tool_name(value: Any, access, match) -> Matcher:
    names = _as_list(value)

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return any(fnmatchcase(mctx.verb, n) or fnmatchcase(action.program, n) for n in names)

    return check


def _access_only(value: Any, access, match) -> Matcher | None:
    if any(k in match for k in ("paths", "outside", "inside", "unknown_targets")):
        return None  # `access` qualifies those conditions

    def check(action: Action, mctx: MatchContext, restrictive: bool) -> bool:
        return bool(_relevant(action, access))

    return check


_BUILDERS: dict[str, Callable[..., Matcher | None]] = {
    "capability": _capability, "program": _program, "subcommand": _subcommand, "flags": _flags,
    "flags_any": _flags_any, "args": _args, "paths": _paths, "outside": _outside, "inside": _inside,
    "unknown_targets": _unknown_targets, "redirect": _redirect, "environment": _environment, "actor": _actor,
    "via": _via, "stdin": _stdin, "remote": _remote, "regex": _regex, "text_regex": _text_regex,
    "contains": _contains, "match_keywords": _match_keywords, "match_regex": _match_regex, "tool_name": _tool_name,
    "access": _access_only,
}


# --- placeholders ------------------------------------------------------------------------------------------------


def expand_placeholders(text: str, ctx: Context) -> list[str]:
    if "{" not in text:
        return [text]
    values = {
        "workspace": [ctx.workspace] if ctx.workspace else [],
        "home": [ctx.home] if ctx.home else [],
        "cwd": [ctx.cwd] if ctx.cwd else [],
        "tmp": _tmp_dirs(ctx),
        "capfence": list(ctx.capfence_paths),
        "capfence_secret": list(ctx.capfence_secrets),
    }
    results = [text]
    for name, replacements in values.items():
        token = "{" + name + "}"
        next_results = []
        for item in results:
            if token in item:
                next_results += [item.replace(token, r.rstrip("/")) for r in replacements]
            else:
                next_results.append(item)
        results = next_results
    return results


def _tmp_dirs(ctx: Context) -> list[str]:
    dirs = ["/tmp", "/var/tmp", "/dev/shm"]
    tmpdir = ctx.env.get("TMPDIR")
    if tmpdir and tmpdir.startswith("/") and tmpdir.rstrip("/") not in ("", "/"):
        dirs.append(tmpdir.rstrip("/"))
    return dirs


@lru_cache(maxsize=1024)
def _resolve_patterns(patterns: tuple[str, ...], cwd: str, ctx: Context):
    out = []
    for pattern in patterns:
        for expanded in expand_placeholders(pattern, ctx):
            out.append(compile_pattern(resolve_pattern(expanded, cwd, ctx.home)))
    return tuple(out)


_DIR_TOKENS = {"workspace": "{workspace}", "tmp": "{tmp}", "home": "{home}", "cwd": "{cwd}", "capfence": "{capfence}"}


@lru_cache(maxsize=256)
def _resolve_dirs(places: tuple[str, ...], ctx: Context) -> tuple[str, ...]:
    out: list[str] = []
    for place in places:
        token = _DIR_TOKENS.get(place, place)
        for expanded in expand_placeholders(token, ctx):
            if expanded.startswith("~"):
                expanded = ctx.home.rstrip("/") + expanded[1:]
            if expanded.startswith("/"):
                out.append(expanded.rstrip("/") or "/")
    return tuple(out)
