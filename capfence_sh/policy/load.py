"""Read a policy file: YAML with line numbers, validated, `extends` resolved, into plain checked data.

This is the one place that reads policy files. Errors name the file, the line and the key:
`policies/team.yaml:14: rules[2].decision: must be one of allow, deny, require_approval (got 'maybe')`.
The result is plain data (dicts, lists, strings) so it can be cached with marshal and compiled without YAML.
"""

from __future__ import annotations

import os
from typing import Any

from capfence_sh.errors import PolicyError

TOP_LEVEL_KEYS = {"name", "description", "version", "policy_name", "default", "mode", "enforcement_mode",
                  "environment", "workspace", "extends", "disable", "audit", "approval", "rules", "deny",
                  "require_approval", "allow", "protect"}
CONDITION_KEYS = {"capability", "program", "subcommand", "flags", "flags_any", "args", "paths", "access",
                  "outside", "inside", "unknown_targets", "redirect", "environment", "actor", "contains", "regex",
                  "text_regex", "via", "remote", "stdin", "tool_name", "match_keywords", "match_regex"}
RULE_KEYS = CONDITION_KEYS | {"id", "decision", "action", "reason", "description", "match", "unless", "examples"}
DECISIONS = ("allow", "deny", "require_approval")
ACCESS_KINDS = ("read", "write", "delete", "perm", "exec")
MODES = ("enforce", "observe")
MAX_EXTENDS_DEPTH = 8


class Located:
    """Line numbers of a loaded YAML document, by key path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[tuple, int] = {}

    def line(self, path: tuple) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def error(self, path: tuple, message: str) -> PolicyError:
        return PolicyError(f"{self.source}:{self.line(path)}: {format_path(path)}: {message}" if path else
                           f"{self.source}:{self.line(path)}: {message}")


def format_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_yaml(text: str, source: str) -> tuple[Any, Located]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    located = Located(source)
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PolicyError(f"{source}:{line}: not valid YAML: {problem}") from None
    if node is None:
        return {}, located
    return _to_data(node, (), located), located


def _to_data(node, path: tuple, located: Located) -> Any:
    import yaml

    located.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in out:
                raise PolicyError(f"{located.source}:{key_node.start_mark.line + 1}: {format_path(path + (key,))}: "
                                  f"duplicate key")
            located.lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _to_data(value_node, path + (key,), located)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_data(item, path + (i,), located) for i, item in enumerate(node.value)]
    # Scalars: let the safe constructor type them (ints, bools, null) exactly as yaml.safe_load would.
    return _constructor().construct_object(node, deep=True)


def _constructor():
    import yaml

    return yaml.constructor.SafeConstructor()


def read_policy_file(path: str) -> tuple[str, bytes]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(4 * 1024 * 1024 + 1)
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except IsADirectoryError:
        raise PolicyError(f"{path}: is a directory, not a policy file") from None
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy: {exc.strerror}") from None
    if len(raw) > 4 * 1024 * 1024:
        raise PolicyError(f"{path}: policy file larger than 4 MiB")
    try:
        return raw.decode("utf-8"), raw
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: policy is not UTF-8 text (byte {exc.start})") from None


def load_policy_data(path: str, resolve_pack, *, _depth: int = 0, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Load, validate and flatten one policy file (and what it extends) into checked plain data.

    Returns {"name", "description", "default", "mode", "environment", "workspace", "audit", "approval",
    "rules": [rule dicts with "id", "decision", "reason", "match", "unless", "examples", "source"], "sources"}.
    """
    real = os.path.realpath(path)
    if real in _seen:
        raise PolicyError(f"{path}: extends itself (cycle: {' -> '.join(_seen + (real,))})")
    if _depth > MAX_EXTENDS_DEPTH:
        raise PolicyError(f"{path}: extends nested deeper than {MAX_EXTENDS_DEPTH}")
    text, raw = read_policy_file(path)
    data, located = parse_yaml(text, path)
    if not isinstance(data, dict):
        raise located.error((), "a policy must be a YAML mapping")
    policy = validate_policy(data, located)
    sources = [path]
    rules: list[dict[str, Any]] = []
    inherited: dict[str, Any] = {}
    for parent in policy["extends"]:
        parent_path = resolve_pack(parent, os.path.dirname(os.path.abspath(path)))
        parent_data = load_policy_data(parent_path, resolve_pack, _depth=_depth + 1, _seen=_seen + (real,))
        sources += parent_data["sources"]
        rules += parent_data["rules"]
        for key in ("default", "mode", "environment", "workspace", "audit", "approval", "protect"):
            if parent_data.get(key) is not None:
                inherited[key] = parent_data[key]
    disabled = set(policy["disable"])
    own_ids = {rule["id"] for rule in policy["rules"]}
    unknown_disabled = disabled - {rule["id"] for rule in rules} - own_ids
    if unknown_disabled:
        raise located.error(("disable",), f"no rule with id {', '.join(sorted(unknown_disabled))}")
    # A rule with the same id as an inherited one replaces it in place.
    merged = []
    replacing = {rule["id"]: rule for rule in policy["rules"]}
    for rule in rules:
        if rule["id"] in disabled:
            continue
        merged.append(replacing.pop(rule["id"], rule))
    merged += [rule for rule in policy["rules"] if rule["id"] in replacing]
    result = {
        "name": policy["name"] or os.path.splitext(os.path.basename(path))[0],
        "description": policy["description"],
        "rules": merged,
        "sources": sources,
    }
    for key in ("default", "mode", "environment", "workspace", "audit", "approval", "protect"):
        result[key] = policy[key] if policy[key] is not None else inherited.get(key)
    if result["default"] is None:
        # The seed's semantics: what no rule allows is denied.
        result["default"] = "deny"
    if result["mode"] is None:
        result["mode"] = "enforce"
    return result


