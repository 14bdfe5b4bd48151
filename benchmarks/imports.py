"""What the hot path imports: `python -X importtime` of `capfence exec -- true`, run the way install.sh's launcher
runs it (`python -I -S`, capfence's import paths first), under a scratch HOME.

    python benchmarks/imports.py [--json benchmarks/results/imports.json]

Two paths: through a running decision service (the usual case: the client only asks and spawns), and in process
(the first command after the service went idle, or CAPFENCE_SERVICE=off). For each: every module imported beyond
the bare interpreter's own start-up, with its own and cumulative import time, and the total. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from capfence_sh.shims import import_paths  # noqa: E402


def importtime(code: str, env: dict, cwd: str) -> list[tuple[str, int, int, int]]:
    """(module, self us, cumulative us, nesting depth) for each import, in the order they finished."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-I", "-S", "-c", code], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line[len("import time:"):].split("|")
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append((name.strip(), int(own), int(cumulative), depth))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "imports.json"))
    args = parser.parse_args()
    prelude = f"import sys; sys.path[:0] = {import_paths()!r}\nfrom capfence_sh.fast import main\n"
    with tempfile.TemporaryDirectory(prefix="capfence-bench-") as scratch:
        home = Path(scratch) / "home"
        workspace = home / "project"
        (workspace / ".git").mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPFENCE_", "XDG_"))}
        env.update(HOME=str(home), CAPFENCE_ACTOR="bench", CAPFENCE_SERVICE_IDLE="60")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        baseline = {name for name, *_ in importtime("pass", env, str(workspace))}
        run = prelude + "main(['exec', '--', 'true'])"
        served = dict(env, CAPFENCE_SERVICE="auto")
        importtime(run, served, str(workspace))  # starts the service
        from capfence_sh import service_client

        deadline = time.monotonic() + 10
        while service_client.status(served) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        report = {}
        try:
            for label, case_env in (("decision service", served), ("in process", dict(env, CAPFENCE_SERVICE="off"))):
                importtime(run, case_env, str(workspace))  # bytecode written, caches warm
                rows = [r for r in importtime(run, case_env, str(workspace)) if r[0] not in baseline]
                top = [r for r in rows if r[3] == min(row[3] for row in rows)] if rows else []
                total = sum(r[2] for r in top)
                report[label] = {"modules": len(rows), "total_us": total,
                                 "imports": [{"module": n, "self_us": s, "cumulative_us": c, "depth": d}
                                             for n, s, c, d in rows]}
                print(f"{label}: {len(rows)} modules beyond the bare interpreter, {total / 1000:.1f} ms")
                if label == "decision service":
                    for name, own, cumulative, depth in rows:
                        print(f"  {'  ' * depth}{name:<40} {own:>6} us  (cumulative {cumulative} us)")
                else:
                    largest: dict[str, int] = {}
                    for name, _, cumulative, depth in rows:
                        if name.startswith("capfence_sh") or depth == 0:
                            largest[name] = max(largest.get(name, 0), cumulative)
                    heaviest = sorted(((n, 0, c, 0) for n, c in largest.items()), key=lambda r: -r[2])[:12]
                    for name, own, cumulative, _ in heaviest:
                        print(f"  {name:<42} cumulative {cumulative:>6} us")
        finally:
            service_client.stop(served)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
