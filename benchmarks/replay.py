"""Replay throughput: commands per second through `capfence replay --json`'s whole pipeline (read, parse JSON,
decide, render), in process; medians over repeats.

    python benchmarks/replay.py [--commands N] [--distinct D] [--repeats R] [--json PATH]

Two generated logs of N commands (JSON Lines, in a fresh temporary directory):
  realistic  D distinct everyday commands (git, tests, builds, reads, edits; a few in several working
             directories) drawn with a Zipf-like distribution (weight 1/rank), as agents repeat themselves;
  distinct   N commands that are all different: every one is parsed and decided.
Each repeat starts with fresh policy engines (nothing is cached between repeats). Output goes to a null sink.
Prints a table and writes benchmarks/results/replay.json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from capfence_sh.policy import load_policy, resolve_pack  # noqa: E402
from capfence_sh.replay.engine import PolicyReplayer, ReplayTotals, replay_events, situation_from_environment  # noqa: E402
from capfence_sh.replay.inputs import OpenInput, open_inputs  # noqa: E402
from capfence_sh.replay.render import JsonRenderer, PolicyLabel, ReplayHeader  # noqa: E402

TARGET = 20_000  # commands per second with realistic repetition

_TEMPLATES = (
    "git status", "git diff", "git diff --stat", "git add -A", "git log --oneline -{n}", "git commit -m 'wip {n}'",
    "git checkout -b feature/task-{n}", "git push -u origin feature/task-{n}", "git pull --rebase",
    "ls -la", "ls src/module_{n}", "cat src/module_{n}.py", "head -n 50 src/module_{n}.py",
    "sed -n '1,{n}0p' src/app.py", "rg -n 'def handler_{n}' src/", "grep -rn TODO src/ | head -{n}",
    "pytest -q tests/test_module_{n}.py", "python -m pytest -x -k case_{n}", "npm test -- --grep 'suite {n}'",
    "npm run build", "make build && make test", "cargo test -p crate_{n}", "go test ./pkg/{n}/...",
    "mkdir -p build/out_{n}", "rm -rf build/out_{n}", "cp src/a_{n}.py /tmp/a_{n}.py", "wc -l src/*.py",
    "find . -name '*_{n}.py' -not -path './.venv/*'", "python scripts/gen_{n}.py --check", "ruff check src/",
    "cat > notes_{n}.md <<'EOF'\n# Notes {n}\nnext: run the tests\nEOF",
)
_CWDS = ("/home/dev/project", "/home/dev/project", "/home/dev/project", "/home/dev/project/web")


def everyday_commands(count: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    found: dict[tuple[str, str], None] = {}
    while len(found) < count:
        template = rng.choice(_TEMPLATES)
        found[(template.format(n=rng.randrange(1, 40)), rng.choice(_CWDS))] = None
    return list(found)


def write_log(path: Path, commands: list[tuple[str, str]], total: int, *, zipf: bool, seed: int = 11) -> None:
    rng = random.Random(seed)
    if zipf:
        weights = [1.0 / (rank + 1) for rank in range(len(commands))]
        picks = rng.choices(commands, weights=weights, k=total)
    else:
        picks = commands
    with open(path, "w", encoding="utf-8") as handle:
        for command, cwd in picks:
            handle.write(json.dumps({"command": command, "cwd": cwd, "actor": "claude-code"}) + "\n")


def replay_once(path: Path, policy) -> tuple[float, int, int]:
    situation = situation_from_environment(home="/home/dev", workspace=None, environment=None, actor=None)
    primary = PolicyReplayer(policy, situation)
    totals = ReplayTotals()
    label = PolicyLabel(policy.name, "benchmark", "")
    sink = io.StringIO()
    renderer = JsonRenderer(ReplayHeader(label), sink, None)
    start = time.perf_counter()
    for item in open_inputs([str(path)]):
        assert isinstance(item, OpenInput), item
        for row in replay_events(item.events, primary, None, totals):
            renderer.row(row)
        sink.seek(0)
        sink.truncate()
    elapsed = time.perf_counter() - start
    return elapsed, totals.commands, primary.distinct


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "replay.json"))
    args = parser.parse_args()
    policy = load_policy(resolve_pack("default"))
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        realistic = Path(directory) / "realistic.jsonl"
        write_log(realistic, everyday_commands(args.distinct), args.commands, zipf=True)
        distinct = Path(directory) / "distinct.jsonl"
        write_log(distinct, _many_distinct(args.commands), args.commands, zipf=False)
        for name, path in (("realistic", realistic), ("distinct", distinct)):
            runs = [replay_once(path, policy) for _ in range(args.repeats)]
            seconds = statistics.median(r[0] for r in runs)
            commands, decided = runs[0][1], runs[0][2]
            results[name] = {"commands": commands, "distinct_decided": decided, "repeats": args.repeats,
                             "median_seconds": round(seconds, 4),
                             "commands_per_second": round(commands / seconds),
                             "all_seconds": [round(r[0], 4) for r in runs]}
    report = {"benchmark": "replay", "policy": "default", "target_commands_per_second": TARGET,
              "python": platform.python_version(), "machine": platform.machine(), "results": results}
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(f"{'log':<10} {'commands':>9} {'decided':>8} {'median s':>9} {'commands/s':>11}")
    for name, row in results.items():
        print(f"{name:<10} {row['commands']:>9,} {row['distinct_decided']:>8,} {row['median_seconds']:>9.3f} "
              f"{row['commands_per_second']:>11,}")
    realistic_rate = results["realistic"]["commands_per_second"]
    print(f"target with realistic repetition: {TARGET:,} commands/s -> "
          f"{'met' if realistic_rate >= TARGET else 'NOT met'} ({realistic_rate / TARGET:.1f}x)")
    print(f"wrote {args.json}")
    return 0


def _many_distinct(count: int) -> list[tuple[str, str]]:
    """All-distinct commands beyond what the templates give: each template with a unique number."""
    numbered = [t for t in _TEMPLATES if "{n}" in t]
    out = []
    for k in range(count):
        template = numbered[k % len(numbered)]
        out.append((template.replace("{n}", str(k)), _CWDS[k % len(_CWDS)]))
    return out


if __name__ == "__main__":
    sys.exit(main())