def validate_policy(data: dict[str, Any], located: Located) -> dict[str, Any]:
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise located.error((unknown[0],), f"unknown key (known: {', '.join(sorted(TOP_LEVEL_KEYS))})")
    out: dict[str, Any] = {}
    out["name"] = _optional_str(data, "name", located) or _optional_str(data, "policy_name", located)
    out["description"] = _optional_str(data, "description", located) or ""
    default = data.get("default")
    out["default"] = _decision(default, ("default",), located) if default is not None else None
    mode = data.get("mode", data.get("enforcement_mode"))
    if mode is not None:
        if mode not in MODES:
            raise located.error(("mode",), f"must be one of {', '.join(MODES)} (got {mode!r})")
    out["mode"] = mode
    out["environment"] = _optional_str(data, "environment", located)
    out["workspace"] = _optional_str(data, "workspace", located)
    extends = data.get("extends", [])
    if isinstance(extends, str):
        extends = [extends]
    if not isinstance(extends, list) or not all(isinstance(e, str) for e in extends):
        raise located.error(("extends",), "must be a pack name or path, or a list of them")
    out["extends"] = extends
    disable = data.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(d, str) for d in disable):
        raise located.error(("disable",), "must be a list of rule ids")
    out["disable"] = disable
    out["audit"] = _audit(data.get("audit"), located)
    out["approval"] = _approval(data.get("approval"), located)
    protect = data.get("protect")
    if protect is not None and (not isinstance(protect, list) or not all(isinstance(p, str) for p in protect)):
        raise located.error(("protect",), "must be a list of paths")
    out["protect"] = protect
    rules: list[dict[str, Any]] = []
    seen_ids: dict[str, tuple] = {}
    raw_rules = data.get("rules", []) or []
    if not isinstance(raw_rules, list):
        raise located.error(("rules",), "must be a list of rules")
    for index, raw in enumerate(raw_rules):
        rules.append(_rule(raw, ("rules", index), None, located))
    for section in ("deny", "require_approval", "allow"):
        items = data.get(section, []) or []
        if not isinstance(items, list):
            raise located.error((section,), "must be a list")
        for index, raw in enumerate(items):
            rules.append(_rule(raw, (section, index), section, located))
    for rule in rules:
        if rule["id"] in seen_ids:
            raise located.error(rule["_path"] + ("id",), f"duplicate rule id {rule['id']!r}")
        seen_ids[rule["id"]] = rule["_path"]
    for rule in rules:
        del rule["_path"]
    out["rules"] = rules
    return out


def _optional_str(data: dict, key: str, located: Located) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise located.error((key,), "must be a string")
    return value


def _decision(value: Any, path: tuple, located: Located) -> str:
    if not isinstance(value, str):
        raise located.error(path, f"must be one of {', '.join(DECISIONS)}")
    lowered = value.strip().lower().replace("-", "_")
    aliases = {"block": "deny", "approve": "require_approval", "ask": "require_approval", "approval": "require_approval"}
    lowered = aliases.get(lowered, lowered)
    if lowered not in DECISIONS:
        raise located.error(path, f"must be one of {', '.join(DECISIONS)} (got {value!r})")
    return lowered


def _audit(value: Any, located: Located) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise located.error(("audit",), "must be a mapping")
    known = {"path", "on_failure", "max_bytes", "key_file"}
    for key in value:
        if key not in known:
            raise located.error(("audit", key), f"unknown key (known: {', '.join(sorted(known))})")
    if "on_failure" in value and value["on_failure"] not in ("deny", "allow"):
        raise located.error(("audit", "on_failure"), "must be deny or allow")
    if "max_bytes" in value and (not isinstance(value["max_bytes"], int) or value["max_bytes"] < 4096):
        raise located.error(("audit", "max_bytes"), "must be an integer of at least 4096")
    for key in ("path", "key_file"):
        if key in value and not isinstance(value[key], str):
            raise located.error(("audit", key), "must be a path")
    return dict(value)


