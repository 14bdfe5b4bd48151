"""Verdicts as data: the JSON shape shared by `check --json`, the audit log and the hook, with secrets redacted.

Redaction is visible (`<redacted>`), never silent: values of assignments whose names look secret (`*TOKEN*`,
`*SECRET*`, `*PASSWORD*`, `*KEY*`, ...), credentials in URLs (`https://user:pass@host`), `--password=x` style
options, `Authorization:` headers and `curl -u user:pass`.
"""

from __future__ import annotations

import re
from typing import Any

from capfence_sh.actions import Action
from capfence_sh.decision import ActionVerdict, Verdict

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"(?i)(TOKEN|SECRET|PASSWORD|PASSWD|PASS|KEY|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE|APIKEY)")
_ASSIGNMENT = re.compile(r"(?<![\w$])([A-Za-z_][A-Za-z0-9_]*)=('[^']*'|\"[^\"]*\"|[^\s;&|]*)")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]+):([^/\s@]+)@")
_OPTION_SECRET = re.compile(r"(?i)(--?(?:password|passwd|token|secret|api-?key|access-key|secret-key|auth-token|"
                            r"client-secret|pass)(?:=|\s+))('[^']*'|\"[^\"]*\"|\S+)")
_AUTH_HEADER = re.compile(r"(?i)((?:authorization|x-api-key|x-auth-token|cookie|proxy-authorization)\s*:\s*)"
                          r"(?:(bearer|basic|token)\s+)?([^'\"\s]+)")
_CURL_USER = re.compile(r"((?:^|\s)(?:-u|--user)\s*['\"]?[^:\s'\"]+:)([^\s'\"]+)")


def redact(text: str) -> str:
    if not text:
        return text
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", text)
    text = _ASSIGNMENT.sub(lambda m: f"{m.group(1)}={REDACTED}" if _SECRET_NAME.search(m.group(1)) else m.group(0),
                           text)
    text = _OPTION_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{(m.group(2) + ' ') if m.group(2) else ''}{REDACTED}", text)
    text = _CURL_USER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


def redact_assignment(name: str, value: str) -> str:
    return REDACTED if _SECRET_NAME.search(name) else redact(value)


def action_data(action: Action) -> dict[str, Any]:
    return {
        "program": action.program,
        "written": redact(action.written),
        "argv": [redact(a) for a in action.argv],
        "capabilities": list(action.capabilities),
        "targets": [
            {"path": redact(t.path), "access": t.access.value, "known": t.known, "recursive": t.recursive,
             **({"glob": True} if t.glob else {}), **({"remote": t.remote} if t.remote else {})}
            for t in action.targets
        ],
        "subcommand": action.subcommand,
        "flags": sorted(action.flags),
        "cwd": action.cwd,
        "assignments": {name: redact_assignment(name, value) for name, value in action.assignments},
        "redirects": [{"fd": r.fd, "op": r.op, "target": redact(r.target), "mode": r.mode} for r in action.redirects],
        "stdin": action.stdin,
        "in_pipeline": action.in_pipeline,
        "via": list(action.via),
        "text": redact(action.text),
        **({"note": redact(action.note)} if action.note else {}),
        **({"remote": action.remote} if action.remote else {}),
    }


def action_verdict_data(item: ActionVerdict) -> dict[str, Any]:
    return {**action_data(item.action), "decision": item.decision.value, "rule": item.rule, "reason": item.reason,
            "matched": list(item.matched)}


def verdict_data(verdict: Verdict) -> dict[str, Any]:
    return {
        "decision": verdict.decision.value,
        "rule": verdict.rule,
        "reason": redact(verdict.reason),
        "command": redact(verdict.command),
        "form": verdict.form,
        "mode": verdict.mode,
        "authorized": verdict.authorized,
        "environment": verdict.environment,
        "actor": verdict.actor,
        "policy": {"name": verdict.policy_name, "sha256": verdict.policy_sha256},
        "deciding_action": verdict.deciding_index,
        "actions": [action_verdict_data(a) for a in verdict.actions],
    }
