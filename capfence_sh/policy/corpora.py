"""Corpora of commands with the outcome a policy should give them, one JSON object a line:
`{"command": ..., "expect": "blocked" | "allowed", "category": ..., "why": ...}` (category and why optional).

capfence ships two, built for its `default` pack: `bypass` (dangerous actions in the spellings used to slip past a
gate: every line must be blocked) and `everyday` (what coding agents run all day: every line must be allowed).
`capfence policy test` runs them, and any of the user's own, against a policy. Commands are decided in the
examples' fixed situation (capfence_sh/policy/examples.py), never run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from capfence_sh.errors import CapfenceError

BUNDLED = ("bypass", "everyday")


class CorpusError(CapfenceError):
    pass


@dataclass(frozen=True, slots=True)
class CorpusCase:
    source: str  # the corpus file
    line: int
    command: str
    expect: str  # "blocked" | "allowed"
    category: str = ""
    why: str = ""


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: CorpusCase
    decision: str
    rule: str
    reason: str

    @property
    def ok(self) -> bool:
        return (self.decision != "allow") == (self.case.expect == "blocked")


def corpora_dir() -> str:
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = os.path.join(package, "corpora")  # inside the wheel
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(package), "tests", "corpus")  # a source checkout


def resolve_corpus(name_or_path: str) -> str:
    """A bundled corpus name (`bypass`, `everyday`) or a path to a JSON Lines file."""
    if name_or_path in BUNDLED:
        path = os.path.join(corpora_dir(), f"{name_or_path}.jsonl")
        if not os.path.isfile(path):
            raise CorpusError(f"the bundled {name_or_path} corpus is missing from this installation ({path})")
        return path
    if not os.path.isfile(name_or_path):
        raise CorpusError(f"no corpus {name_or_path!r}: give {' or '.join(BUNDLED)}, or a .jsonl file")
    return name_or_path


def read_corpus(path: str) -> list[CorpusCase]:
    cases = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                cases.append(_case(path, number, line))
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CorpusError(f"{path} is not UTF-8 text") from None
    return cases


def _case(path: str, number: int, line: str) -> CorpusCase:
    where = f"{path}:{number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("command"), str):
        raise CorpusError(f"{where}: each line needs a \"command\" string")
    if data.get("expect") not in ("blocked", "allowed"):
        raise CorpusError(f"{where}: \"expect\" must be \"blocked\" or \"allowed\"")
    return CorpusCase(path, number, data["command"], data["expect"], str(data.get("category", "")),
                      str(data.get("why", "")))


def run_corpus(engine, cases: list[CorpusCase], ctx) -> list[CaseResult]:
    results = []
    for case in cases:
        verdict = engine.decide_script(case.command, ctx)
        results.append(CaseResult(case, verdict.decision.value, verdict.rule, verdict.reason))
    return results