def _approval(value: Any, located: Located) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise located.error(("approval",), "must be a mapping")
    known = {"wait", "ttl", "remember"}
    for key in value:
        if key not in known:
            raise located.error(("approval", key), f"unknown key (known: {', '.join(sorted(known))})")
    for key in ("wait", "ttl"):
        if key in value and (not isinstance(value[key], (int, float)) or isinstance(value[key], bool) or value[key] < 0):
            raise located.error(("approval", key), "must be a number of seconds")
    remember = value.get("remember")
    if remember is not None:
        allowed = {"once", "session", "until"}
        items = [remember] if isinstance(remember, str) else remember
        if not isinstance(items, list) or not all(isinstance(i, str) and i in allowed for i in items):
            raise located.error(("approval", "remember"), f"must be among {', '.join(sorted(allowed))}")
    return dict(value)


def _rule(raw: Any, path: tuple, section: str | None, located: Located) -> dict[str, Any]:
    if isinstance(raw, str) and section is not None:
        # The seed's shortest form: a bare capability under deny/require_approval/allow.
        raw = {"capability": raw}
    if not isinstance(raw, dict):
        raise located.error(path, "a rule must be a mapping")
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise located.error(path + (unknown[0],), f"unknown rule key (conditions: {', '.join(sorted(CONDITION_KEYS))})")
    if section is None:
        decision_value = raw.get("decision", raw.get("action"))
        if decision_value is None:
            raise located.error(path, "rule needs a decision: allow, deny or require_approval")
        decision = _decision(decision_value, path + ("decision" if "decision" in raw else "action",), located)
    else:
        if "decision" in raw and _decision(raw["decision"], path + ("decision",), located) != section:
            raise located.error(path + ("decision",), f"a rule under {section}: cannot decide {raw['decision']!r}")
        decision = section
    rule_id = raw.get("id")
    if rule_id is None:
        if section is None:
            raise located.error(path, "rule needs an id")
        rule_id = f"{section}[{path[1]}]"
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise located.error(path + ("id",), "must be a non-empty string")
    reason = raw.get("reason", raw.get("description"))
    if reason is None:
        if section is None:
            raise located.error(path, "rule needs a reason a user would understand")
        reason = {"deny": "denied", "require_approval": "needs approval", "allow": "allowed"}[section] + \
            f" by policy rule {rule_id}"
    if not isinstance(reason, str):
        raise located.error(path + ("reason",), "must be a string")
    match = {k: v for k, v in raw.items() if k in CONDITION_KEYS}
    if "match" in raw:
        if not isinstance(raw["match"], dict):
            raise located.error(path + ("match",), "must be a mapping of conditions")
        overlap = set(raw["match"]) & set(match)
        if overlap:
            raise located.error(path + ("match",), f"condition {sorted(overlap)[0]} given twice")
        match.update(raw["match"])
    _check_conditions(match, path + (("match",) if "match" in raw else ()), located)
    if not match:
        raise located.error(path, "rule has no conditions (use `default:` for what no rule matches)")
    unless = raw.get("unless")
    if unless is not None:
        if not isinstance(unless, dict):
            raise located.error(path + ("unless",), "must be a mapping of conditions")
        _check_conditions(unless, path + ("unless",), located)
    examples = raw.get("examples")
    if examples is not None:
        if not isinstance(examples, dict) or set(examples) - {"blocked", "allowed"}:
            raise located.error(path + ("examples",), "must be a mapping with `blocked:` and/or `allowed:` lists")
        for key, items in examples.items():
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise located.error(path + ("examples", key), "must be a list of commands")
    return {"id": rule_id.strip(), "decision": decision, "reason": reason, "match": match, "unless": unless,
            "examples": examples or {}, "line": located.line(path), "source": located.source, "_path": path}


_LIST_OF_STR = ("capability", "program", "subcommand", "flags", "flags_any", "paths", "access", "outside", "inside",
                "redirect", "environment", "actor", "contains", "via", "stdin", "tool_name", "match_keywords",
                "match_regex")


def _check_conditions(match: dict[str, Any], path: tuple, located: Located) -> None:
    for key, value in match.items():
        where = path + (key,)
        if key not in CONDITION_KEYS:
            raise located.error(where, f"unknown condition (known: {', '.join(sorted(CONDITION_KEYS))})")
        if key in _LIST_OF_STR:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
                raise located.error(where, "must be a non-empty string or list of strings")
            if key == "access":
                bad = [i for i in items if i not in ACCESS_KINDS]
                if bad:
                    raise located.error(where, f"unknown access {bad[0]!r} (known: {', '.join(ACCESS_KINDS)})")
            if key == "match_regex":
                for item in items:
                    _check_regex(item, where, located)
        elif key in ("regex", "text_regex"):
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise located.error(where, "must be a regular expression or a list of them")
            for item in items:
                _check_regex(item, where, located)
        elif key == "args":
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if isinstance(item, str):
                    continue
                if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in ("exact", "glob", "regex") and \
                        isinstance(next(iter(item.values())), str):
                    if "regex" in item:
                        _check_regex(item["regex"], where + (i,), located)
                    continue
                raise located.error(where + (i,), "must be a string, or a mapping with one of exact/glob/regex")
        elif key in ("unknown_targets", "remote"):
            if not isinstance(value, bool):
                raise located.error(where, "must be true or false")


def _check_regex(pattern: str, where: tuple, located: Located) -> None:
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        raise located.error(where, f"invalid regular expression: {exc}") from None
