"""The history filter typed after `/`: `decision:deny actor:claude* rule:remote-code program:curl since:1h some text`.

`key:value` terms narrow by field (globs as in `capfence audit show`); every other word must appear in the record's
command, reason, rule, actor or working directory (case-insensitive). A word whose `key:` is not a filter key
(`http://host`) is text, so a URL can be searched for without quoting.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from capfence_sh.audit_read import parse_since, record_programs

KEYS = ("decision", "actor", "rule", "program", "since", "until", "kind")
# The events an approval record can carry (gate.record_approval), searchable with `decision:`.
APPROVAL_EVENTS = ("requested", "approved", "rejected", "rejected-seen", "expired", "consumed")


class QueryError(ValueError):
    """A filter the reviewer typed cannot be read; the message says which term and why."""


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    text: str = ""
    decision: str | None = None  # a decision value (allow, deny, require_approval) or an approval event
    actor: str | None = None
    rule: str | None = None
    program: str | None = None
    since: str | None = None  # timestamps in the log's own format: comparing strings compares times
    until: str | None = None
    kind: str | None = None  # decision | approval
    words: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.decision or self.actor or self.rule or self.program or self.since or self.until
                    or self.kind or self.words)

    @property
    def needs_record(self) -> bool:
        """Whether matching needs the parsed record (a kind-only filter is answered from the index)."""
        return not (self.empty or (self.kind and not (self.decision or self.actor or self.rule or self.program
                                                     or self.since or self.until or self.words)))

    def matches_kind(self, kind: str) -> bool:
        return self.kind is None or self.kind == kind

    def matches(self, record: dict[str, Any]) -> bool:
        kind = str(record.get("kind"))
        if not self.matches_kind(kind):
            return False
        if self.decision is not None:
            value = record.get("decision") if kind == "decision" else record.get("event")
            if value != self.decision:
                return False
        ts = str(record.get("ts", ""))
        if self.since and ts < self.since:
            return False
        if self.until and ts > self.until:
            return False
        if self.actor and not fnmatchcase(str(record.get("actor", "")), self.actor):
            return False
        if self.rule and not fnmatchcase(str(record.get("rule", "")), self.rule):
            return False
        if self.program and not any(fnmatchcase(p, self.program) for p in record_programs(record)):
            return False
        if self.words:
            haystack = "\0".join(str(record.get(k, "")) for k in ("command", "reason", "rule", "actor", "cwd",
                                                                  "by", "note")).lower()
            if not all(word in haystack for word in self.words):
                return False
        return True


def parse_query(text: str, now: float | None = None) -> HistoryQuery:
    try:
        terms = shlex.split(text)
    except ValueError:  # an unbalanced quote: read the words as typed
        terms = text.split()
    fields: dict[str, Any] = {}
    words: list[str] = []
    for term in terms:
        key, sep, value = term.partition(":")
        key = key.lower()
        if not sep or key not in KEYS:
            words.append(term.lower())
            continue
        if not value:
            raise QueryError(f"`{term}`: give a value after `{key}:`")
        if key == "decision":
            fields[key] = _decision(value)
        elif key in ("since", "until"):
            try:
                fields[key] = parse_since(value, now)
            except ValueError:
                raise QueryError(f"`{term}`: give a duration such as 30m, 1h, 2d, or an ISO date/time") from None
        elif key == "kind":
            if value not in ("decision", "approval"):
                raise QueryError(f"`{term}`: kind is decision or approval")
            fields[key] = value
        else:
            fields[key] = value
    return HistoryQuery(text=text.strip(), words=tuple(words), **fields)


def _decision(value: str) -> str:
    from capfence_sh.decision import Decision

    lowered = value.lower()
    if lowered in APPROVAL_EVENTS:
        return lowered
    try:
        return Decision.parse(lowered).value
    except ValueError:
        raise QueryError(f"`decision:{value}`: expected allow, deny, approval, or an approval event "
                         f"({', '.join(APPROVAL_EVENTS)})") from None
