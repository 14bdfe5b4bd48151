"""In-process decision latency: parse + normalise + decide, against `bashlex.parse` alone on the same text.

    python benchmarks/decision.py [--repeats N] [--json benchmarks/results/decision.json]

Three commands (a typical 60-character one, a 2 KB script, a 100 KB script), each decided under a generated
20-rule policy, a generated 2,000-rule policy (rules on programs, subcommands, paths and capabilities, as users
write them) and the bundled `default` pack. Every timing is the median of N runs with the engine's memo bypassed
(`decide_analysis(analyse_script(...))`), except the `memoised` row: the same command decided again through
`decide_script`, as the gate does for a repeated command. Prints a table and writes a JSON result.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from capfence_sh.engine import Engine  # noqa: E402
from capfence_sh.parse import analyse_script  # noqa: E402
from capfence_sh.parse.bashlex_loader import load_bashlex  # noqa: E402
from capfence_sh.parse.context import Context  # noqa: E402
from capfence_sh.policy import load_policy, resolve_pack  # noqa: E402

HOME = "/home/dev"
WORKSPACE = "/home/dev/project"
TYPICAL = "git commit -am 'fix the parser edge case' && pytest -q tests/unit"  # 60 characters

_SCRIPT_LINES = (
    "set -euo pipefail",
    "for f in src/*.py; do python -m py_compile \"$f\"; done",
    "if [ -d build ]; then rm -rf build/tmp; fi",
    "git status --short | grep -v '^??' || true",
    "mkdir -p dist && cp -r src dist/ && tar czf dist.tgz dist",
    "npm ci && npm run build -- --mode production",
    "if [ \"$TARGET\" = release ]; then make release; else make test; fi",  # no `case`: bashlex cannot parse it
    "curl -fsSL https://example.com/data.json -o data/input.json",
    "echo \"built $(date +%s)\" >> build.log",
    "find . -name '*.pyc' -not -path './.venv/*' | xargs rm -f",
)


def script_of(size: int) -> str:
    lines, total, k = [], 0, 0
    while total < size:
        line = _SCRIPT_LINES[k % len(_SCRIPT_LINES)]
        lines.append(line)
        total += len(line) + 1
        k += 1
    return "\n".join(lines) + "\n"


def generated_policy(rules: int) -> str:
    """`rules` rules in the shapes users write; none of them about the benchmark's programs except by path."""
    out = ["name: generated", "default: allow", "rules:"]
    for i in range(rules):
        shape = i % 4
        if shape == 0:
            out.append(f"  - {{id: tool-{i}, decision: deny, reason: r, program: tool{i}}}")
        elif shape == 1:
            out.append(f"  - {{id: sub-{i}, decision: require_approval, reason: r, subcommand: 'svc{i} deploy'}}")
        elif shape == 2:
            out.append(f"  - {{id: path-{i}, decision: deny, reason: r, paths: ['/srv/data{i}/**'], "
                       f"access: [delete, write]}}")
        else:
            out.append(f"  - {{id: cap-{i}, decision: require_approval, reason: r, capability: 'custom.op{i}'}}")
    return "\n".join(out) + "\n"


def context() -> Context:
    return Context(cwd=WORKSPACE, home=HOME, workspace=WORKSPACE, user="dev", environment="development",
                   actor="agent", env={"HOME": HOME, "PATH": "/usr/bin:/bin", "TARGET": "release"},
                   env_complete=True, capfence_paths=(f"{HOME}/.local/state/capfence", f"{HOME}/.config/capfence"))


def median_us(fn, repeats: int) -> float:
    fn()  # warm: compiles patterns, fills lru caches as a running gate would have
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "decision.json"))
    args = parser.parse_args()
    bashlex = load_bashlex()
    ctx = context()
    commands = {"typical 60 chars": TYPICAL, "2 KB script": script_of(2048), "100 KB script": script_of(100 * 1024)}
    with tempfile.TemporaryDirectory(prefix="capfence-bench-") as scratch:
        policies = {}
        for rules in (20, 2000):
            path = Path(scratch) / f"p{rules}.yaml"
            path.write_text(generated_policy(rules))
            policies[f"{rules} rules"] = load_policy(str(path))
        policies["default pack"] = load_policy(resolve_pack("default"))
    rows = []
    for label, text in commands.items():
        repeats = max(5, args.repeats // (1 if len(text) < 4096 else 40))
        floor = median_us(lambda text=text: bashlex.parse(text), repeats)
        row = {"command": label, "chars": len(text), "bashlex_parse_us": round(floor, 1)}
        for name, policy in policies.items():
            engine = Engine(policy)
            cost = median_us(lambda text=text, engine=engine: engine.decide_analysis(analyse_script(text, ctx), ctx),
                             repeats)
            row[f"{name}_us"] = round(cost, 1)
            row[f"{name}_x_parse"] = round(cost / floor, 2)
        engine = Engine(policies["default pack"])
        engine.decide_script(text, ctx)
        row["memoised_us"] = round(median_us(lambda text=text, engine=engine: engine.decide_script(text, ctx),
                                             repeats), 2)
        rows.append(row)
    print(f"{'command':<18} {'parse us':>10} {'20 rules':>16} {'2000 rules':>16} {'default':>16} {'memoised':>9}")
    for row in rows:
        cells = [f"{row[f'{n}_us']:>8.0f} ({row[f'{n}_x_parse']:.2f}x)" for n in ("20 rules", "2000 rules",
                                                                               "default pack")]
        print(f"{row['command']:<18} {row['bashlex_parse_us']:>10.0f} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16} "
              f"{row['memoised_us']:>8.1f}")
    growth = [row["2000 rules_us"] / row["20 rules_us"] for row in rows]
    print(f"\n2,000 rules vs 20 rules: {', '.join(f'{g:.2f}x' for g in growth)} (target <= 1.5x)")
    report = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
              "load_average": os.getloadavg(), "repeats": args.repeats, "rows": rows,
              "policy_growth_2000_vs_20": [round(g, 3) for g in growth]}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
